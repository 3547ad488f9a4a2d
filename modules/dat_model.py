"""A1111's ``modules.dat_model`` import path."""
from modules.postprocess.model_upscalers import DAT_BUILTIN, UpscalerDAT  # noqa: F401
