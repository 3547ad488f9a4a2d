"""Hypertile: self-attention of the U-Net (and optionally the VAE) computed on tiles of the picture.

The idea is tfernd's HyperTile (https://github.com/tfernd/HyperTile), as A1111's built-in
extension applies it: the tokens entering chosen self-attention layers are regrouped into
``nh x nw`` tiles that attend only within themselves, which is cheaper on large pictures.

Unlike A1111 (which replaces ``module.forward`` for good), the layers are changed through
PyTorch forward hooks on one model instance: :func:`hypertile_hook_model` installs them for a
job and :func:`hypertile_unhook_model` removes them, after which the model is exactly as before.
Nothing here touches a class or another model.
"""
from __future__ import annotations

import math
import random
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is only needed once a model exists; the API start path stays light
    import torch
    from torch import nn

_SD_BLOCKS = {
    0: ("input_blocks.1.1", "input_blocks.2.1", "output_blocks.9.1", "output_blocks.10.1", "output_blocks.11.1"),
    1: ("input_blocks.4.1", "input_blocks.5.1", "output_blocks.6.1", "output_blocks.7.1", "output_blocks.8.1"),
    2: ("input_blocks.7.1", "input_blocks.8.1", "output_blocks.3.1", "output_blocks.4.1", "output_blocks.5.1"),
    3: ("middle_block.1",),
}
_XL_LEVEL1 = ("input_blocks.4.1", "input_blocks.5.1", "output_blocks.3.1", "output_blocks.4.1", "output_blocks.5.1")
_XL_LEVEL2 = ("input_blocks.7.1", "input_blocks.8.1", "output_blocks.0.1", "output_blocks.1.1", "output_blocks.2.1")
VAE_LAYER = "decoder.mid.attn_1"
"""The VAE's only self-attention; A1111 counts it at depth 0 for both families."""


def _attn1(block: str, index: int = 0) -> str:
    return f"{block}.transformer_blocks.{index}.attn1"


DEPTH_LAYERS: dict[int, tuple[str, ...]] = {
    depth: tuple(_attn1(b) for b in blocks) + ((VAE_LAYER,) if depth == 0 else ())
    for depth, blocks in _SD_BLOCKS.items()
}
"""SD1/SD2: depth -> suffixes of the layer names tiled at that depth (A1111's table, LDM names)."""

DEPTH_LAYERS_XL: dict[int, tuple[str, ...]] = {
    0: tuple(_attn1(b) for b in _XL_LEVEL1) + (VAE_LAYER,),
    1: tuple(_attn1(b, 1) for b in _XL_LEVEL1) + tuple(_attn1(b, i) for i in range(10) for b in _XL_LEVEL2),
    2: tuple(_attn1("middle_block.1", i) for i in range(10)),
    3: (),
}
"""SDXL: A1111's table (its deepest level holds the mid block; depth 3 is empty)."""


# --- the numbers: tile counts and grid shapes, as A1111 computes them ------------------------------------------

