"""A bootstrapped app with a tiny random-weight checkpoint of the real key layout, per test."""
from __future__ import annotations

import pytest

from modules.models.tiny_factory import make_tiny_checkpoint


@pytest.fixture
def app(started, data_dir, restore_shared):
    """Start with a tiny SD1 checkpoint loaded; returns ``modules.shared``."""

    def start(family: str = "sd1", *flags: str):
        make_tiny_checkpoint(family, data_dir / "models" / "Stable-diffusion")
        started(*flags)
        assert restore_shared.sd_model is not None
        return restore_shared

    return start
