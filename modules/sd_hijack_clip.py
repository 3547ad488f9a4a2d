"""A1111's ``modules.sd_hijack_clip`` names (the code lives in :mod:`modules.prompting`).

A1111's ``FrozenCLIPEmbedderWithCustomWords`` classes wrapped the text
encoders; here one strategy class, :class:`~modules.prompting.prompt_encoder.PromptEncoder`,
plays every one of those roles, so the old names are aliases of it (for
``isinstance`` checks and for reading ``PromptChunk`` / ``PromptChunkFix``).
"""
from modules.prompting.chunking import PromptChunk, PromptChunkFix  # noqa: F401  (A1111 names)
from modules.prompting.prompt_encoder import PromptEncoder

TextConditionalModel = PromptEncoder
FrozenCLIPEmbedderWithCustomWordsBase = PromptEncoder
FrozenCLIPEmbedderWithCustomWords = PromptEncoder
FrozenCLIPEmbedderForSDXLWithCustomWords = PromptEncoder