def random_divisor(value: int, min_value: int, max_options: int, rng: random.Random) -> int:
    """A tile count ``n`` for a side of ``value``: ``value // d`` for one of the ``max_options`` smallest divisors
    ``d >= min_value`` of ``value`` (the tile side), drawn from ``rng``; one option makes it deterministic."""
    min_value = min(min_value, value)
    divisors = [i for i in range(min_value, value + 1) if value % i == 0]
    # A1111 crashes on a swap size of 0 (no options); one option is what such a setting can only mean
    counts = [value // d for d in divisors[:max(1, max_options)]]
    return counts[rng.randint(0, len(counts) - 1)]


@lru_cache(maxsize=None)
def largest_tile_size_available(width: int, height: int) -> int:
    """The largest power of two dividing both sides of the picture."""
    gcd = math.gcd(width, height)
    if gcd == 0:
        return 1  # a 0x0 picture: every power of two divides 0, and A1111's loop never ends
    size = 1
    while gcd % (size * 2) == 0:
        size *= 2
    return size


def iterative_closest_divisors(hw: int, aspect_ratio: float) -> tuple[int, int]:
    """Of all factor pairs ``(h, w)`` of ``hw`` (``h >= 2``), the one whose ``w / h`` is closest to ``aspect_ratio``."""
    pairs = [(i, hw // i) for i in range(2, hw + 1) if hw % i == 0]
    ratios = [w / h for h, w in pairs]
    closest = min(ratios, key=lambda r: abs(r - aspect_ratio))
    return pairs[ratios.index(closest)]


@lru_cache(maxsize=None)
def find_hw_candidates(hw: int, aspect_ratio: float) -> tuple[int, int]:
    """The token grid ``(h, w)`` with ``h * w == hw`` that A1111 assumes for a picture of ``aspect_ratio``
    (width / height).

    A1111 takes ``h = sqrt(hw * aspect_ratio)``, so for a wide picture its ``h`` is the
    longer side: tiles are then bands of rows rather than squares.  Kept as it is, so
    that pictures match A1111's.
    """
    h, w = round(math.sqrt(hw * aspect_ratio)), round(math.sqrt(hw / aspect_ratio))
    # a very narrow picture (or one whose odd sides rounded down through the U-Net) can round a side to 0, where
    # A1111 divides by it and fails; 1 token is the smallest side there is
    h, w = max(h, 1), max(w, 1)
    if h * w != hw:
        w_candidate = hw / h
        if w_candidate.is_integer():
            w = int(w_candidate)
        else:
            h_candidate = hw / w
            if not h_candidate.is_integer():
                return iterative_closest_divisors(hw, aspect_ratio)
            h = int(h_candidate)
    return h, w


# --- the rearrangements (pure data movement: exactly invertible) ------------------------------------------------

def split_tokens(x: torch.Tensor, h: int, w: int, nh: int, nw: int) -> torch.Tensor:
    """``(b, h*w, c)`` tokens of an ``h x w`` grid -> ``(b*nh*nw, (h/nh)*(w/nw), c)``, one row per tile."""
    b, _, c = x.shape
    th, tw = h // nh, w // nw
    return x.reshape(b, nh, th, nw, tw, c).permute(0, 1, 3, 2, 4, 5).reshape(b * nh * nw, th * tw, c)


def merge_tokens(x: torch.Tensor, h: int, w: int, nh: int, nw: int) -> torch.Tensor:
    """The inverse of :func:`split_tokens`."""
    c = x.shape[-1]
    b = x.shape[0] // (nh * nw)
    th, tw = h // nh, w // nw
    return x.reshape(b, nh, nw, th, tw, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h * w, c)


def split_image(x: torch.Tensor, nh: int, nw: int) -> torch.Tensor:
    """``(b, c, H, W)`` -> ``(b*nh*nw, c, H/nh, W/nw)``, the tiles of each picture one after another."""
    b, c, h, w = x.shape
    th, tw = h // nh, w // nw
    return x.reshape(b, c, nh, th, nw, tw).permute(0, 2, 4, 1, 3, 5).reshape(b * nh * nw, c, th, tw)


def merge_image(x: torch.Tensor, nh: int, nw: int) -> torch.Tensor:
    """The inverse of :func:`split_image`."""
    bt, c, th, tw = x.shape
    b = bt // (nh * nw)
    return x.reshape(b, nh, nw, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(b, c, nh * th, nw * tw)


# --- hooks on one layer -----------------------------------------------------------------------------------------

@dataclass
class HypertileParams:
    """How one layer is tiled during the current job."""

    depth: int
    layer_name: str
    tile_size: int
    swap_size: int
    aspect_ratio: float
    rng: random.Random
    splits: list = field(default_factory=list)
    """Tile counts of the calls in flight, so the output hook undoes what the input hook did."""


class _LayerTiler:
    """The input and output hooks of one self-attention layer."""

    def __init__(self, params: HypertileParams) -> None:
        self.params = params

    def before(self, module: nn.Module, args: tuple) -> tuple | None:
        params = self.params
        x = args[0]
        latent_tile_size = max(128, params.tile_size) // 8
        if x.ndim == 4:  # the VAE's attention block: (b, c, h, w)
            nh = random_divisor(x.shape[2], latent_tile_size, params.swap_size, params.rng)
            nw = random_divisor(x.shape[3], latent_tile_size, params.swap_size, params.rng)
            params.splits.append((nh, nw, None))
            return (split_image(x, nh, nw), *args[1:]) if nh * nw > 1 else None
        hw = x.shape[1]
        h, w = find_hw_candidates(hw, params.aspect_ratio)
        # deeper layers see smaller grids but A1111 asks them for proportionally larger tiles
        factor = 2 ** params.depth
        nh = random_divisor(h, latent_tile_size * factor, params.swap_size, params.rng)
        nw = random_divisor(w, latent_tile_size * factor, params.swap_size, params.rng)
        params.splits.append((nh, nw, (h, w)))
        return (split_tokens(x, h, w, nh, nw), *args[1:]) if nh * nw > 1 else None

    def after(self, module: nn.Module, args: tuple, output: Any) -> Any:
        nh, nw, grid = self.params.splits.pop()
        if nh * nw == 1:
            return None
        if grid is None:
            return merge_image(output, nh, nw)
        return merge_tokens(output, grid[0], grid[1], nh, nw)


@dataclass
class HookedModel:
    """The hooks :func:`hypertile_hook_model` put on one model."""

    handles: list = field(default_factory=list)
    layers: dict[str, HypertileParams] = field(default_factory=dict)
    """Layer name -> its tiling, for the layers currently tiled."""

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.layers.clear()


_hooked: "weakref.WeakKeyDictionary[nn.Module, HookedModel]" = weakref.WeakKeyDictionary()


def hooked_layers(model: nn.Module) -> dict[str, HypertileParams]:
    """The layers of ``model`` that are tiled now (name -> parameters); empty when none."""
    entry = _hooked.get(model)
    return dict(entry.layers) if entry is not None else {}


def hypertile_unhook_model(model: nn.Module) -> None:
    """Remove every Hypertile hook from ``model`` (nothing happens when it has none)."""
    entry = _hooked.pop(model, None)
    if entry is not None:
        entry.remove()


def hypertile_hook_model(model: nn.Module, width: int, height: int, *, enable: bool = False, tile_size_max: int = 128,
                         swap_size: int = 1, max_depth: int = 3, is_sdxl: bool = False,
                         rng: random.Random | None = None) -> int:
    """Tile the self-attention layers of ``model`` up to ``max_depth`` for a ``width x height`` picture.

    Hooks left from an earlier call are removed first, so with ``enable`` false the
    model ends up untouched.  ``rng`` draws the tile counts (A1111 seeds it with the
    job's first seed); pass the same object for the U-Net and the VAE, as A1111 shares
    one.  Returns how many layers are tiled.
    """
    hypertile_unhook_model(model)
    if not enable:
        return 0
    layers = DEPTH_LAYERS_XL if is_sdxl else DEPTH_LAYERS
    tile_size = min(largest_tile_size_available(width, height), tile_size_max)
    entry = HookedModel()
    rng = rng if rng is not None else random.Random()
    for depth in range(min(max_depth, 3) + 1):
        suffixes = layers[depth]
        if not suffixes:
            continue
        for name, module in model.named_modules():
            if name in entry.layers or not any(name.endswith(s) for s in suffixes):
                continue
            params = HypertileParams(depth=depth, layer_name=name, tile_size=tile_size, swap_size=swap_size,
                                     aspect_ratio=width / height, rng=rng)
            tiler = _LayerTiler(params)
            entry.handles.append(module.register_forward_pre_hook(tiler.before))
            entry.handles.append(module.register_forward_hook(tiler.after))
            entry.layers[name] = params
    if entry.layers:
        _hooked[model] = entry
    return len(entry.layers)
