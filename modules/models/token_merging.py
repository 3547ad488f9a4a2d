"""Token merging for Stable Diffusion (ToMe for SD, Bolya & Hoffman 2023), put on one UNet instance by hooks.

Before a transformer block's self-attention, the block's spatial tokens are split into a grid of
destination tokens (one per ``sx`` x ``sy`` cell) and sources; the ``r`` sources most similar (cosine) to
a destination are averaged into it, the attention runs on the fewer tokens, and its output is copied back
to every token that was merged ("unmerge"). Self-attention cost falls with the square of the tokens.

Nothing is patched on a class: :func:`apply_token_merging` registers forward hooks on the instance's
modules (the UNet for the latent size, each :class:`BasicTransformerBlock` for the merge plan, its
``attn1``/``attn2``/``ff`` for merging and unmerging) and :func:`remove_token_merging` removes exactly
those. The defaults are A1111's (``tomesd.apply_patch`` with ``use_rand=False``, attention only, full
resolution only). The arithmetic follows ``tomesd`` 0.1.3, which the tests check it against; two
differences on sizes tomesd cannot handle: a block's level is found by repeating the UNet's own
downsampling (``ceil(side / 2)``) instead of tomesd's square-root estimate, and a grid smaller than one
``sx`` x ``sy`` cell is left unmerged where tomesd fails.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from modules.models.nets.transformer import BasicTransformerBlock

Merge = Callable[[torch.Tensor], torch.Tensor]

_ATTRIBUTE = "_token_merging"
"""The instance attribute of the UNet that holds its :class:`AppliedTokenMerging` while applied."""


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _gather(x: torch.Tensor, dim: int, index: torch.Tensor) -> torch.Tensor:
    # MPS gathers wrongly along a last dimension of size 1 (tomesd's workaround)
    if x.device.type == "mps" and x.shape[-1] == 1:
        return torch.gather(x.unsqueeze(-1), dim - 1 if dim < 0 else dim, index.unsqueeze(-1)).squeeze(-1)
    return torch.gather(x, dim, index)


def _dst_and_src_indices(w: int, h: int, sx: int, sy: int, device: torch.device,
                         generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token indices ``(dst, src)``, each ``[1, n, 1]``: one destination per full ``sx`` x ``sy`` cell
    (its top-left token, or a random one of the cell with a generator), every other token a source."""
    hsy, wsx = h // sy, w // sx
    if generator is None:
        pick = torch.zeros(hsy, wsx, 1, device=device, dtype=torch.int64)
    else:
        pick = torch.randint(sy * sx, size=(hsy, wsx, 1), device=generator.device, generator=generator).to(device)
    cells = torch.zeros(hsy, wsx, sy * sx, device=device, dtype=torch.int64)
    cells.scatter_(dim=2, index=pick, src=-torch.ones_like(pick))
    marks = torch.zeros(h, w, device=device, dtype=torch.int64)
    # rows and columns past the last full cell stay sources
    marks[:hsy * sy, :wsx * sx] = cells.view(hsy, wsx, sy, sx).transpose(1, 2).reshape(hsy * sy, wsx * sx)
    # destinations (-1) first, then sources (0); the unstable sort's order within each group is tomesd's (and
    # A1111's): the merged tokens come out in that order, and attention sums its keys in it
    order = marks.reshape(1, -1, 1).argsort(dim=1)
    num_dst = hsy * wsx
    return order[:, :num_dst], order[:, num_dst:]


