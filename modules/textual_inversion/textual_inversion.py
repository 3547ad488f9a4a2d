"""A1111's ``modules.textual_inversion.textual_inversion``: the names extensions import.

Training embeddings (``train_embedding``) is not part of this web UI.
"""
from __future__ import annotations

from modules.prompting.textual_inversion.creation import create_embedding  # noqa: F401  (A1111 name)
from modules.prompting.textual_inversion.database import (  # noqa: F401  (A1111 names)
    DirWithTextualInversionEmbeddings,
    EmbeddingDatabase,
)
from modules.models.textual_inversion_embedding import Embedding, create_embedding_from_data  # noqa: F401
