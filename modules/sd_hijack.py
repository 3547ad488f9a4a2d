"""A1111's ``modules.sd_hijack``: ``model_hijack``, the text-conditioning state processing and extensions read.

The code lives in :mod:`modules.prompting.model_hijack`; this module keeps A1111's names.
"""
from modules.prompting.model_hijack import StableDiffusionModelHijack, model_hijack  # noqa: F401  (A1111 names)
