"""The ``NV`` noise source: the normal numbers torch draws on an NVIDIA GPU, computed on any CPU.

torch's CUDA ``randn`` uses a Philox4x32-10 counter-based generator and turns
pairs of 32-bit words into normals with Box-Muller.  Reproducing that stream
lets a seed give the same picture on every machine (A1111's setting
``randn_source = "NV"``).  The layout, matching A1111's ``rng_philox``:

* key: the 64-bit seed, low word first (``key = (seed & 0xffffffff, seed >> 32)``);
* counter of output ``i`` in call number ``offset`` of this generator:
  ``(offset, 0, i, 0)`` -- every ``randn`` call moves ``offset`` on by one;
* ten rounds with the multipliers ``0xD2511F53``/``0xCD9E8D57`` and the Weyl
  key increments ``0x9E3779B9``/``0xBB67AE85`` (the key is bumped between rounds);
* of the four words a block yields, the first two make one normal:
  ``sqrt(-2 ln u) * sin(v)`` with ``u = x * 2**-32 + 2**-33`` and
  ``v = y * 2**-32 * 2pi + 2**-33 * 2pi``; the last two words are dropped.

The scale constants are float32 numbers (as on the GPU) while the products are
formed in float64 before the result is rounded to float32, as A1111 does, so
``NV`` seeds give A1111's pictures bit for bit.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

PHILOX_ROUNDS = 10
PHILOX_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
PHILOX_KEY_INCREMENTS = (0x9E3779B9, 0xBB67AE85)

# float32 versions of 2**-32 and 2**-32 * 2pi, the scales the CUDA kernel uses, held as
# float64 so the arithmetic below is float64 whatever NumPy's promotion rules are
_TWO_POW32_INV = np.float64(np.float32(2.3283064e-10))
_TWO_POW32_INV_2PI = np.float64(np.float32(2.3283064e-10 * 6.2831855))
_HALF_TWO_POW32_INV = np.float64(np.float32(_TWO_POW32_INV) / np.float32(2))
_HALF_TWO_POW32_INV_2PI = np.float64(np.float32(_TWO_POW32_INV_2PI) / np.float32(2))

_MASK32 = np.uint64(0xFFFFFFFF)


def _mulhilo(a: np.ndarray, multiplier: int) -> tuple[np.ndarray, np.ndarray]:
    """High and low 32-bit halves of ``a * multiplier`` (``a`` holds uint32 words)."""
    product = a.astype(np.uint64) * np.uint64(multiplier)
    return (product >> np.uint64(32)).astype(np.uint32), (product & _MASK32).astype(np.uint32)


def philox4x32(counter: np.ndarray, key: np.ndarray, rounds: int = PHILOX_ROUNDS) -> np.ndarray:
    """Run Philox4x32 on a ``(4, n)`` uint32 counter block with a ``(2, n)`` uint32 key.

    Returns a new ``(4, n)`` uint32 array; the inputs are left untouched.
    """
    c0, c1, c2, c3 = (counter[i].astype(np.uint32) for i in range(4))
    k0, k1 = key[0].astype(np.uint32), key[1].astype(np.uint32)
    for round_index in range(rounds):
        if round_index:
            # uint32 addition wraps, which is the Weyl sequence the algorithm wants
            k0 = k0 + np.uint32(PHILOX_KEY_INCREMENTS[0])
            k1 = k1 + np.uint32(PHILOX_KEY_INCREMENTS[1])
        hi0, lo0 = _mulhilo(c0, PHILOX_MULTIPLIERS[0])
        hi1, lo1 = _mulhilo(c2, PHILOX_MULTIPLIERS[1])
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return np.stack([c0, c1, c2, c3])


def box_muller(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The first normal of the Box-Muller pair built from two uint32 words (float32 result)."""
    u = x.astype(np.float64) * _TWO_POW32_INV + _HALF_TWO_POW32_INV
    v = y.astype(np.float64) * _TWO_POW32_INV_2PI + _HALF_TWO_POW32_INV_2PI
    return (np.sqrt(-2.0 * np.log(u)) * np.sin(v)).astype(np.float32)


def seed_key(seed: int, n: int) -> np.ndarray:
    """The ``(2, n)`` key block for ``seed``: the 64-bit seed split low word first."""
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    key = np.empty((2, n), dtype=np.uint32)
    key[0] = seed & 0xFFFFFFFF
    key[1] = seed >> 32
    return key


class Generator:
    """Draws what ``torch.randn(..., device="cuda")`` draws after ``torch.manual_seed(seed)``.

    ``Generator(0).randn((3, 4))`` starts ``-0.9246624, -0.42534396, -2.6438458, 0.14518388``:
    within 1e-6 of what a CUDA torch gives for ``torch.randn(3, 4)`` after ``manual_seed(0)``
    (``-0.92466259, -0.42534415, -2.6438457, 0.14518388``; the GPU's fast float32 ``log``/``sin``
    differ in the last bits) and bit-exact with A1111's own ``NV`` source.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.offset = 0
        """How many ``randn`` calls were made; each call uses its own counter word."""

    def randn(self, shape: Sequence[int]) -> np.ndarray:
        """A float32 array of standard normals of ``shape``; the next call continues the stream."""
        n = 1
        for size in shape:
            n *= int(size)
        counter = np.zeros((4, n), dtype=np.uint32)
        counter[0] = self.offset
        # 2**32 numbers per call is far more than any latent needs, so the index fits in one word
        counter[2] = np.arange(n, dtype=np.uint32)
        self.offset += 1
        words = philox4x32(counter, seed_key(self.seed, n))
        return box_muller(words[0], words[1]).reshape(tuple(int(s) for s in shape))
