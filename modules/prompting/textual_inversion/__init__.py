"""Textual-inversion embeddings: reading the files, and looking names up in tokenized prompts.

- :mod:`.file_loading`: one file -> its raw data (``.pt``/``.bin`` only through
  ``torch.load(weights_only=True)``, ``.safetensors``, PNG/WEBP images).
- :mod:`.image_data`: A1111's two ways of storing an embedding in an image.
- :mod:`.embedding`: the :class:`~.embedding.Embedding` object and the data layouts.
- :mod:`.database`: the folder scan, shape filtering and the token-id lookup.
"""
