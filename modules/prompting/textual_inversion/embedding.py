"""The :class:`Embedding` object, kept at this import path: it lives in :mod:`modules.models.textual_inversion_embedding`
(LoRA files bundle embeddings too, and networks sit beside prompting)."""
from modules.models.textual_inversion_embedding import (  # noqa: F401
    HASH_TITLE_PREFIX,
    Embedding,
    Hasher,
    create_embedding_from_data,
    plain_sha256,
)
