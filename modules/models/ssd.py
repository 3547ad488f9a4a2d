"""Segmind Stable Diffusion (SSD-1B): an SDXL UNet with transformer blocks pruned away.

A1111 loads SSD-1B with the SDXL base YAML and, when the checkpoint lacks the
middle block's attention (``is_ssd``), deletes from the freshly built SDXL UNet
what the distilled model dropped (``convert_sdxl_to_ssd``): the middle block's
transformer and second ResBlock, transformer blocks 4-9 of input blocks 7, 8
and output blocks 0, 1, and block 1 of output blocks 4, 5.

Here the same cut is derived from the checkpoint's keys instead of a fixed
index list: every trailing transformer block or middle-block module the file
does not have is removed.  On the released SSD-1B layout this is exactly
A1111's list (tested on meta tensors); it also fits the tiny test checkpoints,
whose UNet has fewer levels.
"""
from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from modules.models.checkpoint_io import CheckpointError
from modules.models.detection import SSD_PROBE_KEY
from modules.models.nets.transformer import SpatialTransformer

UNET_PREFIX = "model.diffusion_model."


class SsdLayoutError(CheckpointError):
    """The checkpoint's missing blocks are not a trailing cut that SSD pruning can express."""


def is_ssd_checkpoint(keys: Iterable[str], is_sdxl: bool) -> bool:
    """A1111's rule: an SDXL model whose checkpoint has no middle-block attention."""
    return is_sdxl and SSD_PROBE_KEY not in set(keys)


def _present_children(prefix: str, keys: set[str], count: int) -> list[bool]:
    return [any(k.startswith(f"{prefix}{i}.") for k in keys) for i in range(count)]


def _kept_prefix(present: list[bool], where: str) -> int:
    kept = present.index(False) if False in present else len(present)
    if any(present[kept:]):
        raise SsdLayoutError(f"{where}: the checkpoint lacks block {kept} but has a later one; "
                             "only trailing blocks can be pruned")
    return kept


def prune_unet_to_checkpoint(unet: nn.Module, keys: Iterable[str], prefix: str = UNET_PREFIX) -> dict[str, int]:
    """Drop the trailing transformer blocks and middle-block modules that ``keys`` do not have.

    ``keys`` are the checkpoint's (fixed-up) state-dict keys; ``prefix`` is where
    ``unet``'s own keys start in them.  Returns ``{module path: blocks kept}``
    for every module that was cut.
    """
    keys = {k for k in keys if k.startswith(prefix)}
    cut: dict[str, int] = {}
    for name, module in list(unet.named_modules()):
        if not isinstance(module, SpatialTransformer) or name.startswith("middle_block."):
            continue
        blocks = module.transformer_blocks
        where = f"{prefix}{name}.transformer_blocks."
        kept = _kept_prefix(_present_children(where, keys, len(blocks)), where)
        if kept == 0:
            raise SsdLayoutError(f"{where}: the checkpoint has no transformer block here")
        if kept < len(blocks):
            module.transformer_blocks = nn.ModuleList(list(blocks)[:kept])
            cut[name] = kept
    middle = unet.middle_block
    where = f"{prefix}middle_block."
    kept = _kept_prefix(_present_children(where, keys, len(middle)), where)
    if kept == 0:
        raise SsdLayoutError(f"{where}: the checkpoint has no middle block")
    if kept < len(middle):
        del middle[kept:]
        cut["middle_block"] = kept
    return cut


def apply_ssd_layout(model: nn.Module, keys: Iterable[str]) -> bool:
    """If ``model`` is SDXL and the checkpoint is SSD-1B, prune its UNet to the file and set ``is_ssd``.

    Call after building the model and before assigning the weights (A1111 does the
    same: prune, then ``load_state_dict``).  Returns whether the model is SSD.
    """
    keys = set(keys)
    if not is_ssd_checkpoint(keys, bool(getattr(model, "is_sdxl", False))):
        return False
    prune_unet_to_checkpoint(model.model.diffusion_model, keys)
    model.is_ssd = True
    return True
