"""A1111's ``modules.textual_inversion.textual_inversion``: the names extensions import.

``train_embedding`` is :func:`modules.training.textual_inversion.train_embedding` (run it inside a job
of the queue: it reads the job's interrupt flag and reports progress).
"""
from __future__ import annotations

from modules.prompting.textual_inversion.creation import create_embedding  # noqa: F401  (A1111 name)
from modules.prompting.textual_inversion.database import (  # noqa: F401  (A1111 names)
    DirWithTextualInversionEmbeddings,
    EmbeddingDatabase,
)
from modules.models.textual_inversion_embedding import Embedding, create_embedding_from_data  # noqa: F401
from modules.training.learn_rate import LearnRateScheduler  # noqa: F401  (A1111 name)
from modules.training.textual_inversion import train_embedding  # noqa: F401  (A1111 name)
from modules.training.validation import validate_train_inputs  # noqa: F401  (A1111 name)
