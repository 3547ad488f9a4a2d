"""The refiner checkpoint takes over part-way through sampling (SPEC 7.6)."""
from __future__ import annotations

import numpy as np
import pytest

from modules.models.tiny_factory import make_tiny_checkpoint
from modules.processing import GenerationError, StableDiffusionProcessingTxt2Img, process_images


def generate(**kw):
    args = dict(prompt="a cat", steps=6, width=64, height=64, seed=1, sampler_name="Euler")
    args.update(kw)
    return process_images(StableDiffusionProcessingTxt2Img(**args))


@pytest.fixture
def two_models(started, data_dir, restore_shared):
    sd_dir = data_dir / "models" / "Stable-diffusion"
    make_tiny_checkpoint("sd1", sd_dir, name="base", seed=0)
    make_tiny_checkpoint("sd1", sd_dir, name="refiner", seed=1)
    started()
    return restore_shared


def test_refiner_switches_and_the_setting_stays(two_models):
    shared = two_models
    plain = np.asarray(generate().images[0])
    res = generate(refiner_checkpoint="refiner", refiner_switch_at=0.5)
    info = shared.checkpoints.get_closest_match("refiner")
    assert f"Refiner: {info.short_title}, Refiner switch at: 0.5" in res.infotexts[0]
    assert not np.array_equal(np.asarray(res.images[0]), plain)
    assert shared.opts.sd_model_checkpoint.startswith("base.safetensors")
    # the next job starts on the base model again and gives the same picture as before
    assert np.array_equal(np.asarray(generate().images[0]), plain)
    assert shared.sd_model.sd_checkpoint_info.name == "base.safetensors"


def test_refiner_switch_at_one_never_switches(two_models):
    plain = np.asarray(generate().images[0])
    res = generate(refiner_checkpoint="refiner", refiner_switch_at=1.0)
    assert np.array_equal(np.asarray(res.images[0]), plain)
    assert "Refiner:" not in res.infotexts[0]


def test_unknown_refiner_is_an_error_naming_it(two_models):
    with pytest.raises(GenerationError, match="nope"):
        generate(refiner_checkpoint="nope")