def bipartite_soft_matching_2d(metric: torch.Tensor, w: int, h: int, sx: int, sy: int, r: int,
                               generator: torch.Generator | None = None) -> tuple[Merge, Merge]:
    """``(merge, unmerge)`` for tokens ``metric`` ``[B, N, C]`` of a ``w`` x ``h`` grid: ``merge`` averages
    the ``r`` sources most similar to a destination into it (``[B, N - r, C']``), ``unmerge`` gives every
    token back its destination's value. Identity functions when nothing can be merged."""
    batch, tokens, _ = metric.shape
    if r <= 0 or h < sy or w < sx:
        return _identity, _identity
    with torch.no_grad():
        dst_idx, src_idx = _dst_and_src_indices(w, h, sx, sy, metric.device, generator)
        num_dst, num_src = dst_idx.shape[1], src_idx.shape[1]

        def split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            c = x.shape[-1]
            return (_gather(x, 1, src_idx.expand(batch, num_src, c)), _gather(x, 1, dst_idx.expand(batch, num_dst, c)))

        normed = metric / metric.norm(dim=-1, keepdim=True)
        a, b = split(normed)
        r = min(num_src, r)
        best, best_dst = (a @ b.transpose(-1, -2)).max(dim=-1)
        ranked = best.argsort(dim=-1, descending=True)[..., None]
        kept, merged = ranked[..., r:, :], ranked[..., :r, :]
        merged_into = _gather(best_dst[..., None], -2, merged)
        kept_tokens = _gather(src_idx.expand(batch, num_src, 1), 1, kept)
        merged_tokens = _gather(src_idx.expand(batch, num_src, 1), 1, merged)

    def merge(x: torch.Tensor) -> torch.Tensor:
        src, dst = split(x)
        n, _, c = src.shape
        unmerged = _gather(src, -2, kept.expand(n, num_src - r, c))
        moving = _gather(src, -2, merged.expand(n, r, c))
        dst = dst.scatter_reduce(-2, merged_into.expand(n, r, c), moving, reduce="mean")
        return torch.cat([unmerged, dst], dim=1)

    def unmerge(x: torch.Tensor) -> torch.Tensor:
        num_kept = kept.shape[1]
        unmerged, dst = x[..., :num_kept, :], x[..., num_kept:, :]
        c = x.shape[-1]
        out = torch.zeros(batch, tokens, c, device=x.device, dtype=x.dtype)
        out.scatter_(-2, dst_idx.expand(batch, num_dst, c), dst)
        out.scatter_(-2, kept_tokens.expand(batch, num_kept, c), unmerged)
        out.scatter_(-2, merged_tokens.expand(batch, r, c), _gather(dst, -2, merged_into.expand(batch, r, c)))
        return out

    return merge, unmerge


@dataclass(frozen=True)
class TokenMergingOptions:
    """What to merge; the defaults are the ones A1111 passes to ``tomesd.apply_patch``."""

    ratio: float
    """Share of a block's tokens merged away (A1111's ``token_merging_ratio``)."""
    max_downsample: int = 1
    """Merge in blocks at most this many times downsampled (1: full-resolution blocks only)."""
    sx: int = 2
    sy: int = 2
    use_rand: bool = False
    """A random destination in each cell instead of its top-left token (A1111 turns it off)."""
    seed: int | None = None
    """The seed of the destinations' generator with ``use_rand``; None forks the global RNG (as tomesd)."""
    merge_attn: bool = True
    merge_crossattn: bool = False
    merge_mlp: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.ratio, (int, float)) or isinstance(self.ratio, bool) or not 0 <= self.ratio < 1:
            raise ValueError(f"token merging ratio must be a number from 0 up to (not including) 1, got {self.ratio!r}")
        if self.max_downsample not in (1, 2, 4, 8):
            raise ValueError(f"token merging max_downsample must be 1, 2, 4 or 8, got {self.max_downsample!r}")
        if not (isinstance(self.sx, int) and isinstance(self.sy, int) and self.sx >= 1 and self.sy >= 1):
            raise ValueError(f"token merging strides must be positive integers, got sx={self.sx!r}, sy={self.sy!r}")


