"""A1111's ``modules.textual_inversion.image_embedding``: embeddings stored in pictures (text chunk and pixels)."""
from modules.prompting.textual_inversion.image_data import (  # noqa: F401  (A1111 names)
    crop_black,
    embedding_from_b64,
    extract_image_data_embed,
    lcg,
    xor_block,
)
from modules.training.embedding_image import (  # noqa: F401  (A1111 names)
    caption_image_overlay,
    embedding_to_b64,
    insert_image_data_embed,
)
