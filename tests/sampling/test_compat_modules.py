"""A1111's import paths for the sampling layer: light to import, the names extensions use, services from shared."""
from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest
import torch

from tests.sampling.helpers import MU, FakeP, GaussianLDM, text_cond

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_listing_samplers_does_not_import_torch():
    code = ("import sys, modules.sd_samplers as s, modules.sd_schedulers, modules.sd_samplers_common, "
            "modules.sd_samplers_kdiffusion; print(len(s.all_samplers), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.stdout.split() == ["20", "False"], out.stderr


def test_a1111_names():
    from modules import sd_samplers, sd_samplers_cfg_denoiser, sd_samplers_common, sd_samplers_kdiffusion, sd_schedulers

    assert sd_samplers.all_samplers_map["Euler a"].aliases == ["k_euler_a", "k_euler_ancestral"]
    assert sd_samplers.samplers_map["k_dpmpp_2m"] == "DPM++ 2M"
    assert [x.name for x in sd_schedulers.schedulers][-1] == "beta"
    assert sd_schedulers.schedulers_map["Karras"] is sd_schedulers.schedulers_map["karras"]
    assert callable(sd_schedulers.get_align_your_steps_sigmas) and callable(sd_schedulers.beta_scheduler)
    with pytest.raises(AttributeError):
        sd_schedulers.no_such_function
    assert sd_samplers_kdiffusion.k_diffusion_samplers_map["DPM++ 2M"].options == {"scheduler": "karras"}
    assert sd_samplers_kdiffusion.sampler_extra_params["sample_euler"] == ["s_churn", "s_tmin", "s_tmax", "s_noise"]
    assert sd_samplers_kdiffusion.KDiffusionSampler.__name__ == "KDiffusionSampler"
    assert issubclass(sd_samplers_kdiffusion.CFGDenoiserKDiffusion, sd_samplers_cfg_denoiser.CFGDenoiser)
    assert issubclass(sd_samplers_common.InterruptedException, BaseException)
    assert sd_samplers_common.SamplerData("x", None, [], {"second_order": True}).total_steps(10) == 20
    assert sd_samplers_common.Sampler.__name__ == "Sampler"


def test_create_sampler_takes_the_services_from_shared(restore_shared):
    from modules import sd_samplers, sd_samplers_common

    shared = restore_shared
    shared.opts = types.SimpleNamespace(hide_samplers=["LMS"], img2img_fix_steps=True, eta_ancestral=0.4)
    shared.state = types.SimpleNamespace(interrupted=False, skipped=False, sampling_step=0, sampling_steps=0)
    try:
        sd_samplers.set_samplers()
        assert "LMS" not in sd_samplers.visible_sampler_names()
        sampler = sd_samplers.create_sampler("k_euler_a", GaussianLDM())
        assert sampler.config.name == "Euler a" and sampler.env.opts is shared.opts
        p = FakeP(steps=6, extra_generation_params={})
        out = sampler.sample(p, torch.randn(1, 1, 8, 8), text_cond(1, MU), text_cond(1, MU))
        assert out.shape == (1, 1, 8, 8) and shared.state.sampling_steps == 6
        assert p.extra_generation_params["Eta"] == 0.4
        assert sd_samplers_common.setup_img2img_steps(types.SimpleNamespace(steps=10, denoising_strength=0.5)) == (20, 9)
        p = types.SimpleNamespace(sampler_name="Euler a", eta=None, sampler=sampler)
        assert sd_samplers_common.is_sampler_using_eta_noise_seed_delta(p)
    finally:
        shared.opts = None
        sd_samplers.set_samplers()


def test_fix_p_invalid_sampler_and_scheduler(caplog):
    from modules import sd_samplers

    p = types.SimpleNamespace(sampler_name="DPM++ 2M Karras", scheduler="Automatic")
    sd_samplers.fix_p_invalid_sampler_and_scheduler(p)
    assert (p.sampler_name, p.scheduler) == ("DPM++ 2M", "Karras")
    assert "autocorrection" in caplog.text
