"""Seeds and initial noise, as A1111 1.10 makes them.

Three sources of normal numbers, chosen by the setting ``randn_source``:

* ``GPU``: torch's generator on the model's device (on a CPU-only machine that
  device is the CPU, so ``GPU`` and ``CPU`` give the same numbers there);
* ``CPU``: torch's CPU generator, the result moved to the device (also used on
  MPS, whose generator is not reproducible);
* ``NV``: :mod:`modules.processing.rng_philox`, NVIDIA's stream on any hardware.

Each image of a batch gets its own generator (:class:`ImageRNG`), so a batch
gives the same pictures as the same seeds run one by one.

The module-level ``randn``/``randn_like``/``randn_without_seed``/``manual_seed``
keep A1111's global-generator contract (``randn`` seeds torch's global
generator, ``randn_like`` continues it) because extensions call them through
``modules.devices``; :class:`ImageRNG` draws only from generators it owns and,
like A1111, leaves the global generator seeded with the batch's last seed.
"""
from __future__ import annotations

import random
from typing import Any, Sequence

import torch

from modules.processing import rng_philox

RNG_SOURCES = ("GPU", "CPU", "NV")
"""The values of the setting ``randn_source`` (infotext ``RNG``)."""

SEED_RANGE = 4294967294
"""A random seed is drawn from ``range(SEED_RANGE)``, as A1111 does."""

LATENT_FACTOR = 8
"""Pixels per latent cell: ``Seed resize from`` sizes are divided by this."""

AnyGenerator = Any
"""A ``torch.Generator`` or an :class:`rng_philox.Generator`."""


class _NvGlobal:
    """Holder of the ``NV`` generator that :func:`manual_seed` sets (torch keeps its own global)."""

    generator: rng_philox.Generator | None = None


_nv_global = _NvGlobal()

_CPU = torch.device("cpu")


def _device(device: torch.device | str | None) -> torch.device:
    return _CPU if device is None else torch.device(device)


def _source(source: str | None) -> str:
    return "GPU" if source is None else source


def generator_device(source: str | None, device: torch.device | str | None) -> torch.device:
    """Where a torch generator for ``source`` lives when the model is on ``device``."""
    device = _device(device)
    if _source(source) == "CPU" or device.type == "mps":
        return _CPU
    return device


def create_generator(seed: int, *, source: str | None = None, device: torch.device | str | None = None) -> AnyGenerator:
    """A generator seeded with ``seed`` for ``source`` (a Philox generator for ``NV``)."""
    if _source(source) == "NV":
        return rng_philox.Generator(seed)
    return torch.Generator(generator_device(source, device)).manual_seed(int(seed))


def _draw(shape: Sequence[int], generator: AnyGenerator | None, source: str, device: torch.device) -> torch.Tensor:
    """Normals of ``shape`` from ``generator`` (or the global one), on ``device``."""
    if source == "NV":
        nv = generator if generator is not None else _nv_global.generator
        if nv is None:
            nv = _nv_global.generator = rng_philox.Generator(0)
        return torch.asarray(nv.randn(shape), device=device)
    where = generator_device(source, device)
    return torch.randn(tuple(shape), device=where, generator=generator).to(device)


def manual_seed(seed: int, *, source: str | None = None) -> None:
    """Seed the global generator of ``source`` (torch's for GPU/CPU, a Philox one for NV)."""
    if _source(source) == "NV":
        _nv_global.generator = rng_philox.Generator(seed)
        return
    torch.manual_seed(int(seed))


