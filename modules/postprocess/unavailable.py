"""The errors raised when a postprocessing model cannot run here (its file is missing, its package is not
installed): the message says what to do. The HTTP API answers them with 404."""
from __future__ import annotations


class UpscalerUnavailable(RuntimeError):
    """The upscaler's model file is missing or its architecture cannot run here; the message says what to do."""


class FaceRestorationUnavailable(UpscalerUnavailable):
    """The restorer's model is missing or cannot run; the message says what to do."""
