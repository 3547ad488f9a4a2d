"""A1111's ``modules.sd_samplers_cfg_denoiser`` (thin re-export of the sampling layer)."""
from __future__ import annotations

from modules.sampling.cfg_denoiser import CFGDenoiser  # noqa: F401
from modules.sampling.cond_ops import catenate_conds, pad_cond, subscript_cond  # noqa: F401
