"""The error a generation request fails with (light to import: no torch)."""
from __future__ import annotations


class GenerationError(ValueError):
    """The request cannot run (unknown sampler, bad size...); the message names what was wrong."""
