"""A model config whose scale_factor is 0 or not finite is refused at load (every decode would divide by it)."""
from __future__ import annotations

import pytest

from modules.models.sd_model import StableDiffusionBase


@pytest.mark.parametrize("bad", [0.0, float("inf"), float("nan")])
def test_a_zero_or_non_finite_scale_factor_is_refused(bad):
    with pytest.raises(ValueError, match="scale_factor"):
        StableDiffusionBase(None, None, bad)
