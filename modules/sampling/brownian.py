"""A seeded Brownian motion queried on intervals, for the SDE samplers (DPM++ SDE / 2M SDE / 3M SDE).

The path W on [t0, t1] is fixed by one integer seed and does not depend on the order or the spacing of the
queries, so one image gives the same noise whatever else is in its batch and however many steps are taken.
Construction: W(t1) - W(t0) is drawn first; every interval is then split at its (rounded) midpoint and the left
half's increment drawn from the Brownian bridge, N(W * l / h, l * r / h), where l and r are the two halves' lengths
and h = l + r (Revuz & Yor, ch. I; the "Brownian interval" of Kidger et al. 2021, arXiv:2105.13493). Each split's
noise comes from its own seed, derived from the root seed and the split's place in the binary tree through numpy's
``SeedSequence``, so this reproduces ``torchsde.BrownianTree`` (tol 1e-6, pool size 24) draw for draw.

The normal draws come from an injected ``randn(seed, shape) -> Tensor`` (A1111's ``devices.randn_local``, which
honours the ``randn_source`` setting); by default a ``torch.Generator`` on the latent's device.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

RandnFn = Callable[[int, tuple], torch.Tensor]
"""``randn(seed, shape) -> Tensor``: standard normal numbers that depend only on ``seed``."""

_TOLERANCE_DIGITS = 6  # times are resolved to 1e-6, as torchsde.BrownianTree's default tol
_POOL_SIZE = 24
_CACHE_SIZE = 45


def generator_randn(device: torch.device | str = "cpu") -> RandnFn:
    """``randn`` from a fresh ``torch.Generator`` on ``device`` seeded with ``seed`` (torchsde's own draws)."""

    def randn(seed: int, shape: tuple) -> torch.Tensor:
        generator = torch.Generator(device).manual_seed(int(seed))
        return torch.randn(shape, device=device, generator=generator)

    return randn


def _round(t: float) -> float:
    return round(t, _TOLERANCE_DIGITS)


class _Node:
    """A sub-interval [start, end] of the path; once split it has a midpoint, two children and a noise seed."""

    __slots__ = ("start", "end", "parent", "is_left", "key", "depth", "midway", "seed", "left", "right")

    def __init__(self, start: float, end: float, parent: "_Node | None", is_left: bool) -> None:
        self.start = _round(start)
        self.end = _round(end)
        self.parent = parent
        self.is_left = is_left
        self.midway: float | None = None
        self.left: _Node | None = None
        self.right: _Node | None = None


class BrownianPath:
    """One seeded Brownian path on [t0, t1] with values of shape ``shape``; ``path(ta, tb)`` = W(tb) - W(ta)."""

    def __init__(self, t0: float, t1: float, shape: tuple, dtype: torch.dtype, device: torch.device,
                 entropy: int, randn: RandnFn | None = None) -> None:
        if t0 > t1:
            raise ValueError(f"Initial time {t0} should be less than terminal time {t1}.")
        self.shape = tuple(shape)
        self.dtype = dtype
        self.device = device
        self.entropy = entropy
        self._randn = randn or generator_randn(device)
        self.root = _Node(float(t0), float(t1), None, True)
        self.root.key, self.root.depth = 0, 0
        root_seeds = np.random.SeedSequence(entropy=entropy, pool_size=_POOL_SIZE).generate_state(3)
        self._root_w = self._draw(int(root_seeds[0])) * math.sqrt(float(t1) - float(t0))
        self._cache: dict[_Node, torch.Tensor] = {}
        self._cache_order: list[_Node] = []

    def _draw(self, seed: int) -> torch.Tensor:
        return self._randn(seed, self.shape).to(device=self.device, dtype=self.dtype)

    def _split(self, node: _Node) -> None:
        """Give ``node`` its two halves and the seed of the bridge draw that separates them."""
        half = 0.5 * (node.end + node.start)
        node.midway = _round(half)
        if node.parent is not None:
            node.key = 2 * node.parent.key + (0 if node.is_left else 1)
            node.depth = node.parent.depth + 1
        sequence = np.random.SeedSequence(entropy=self.entropy, spawn_key=(node.key, node.depth), pool_size=_POOL_SIZE)
        node.seed = int(sequence.generate_state(4)[0])
        node.left = _Node(node.start, half, node, True)
        node.right = _Node(half, node.end, node, False)

    def _locate(self, ta: float, tb: float) -> list[_Node]:
        """The tree nodes whose intervals tile [ta, tb], left to right, splitting nodes as needed."""
        out: list[_Node] = []
        pending = [(self.root, ta, tb)]
        while pending:
            node, a, b = pending.pop()
            if a == node.start and b == node.end:
                out.append(node)
                continue
            if node.midway is None:
                self._split(node)
            if b <= node.midway:
                pending.append((node.left, a, b))
            elif a >= node.midway:
                pending.append((node.right, a, b))
            else:
                # right part pushed first so that the left part is handled (and appended) first
                pending.append((node.right, node.midway, b))
                pending.append((node.left, a, node.midway))
        return out

    def _increment(self, node: _Node) -> torch.Tensor:
        """W(node.end) - W(node.start), computed down the tree from the root through the Brownian bridge."""
        chain = []
        current = node
        while current is not self.root and current not in self._cache:
            chain.append(current)
            current = current.parent
        w = self._root_w if current is self.root else self._cache[current]
        for child in reversed(chain):
            parent = child.parent
            h_reciprocal = 1 / (parent.end - parent.start)
            left_diff = parent.midway - parent.start
            right_diff = parent.end - parent.midway
            mean = left_diff * w * h_reciprocal
            var = left_diff * right_diff * h_reciprocal
            left_w = mean + math.sqrt(var) * self._draw(parent.seed)
            w = left_w if child.is_left else w - left_w
            self._remember(child, w)
        return w

    def _remember(self, node: _Node, w: torch.Tensor) -> None:
        if node in self._cache:
            self._cache_order.remove(node)
        elif len(self._cache) >= _CACHE_SIZE:
            del self._cache[self._cache_order.pop(0)]
        self._cache[node] = w
        self._cache_order.append(node)

    def __call__(self, ta: float, tb: float) -> torch.Tensor:
        ta = min(max(float(ta), self.root.start), self.root.end)
        tb = min(max(float(tb), self.root.start), self.root.end)
        if ta > tb:
            raise RuntimeError(f"Query times ta={ta:.3f} and tb={tb:.3f} must respect ta <= tb.")
        ta, tb = _round(ta), _round(tb)
        if ta == tb:
            # also for two times closer than the tree's resolution: the tree has no node between them (splitting
            # the smallest node would give it back unchanged, for ever), and W over such an interval is 0 to within
            # the tolerance (torchsde answers 1e-10-sized values there)
            return torch.zeros(self.shape, dtype=self.dtype, device=self.device)
        nodes = self._locate(ta, tb)
        w = self._increment(nodes[0])
        for node in nodes[1:]:
            w = w + self._increment(node)
        return w


class BrownianTreeNoiseSampler:
    """``noise_sampler(sigma, sigma_next)``: the normalised Brownian increment between two noise levels, one path per
    image (``seed`` a list as long as the batch) or one path for the whole batch (``seed`` an int or None)."""

    def __init__(self, x: torch.Tensor, sigma_min, sigma_max, seed: int | Sequence[int] | None = None,
                 randn: RandnFn | None = None, transform: Callable[[torch.Tensor], torch.Tensor] = lambda t: t) -> None:
        self.transform = transform
        t0 = self.transform(torch.as_tensor(sigma_min))
        t1 = self.transform(torch.as_tensor(sigma_max))
        t0, t1, self.sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        if seed is None:
            seed = torch.randint(0, 2 ** 63 - 1, []).item()
        if isinstance(seed, (list, tuple)):
            if len(seed) != x.shape[0]:
                raise ValueError(f"{len(seed)} seeds for a batch of {x.shape[0]}")
            shape, seeds, self.batched = x.shape[1:], list(seed), True
        else:
            shape, seeds, self.batched = x.shape, [seed], False
        self.paths = [BrownianPath(float(t0), float(t1), shape, x.dtype, x.device, s, randn) for s in seeds]

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        t0 = self.transform(torch.as_tensor(sigma))
        t1 = self.transform(torch.as_tensor(sigma_next))
        lo, hi, sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        w = torch.stack([path(lo, hi) for path in self.paths]) * (self.sign * sign)
        w = w if self.batched else w[0]
        span = (t1 - t0).abs()
        if span == 0:
            # a zero-length interval (a repeated sigma): W is 0 there, and the samplers scale this noise by 0;
            # torchsde's 0 / sqrt(0) would be NaN, which 0 * NaN keeps
            return w
        return w / span.sqrt()