def randn(seed: int, shape: Sequence[int], generator: AnyGenerator | None = None, *,
          source: str | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Normals of ``shape`` for ``seed`` on ``device``.

    Seeds the global generator with ``seed`` (A1111's contract: :func:`randn_like`
    and :func:`randn_without_seed` continue from there), then draws from
    ``generator`` when one is given, else from the global generator.
    """
    source, device = _source(source), _device(device)
    manual_seed(seed, source=source)
    return _draw(shape, generator, source, device)


def randn_local(seed: int, shape: Sequence[int], *, source: str | None = None,
                device: torch.device | str | None = None) -> torch.Tensor:
    """The first normals of ``seed`` without touching any global generator."""
    source, device = _source(source), _device(device)
    return _draw(shape, create_generator(seed, source=source, device=device), source, device)


def randn_like(x: torch.Tensor, *, source: str | None = None) -> torch.Tensor:
    """Normals shaped, typed and placed like ``x``, from the global generator."""
    source = _source(source)
    if source == "NV":
        return _draw(x.shape, None, source, x.device).to(dtype=x.dtype)
    if source == "CPU" or x.device.type == "mps":
        return torch.randn_like(x, device=_CPU).to(x.device)
    return torch.randn_like(x)


def randn_without_seed(shape: Sequence[int], generator: AnyGenerator | None = None, *,
                       source: str | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Normals of ``shape`` continuing ``generator`` (or the global generator) without reseeding."""
    return _draw(shape, generator, _source(source), _device(device))


def slerp(val: float, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two noise tensors, A1111's way.

    Norms and dot products are taken along dim 1 (for a ``(C, H, W)`` noise that
    is the height), as A1111 does.  When the two are almost parallel (mean cosine
    above 0.9995) A1111 falls back to ``low * val + high * (1 - val)`` -- the
    weights are the other way round from the spherical branch, and kept so, since
    seeds that hit this branch must give A1111's picture.
    """
    low_norm = low / torch.norm(low, dim=1, keepdim=True)
    high_norm = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_norm * high_norm).sum(1)
    # decided on the raw dots, NaN included, so every input takes A1111's branch
    if dot.mean() > 0.9995:
        return low * val + high * (1 - val)
    # Guards for the entries where A1111's formula is not finite (elsewhere the numbers are unchanged):
    # an all-zero vector has no direction (0 / 0 above): it is taken as orthogonal to the other, and contributes
    # nothing itself; a dot rounded past +-1 would make acos NaN; parallel vectors (omega = 0) give 0 / 0 weights,
    # whose limit is the linear interpolation (1 - val, val).
    dot = torch.nan_to_num(dot, nan=0.0).clamp(-1.0, 1.0)
    omega = torch.acos(dot)
    sin_omega = torch.sin(omega)
    parallel = sin_omega == 0
    safe_sin = torch.where(parallel, torch.ones_like(sin_omega), sin_omega)
    low_weight = torch.where(parallel, torch.full_like(omega, 1.0 - val), torch.sin((1.0 - val) * omega) / safe_sin)
    high_weight = torch.where(parallel, torch.full_like(omega, val), torch.sin(val * omega) / safe_sin)
    return low_weight.unsqueeze(1) * low + high_weight.unsqueeze(1) * high


def noise_shape(shape: Sequence[int], seed_resize_from_h: int = 0, seed_resize_from_w: int = 0) -> tuple[int, ...]:
    """The shape the seed's noise is drawn at: the old size when both "resize seed from" sizes are > 0."""
    if seed_resize_from_h <= 0 or seed_resize_from_w <= 0:
        return tuple(shape)
    return (shape[0], seed_resize_from_h // LATENT_FACTOR, seed_resize_from_w // LATENT_FACTOR)


def paste_centered(target: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Paste ``noise`` into the middle of ``target`` (both ``(C, H, W)``), cropping it if larger.

    This is how "Resize seed from" keeps the composition of the old size: the
    old-size noise sits centred in a fresh noise of the new size.
    """
    dx = (target.shape[2] - noise.shape[2]) // 2
    dy = (target.shape[1] - noise.shape[1]) // 2
    w = noise.shape[2] if dx >= 0 else noise.shape[2] + 2 * dx
    h = noise.shape[1] if dy >= 0 else noise.shape[1] + 2 * dy
    tx, ty = max(dx, 0), max(dy, 0)
    sx, sy = max(-dx, 0), max(-dy, 0)
    target[:, ty:ty + h, tx:tx + w] = noise[:, sy:sy + h, sx:sx + w]
    return target


def _setting(settings: Any, key: str, default: Any) -> Any:
    value = getattr(settings, key, default) if settings is not None else default
    return default if value is None else value


class ImageRNG:
    """Per-image noise for one batch: ``first()`` gives the initial latent noise, ``next()`` more.

    ``shape`` is one image's latent shape ``(C, H/8, W/8)``; ``seeds``/``subseeds``
    hold one value per image.  ``settings`` is read for ``randn_source`` (when
    built) and ``eta_noise_seed_delta`` (when :meth:`first` runs), as A1111 reads
    ``shared.opts``.  ``enable_batch_seeds`` is not consulted: since 1.6 A1111
    always gives every image its own generator and the option does nothing.
    """

    def __init__(self, shape: Sequence[int], seeds: Sequence[int], subseeds: Sequence[int] | None = None,
                 subseed_strength: float = 0.0, seed_resize_from_h: int = 0, seed_resize_from_w: int = 0, *,
                 settings: Any = None, device: torch.device | str | None = None) -> None:
        self.shape = tuple(shape)
        self.seeds = list(seeds)
        self.subseeds = subseeds
        self.subseed_strength = subseed_strength
        self.seed_resize_from_h = seed_resize_from_h
        self.seed_resize_from_w = seed_resize_from_w
        self.settings = settings
        self.device = _device(device)
        self.source = _setting(settings, "randn_source", "GPU")
        self.generators = [self._generator(seed) for seed in self.seeds]
        self.is_first = True

    def _generator(self, seed: int) -> AnyGenerator:
        return create_generator(seed, source=self.source, device=self.device)

    def _fresh(self, seed: int, shape: Sequence[int]) -> torch.Tensor:
        # A1111 seeds its global generator here; a fresh generator gives the same numbers
        return _draw(shape, self._generator(seed), self.source, self.device)

    def first(self) -> torch.Tensor:
        """The initial noise ``(len(seeds), *shape)``: variation and resize-seed applied, then ENSD."""
        drawn_shape = noise_shape(self.shape, self.seed_resize_from_h, self.seed_resize_from_w)
        xs = []
        for i, (seed, generator) in enumerate(zip(self.seeds, self.generators)):
            subnoise = None
            if self.subseeds is not None and self.subseed_strength != 0:
                subseed = 0 if i >= len(self.subseeds) else self.subseeds[i]
                subnoise = self._fresh(subseed, drawn_shape)

            if drawn_shape != self.shape:
                noise = self._fresh(seed, drawn_shape)
            else:
                noise = _draw(self.shape, generator, self.source, self.device)

            if subnoise is not None:
                noise = slerp(self.subseed_strength, noise, subnoise)

            if drawn_shape != self.shape:
                # the image's own generator makes the new-size canvas, then carries on for the sampler
                canvas = _draw(self.shape, generator, self.source, self.device)
                noise = paste_centered(canvas, noise)

            xs.append(noise)

        if self.seeds:
            # A1111 leaves the global generator freshly seeded with the last image's seed; code that
            # draws from it afterwards (some extension samplers) depends on that
            manual_seed(self.seeds[-1], source=self.source)

        ensd = int(_setting(self.settings, "eta_noise_seed_delta", 0) or 0)
        if ensd:
            self.generators = [self._generator(seed + ensd) for seed in self.seeds]

        return torch.stack(xs).to(self.device)

    def next(self) -> torch.Tensor:
        """The first call gives :meth:`first`; later calls give more noise, one draw per image."""
        if self.is_first:
            self.is_first = False
            return self.first()
        xs = [_draw(self.shape, generator, self.source, self.device) for generator in self.generators]
        return torch.stack(xs).to(self.device)


def create_random_tensors(shape: Sequence[int], seeds: Sequence[int], subseeds: Sequence[int] | None = None,
                          subseed_strength: float = 0.0, seed_resize_from_h: int = 0, seed_resize_from_w: int = 0,
                          *, settings: Any = None, device: torch.device | str | None = None) -> torch.Tensor:
    """A1111's ``processing.create_random_tensors``: the first noise of a fresh :class:`ImageRNG`."""
    return ImageRNG(shape, seeds, subseeds, subseed_strength, seed_resize_from_h, seed_resize_from_w,
                    settings=settings, device=device).next()


def get_fixed_seed(seed: Any, rand: random.Random | None = None) -> Any:
    """A concrete seed: ``-1``, ``None``, ``''`` or a non-numeric string draws a random one.

    Numeric strings become ints; any other value is returned as it is.
    """
    if seed == "" or seed is None:
        seed = -1
    elif isinstance(seed, str):
        try:
            seed = int(seed)
        except ValueError:
            seed = -1
    if seed == -1:
        return int((rand or random).randrange(SEED_RANGE))
    return seed


def fix_seed(p: Any) -> None:
    """Replace ``p.seed`` and ``p.subseed`` by concrete values (A1111's ``processing.fix_seed``)."""
    p.seed = get_fixed_seed(p.seed)
    p.subseed = get_fixed_seed(p.subseed)


def batch_seeds(seed: Any, subseed: Any, subseed_strength: float, count: int) -> tuple[list[int], list[int]]:
    """Every image's seed and variation seed for a job of ``count`` images.

    Seeds go up by one per image, except with a variation strength above 0: then
    the seed stays and the variation seed goes up.  Lists are taken as given.
    """
    if isinstance(seed, list):
        seeds = seed
    else:
        seeds = [int(seed) + (x if subseed_strength == 0 else 0) for x in range(count)]
    if isinstance(subseed, list):
        subseeds = subseed
    else:
        subseeds = [int(subseed) + x for x in range(count)]
    return seeds, subseeds


def seed_extras(enabled: bool, subseed: int, subseed_strength: float, seed_resize_from_h: int,
                seed_resize_from_w: int) -> tuple[int, float, int, int]:
    """The variation and resize-seed values in force: all off unless the seed row's "Extra" box is ticked."""
    if not enabled:
        return -1, 0, 0, 0
    return subseed, subseed_strength, seed_resize_from_h, seed_resize_from_w