def block_grid(height: int, width: int, tokens: int) -> tuple[int, int, int] | None:
    """``(downsample, h, w)`` of a block with ``tokens`` tokens in a UNet whose latent is ``height`` x
    ``width``: the sides are halved (rounding up, as the UNet's stride-2 convolutions do) until they hold
    that many tokens. None when no level does."""
    h, w, downsample = height, width, 1
    while h * w > tokens:
        h, w, downsample = -(-h // 2), -(-w // 2), downsample * 2
    return (downsample, h, w) if h * w == tokens else None


@dataclass
class AppliedTokenMerging:
    """Token merging as applied to one UNet: its options, hook handles and the running plan."""

    unet: nn.Module
    options: TokenMergingOptions
    handles: list[Any] = field(default_factory=list)
    latent_size: tuple[int, int] | None = None
    generator: torch.Generator | None = None

    def plan(self, x: torch.Tensor) -> tuple[Merge, Merge]:
        """The block's ``(merge, unmerge)`` for its input tokens ``x`` ``[B, N, C]``."""
        opts = self.options
        grid = block_grid(*self.latent_size, x.shape[1]) if self.latent_size else None
        if grid is None or grid[0] > opts.max_downsample:
            return _identity, _identity
        _, h, w = grid
        # an odd batch cannot hold cond and uncond of one image together; a random pick then differs between them
        generator = self._generator(x.device) if opts.use_rand and x.shape[0] % 2 == 0 else None
        return bipartite_soft_matching_2d(x, w, h, opts.sx, opts.sy, int(x.shape[1] * opts.ratio), generator)

    def _generator(self, device: torch.device) -> torch.Generator:
        if self.generator is None or self.generator.device != device:
            generator = torch.Generator(device=device)
            if self.options.seed is not None:
                generator.manual_seed(self.options.seed)
            elif device.type == "cuda":
                generator.set_state(torch.cuda.get_rng_state(device))
            elif device.type == "cpu":
                generator.set_state(torch.get_rng_state())
            else:
                generator.manual_seed(torch.initial_seed())
            self.generator = generator
        return self.generator

    def remove(self) -> None:
        """Take every hook off; the UNet computes exactly as before."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        if self.unet.__dict__.get(_ATTRIBUTE) is self:
            del self.unet.__dict__[_ATTRIBUTE]


def find_unet(model: Any) -> nn.Module | None:
    """The UNet of a Stable Diffusion model (``model.diffusion_model``), or ``model`` itself if it is a
    module holding transformer blocks; None for anything else."""
    inner = getattr(getattr(model, "model", None), "diffusion_model", None)
    unet = inner if isinstance(inner, nn.Module) else model
    if isinstance(unet, nn.Module) and any(isinstance(m, BasicTransformerBlock) for m in unet.modules()):
        return unet
    return None


def applied(model: Any) -> AppliedTokenMerging | None:
    """The token merging now on ``model``'s UNet, if any."""
    unet = find_unet(model)
    return None if unet is None else unet.__dict__.get(_ATTRIBUTE)


def _hook_block(state: AppliedTokenMerging, block: BasicTransformerBlock) -> None:
    current: dict[str, Merge] = {}

    def plan(_module: nn.Module, args: tuple) -> None:
        current["merge"], current["unmerge"] = state.plan(args[0])

    def done(_module: nn.Module, _args: tuple, _out: Any) -> None:
        current.clear()  # the plan's index tensors are not kept between steps

    def merge_input(_module: nn.Module, args: tuple) -> tuple:
        return (current["merge"](args[0]), *args[1:])

    def unmerge_output(_module: nn.Module, _args: tuple, out: torch.Tensor) -> torch.Tensor:
        return current["unmerge"](out)

    state.handles.append(block.register_forward_pre_hook(plan))
    state.handles.append(block.register_forward_hook(done))
    opts = state.options
    for wanted, sub in ((opts.merge_attn, block.attn1), (opts.merge_crossattn, block.attn2), (opts.merge_mlp, block.ff)):
        if wanted:
            state.handles.append(sub.register_forward_pre_hook(merge_input))
            state.handles.append(sub.register_forward_hook(unmerge_output))


def apply_token_merging(model: Any, options: TokenMergingOptions | float) -> AppliedTokenMerging | None:
    """Put token merging on ``model``'s UNet (replacing any already there); None when the ratio is 0 or the
    model has no transformer blocks (nothing to merge)."""
    if not isinstance(options, TokenMergingOptions):
        options = TokenMergingOptions(ratio=options)
    remove_token_merging(model)
    unet = find_unet(model)
    if unet is None or options.ratio == 0:
        return None
    state = AppliedTokenMerging(unet, options)

    def latent_size(_module: nn.Module, args: tuple, kwargs: dict) -> None:
        x = args[0] if args else kwargs["x"]
        state.latent_size = (x.shape[-2], x.shape[-1])

    state.handles.append(unet.register_forward_pre_hook(latent_size, with_kwargs=True))
    for module in unet.modules():
        if isinstance(module, BasicTransformerBlock):
            _hook_block(state, module)
    unet.__dict__[_ATTRIBUTE] = state
    return state


def remove_token_merging(model: Any) -> None:
    """Take token merging off ``model``'s UNet (nothing happens when none is on)."""
    state = applied(model)
    if state is not None:
        state.remove()


@contextlib.contextmanager
def token_merging(model: Any, ratio: float, **options: Any) -> Iterator[AppliedTokenMerging | None]:
    """Token merging at ``ratio`` on ``model`` inside the block; what was on before (another ratio, or
    none) is back afterwards. A ratio of 0 runs the block without merging."""
    before = applied(model)
    previous = None if before is None else before.options
    now = apply_token_merging(model, TokenMergingOptions(ratio=ratio, **options))
    try:
        yield now
    finally:
        remove_token_merging(model)
        if previous is not None:
            apply_token_merging(model, previous)


__all__ = ["AppliedTokenMerging", "TokenMergingOptions", "applied", "apply_token_merging", "bipartite_soft_matching_2d",
           "block_grid", "find_unet", "remove_token_merging", "token_merging"]
