"""The sampler list and lookup (A1111's answers), and the sampler objects driving a whole generation on an analytic
model: schedules and infotext, img2img, noise, interruption."""
from __future__ import annotations

import json
import pathlib
import types

import pytest
import torch

from modules.sampling import registry
from modules.sampling.environment import SamplingEnv
from modules.sampling.registry import (create_sampler, find_sampler_config, get_hr_sampler_and_scheduler,
                                       get_sampler_and_scheduler, split_sampler_and_scheduler)
from modules.sampling.sampler_base import setup_img2img_steps, uses_eta_noise_seed_delta
from tests.sampling.helpers import MU, STD, FakeP, FakeRng, GaussianLDM, assert_distribution, text_cond

from tests.reference_answers import RESPONSES as _RESPONSES
RESPONSES = pathlib.Path(_RESPONSES)
SHAPE = (2, 1, 64, 64)


def opts(**values):
    return types.SimpleNamespace(**values)


def run(name, steps=20, env=None, model=None, cfg_scale=1.0, cond_mu=MU, uncond_mu=MU, x=None, **p_kwargs):
    model = model or GaussianLDM()
    sampler = create_sampler(name, model, env or SamplingEnv())
    p = FakeP(steps=steps, cfg_scale=cfg_scale, rng=FakeRng(SHAPE, 1), all_seeds=[11, 12], iteration=0,
              batch_size=2, **p_kwargs)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3)) if x is None else x
    out = sampler.sample(p, x, text_cond(2, cond_mu), text_cond(2, uncond_mu))
    return out, p, sampler, model


def test_samplers_api_list_is_a1111s():
    expected = json.loads((RESPONSES / "samplers.json").read_text())["body"]
    assert registry.samplers_api_list() == expected


def test_lookup_by_name_alias_and_case():
    assert find_sampler_config("Euler a").name == "Euler a"
    assert find_sampler_config("k_euler_ancestral").name == "Euler a"
    assert find_sampler_config("DPM++ 2m sde heun").name == "DPM++ 2M SDE Heun"
    assert find_sampler_config("k_lcm").name == "LCM"
    assert find_sampler_config(None).name == "DPM++ 2M"
    assert find_sampler_config("DPM++ 2M Karras") is None
    assert find_sampler_config("no such sampler") is None
    with pytest.raises(ValueError, match="bad sampler name"):
        create_sampler("no such sampler", GaussianLDM())


def test_legacy_combined_names():
    assert split_sampler_and_scheduler("DPM++ 2M Karras", None) == ("DPM++ 2M", "Karras")
    assert split_sampler_and_scheduler("Euler a SGMUniform", "Automatic") == ("Euler a", "SGM Uniform")
    assert split_sampler_and_scheduler("k_dpmpp_2m", "exponential") == ("DPM++ 2M", "Exponential")
    assert split_sampler_and_scheduler("Nonsense Karras", None) == (None, "Automatic")
    assert get_sampler_and_scheduler("DPM++ 2M Karras", None) == ("DPM++ 2M", "Automatic")
    assert get_sampler_and_scheduler("DPM++ 2M Karras", None, convert_automatic=False) == ("DPM++ 2M", "Karras")
    assert get_sampler_and_scheduler("Nonsense", "Karras") == ("DPM++ 2M", "Automatic")
    assert get_hr_sampler_and_scheduler({"Sampler": "Euler", "Schedule type": "Karras",
                                         "Hires schedule type": "Karras"}) == ("Use same sampler", "Use same scheduler")
    assert get_hr_sampler_and_scheduler({"Sampler": "Euler", "Schedule type": "Karras"}) == (
        "Use same sampler", "Automatic")
    assert get_hr_sampler_and_scheduler({"Sampler": "Euler", "Hires sampler": "DDIM", "Hires schedule type": "Beta"}) == (
        "DDIM", "Beta")


def test_hidden_samplers_and_step_counting():
    try:
        registry.set_samplers(["PLMS", "UniPC"])
        names = registry.visible_sampler_names()
        assert "PLMS" not in names and "UniPC" not in names and len(names) == len(registry.all_samplers) - 2
    finally:
        registry.set_samplers()
    assert find_sampler_config("Heun").total_steps(20) == 40
    assert find_sampler_config("Euler").total_steps(20) == 20


def test_ensd_applies_to_ancestral_samplers_with_eta():
    assert uses_eta_noise_seed_delta(find_sampler_config("Euler a"), None)
    assert not uses_eta_noise_seed_delta(find_sampler_config("Euler a"), 0)
    assert not uses_eta_noise_seed_delta(find_sampler_config("Euler"), 1.0)


DEFAULT_SCHEDULES = {"DPM++ 2M": "Karras", "DPM++ SDE": "Karras", "DPM++ 2M SDE": "Exponential",
                     "DPM++ 2M SDE Heun": "Exponential", "DPM++ 2S a": "Karras", "DPM++ 3M SDE": "Exponential",
                     "DPM2": "Karras", "DPM2 a": "Karras", "Restart": "Karras"}


@pytest.mark.parametrize("name", [s.name for s in registry.all_samplers])
def test_every_sampler_generates_the_data_distribution(name):
    out, p, sampler, model = run(name, steps=24)
    assert out.shape == SHAPE and torch.isfinite(out).all()
    if name == "LCM":
        assert abs(float(out.mean()) - MU) < 0.05  # LCM sampling of a non-consistency model loses variance
    else:
        assert_distribution(out, tol=0.08)
    assert p.extra_generation_params.get("Schedule type") == DEFAULT_SCHEDULES.get(name)
    assert model.calls, name


def test_cfg_moves_the_mean():
    out, *_ = run("DPM++ 2M", cfg_scale=3.0, cond_mu=0.5, uncond_mu=0.0)
    # uncond + 3 (cond - uncond) denoises towards mean 1.5 (the guided prediction is linear in the means)
    assert abs(float(out.mean()) - 1.5) < 0.05


def test_schedule_choice_and_settings_infotext():
    _, p, sampler, _ = run("Euler", scheduler="Karras", env=SamplingEnv(opts=opts(sigma_max=10.0, rho=5.0)))
    assert p.extra_generation_params == {"Schedule type": "Karras", "Schedule max sigma": 10.0, "Schedule rho": 5.0}
    sigmas = sampler.get_sigmas(FakeP(steps=4, scheduler="Karras", extra_generation_params={}), 4)
    assert sigmas[0].item() == pytest.approx(10.0)

    _, p, *_ = run("DPM++ 2M", env=SamplingEnv(opts=opts(always_discard_next_to_last_sigma=True,
                                                        sgm_noise_multiplier=True, beta_dist_alpha=0.5)),
                   scheduler="beta")
    assert p.extra_generation_params == {"Discard penultimate sigma": True, "Schedule type": "Beta",
                                         "Beta schedule alpha": 0.5, "Beta schedule beta": 0.6,
                                         "SGM noise multiplier": True}

    old = create_sampler("Euler", GaussianLDM(), SamplingEnv(opts=opts(use_old_karras_scheduler_sigmas=True)))
    sigmas = old.get_sigmas(FakeP(scheduler="Karras", extra_generation_params={}), 10)
    assert sigmas[0].item() == pytest.approx(10.0) and sigmas[-2].item() == pytest.approx(0.1)


def test_discarding_the_penultimate_sigma():
    sampler = create_sampler("DPM2", GaussianLDM())
    p = FakeP(extra_generation_params={})
    sigmas = sampler.get_sigmas(p, 10)
    full = create_sampler("Euler", GaussianLDM()).get_sigmas(FakeP(scheduler="Karras", extra_generation_params={}), 11)
    assert len(sigmas) == 11 and torch.equal(sigmas, torch.cat([full[:-2], full[-1:]]))
    assert "Discard penultimate sigma" not in p.extra_generation_params  # the sampler's own option: no infotext


def test_scheduler_override_and_automatic_uses_model_sigmas():
    sampler = create_sampler("Euler", GaussianLDM())
    p = FakeP(extra_generation_params={})
    p.sampler_noise_scheduler_override = lambda steps: torch.linspace(5, 0, steps + 1)
    assert sampler.get_sigmas(p, 5).tolist() == [5, 4, 3, 2, 1, 0]
    p = FakeP(extra_generation_params={})
    assert torch.equal(sampler.get_sigmas(p, 7), sampler.model_wrap.get_sigmas(7))
    assert p.extra_generation_params == {}


def test_eta_and_churn_settings():
    _, p, sampler, _ = run("Euler a", env=SamplingEnv(opts=opts(eta_ancestral=0.5)))
    assert p.extra_generation_params["Eta"] == 0.5 and sampler.eta == 0.5
    _, p, sampler, _ = run("DDIM", eta=0.3)
    assert p.extra_generation_params["Eta DDIM"] == 0.3

    # a setting that differs from k-diffusion's default wins over the request's value (A1111 1.10)
    sampler = create_sampler("Euler", GaussianLDM(), SamplingEnv(opts=opts(s_churn=0.5)))
    p = FakeP(extra_generation_params={}, s_churn=2.0, s_tmin=0.1, s_tmax=float("inf"), s_noise=1.0)
    kwargs = sampler.initialize(p)
    assert kwargs["s_churn"] == 0.5 and p.s_churn == 0.5 and p.extra_generation_params == {"Sigma churn": 0.5}
    assert kwargs["s_tmin"] == 0.1  # setting at default: the request's value goes through
    assert kwargs["s_tmax"] == float("inf") and "noise_sampler" not in kwargs  # no p.rng: the function's default


def test_ancestral_noise_comes_from_p_rng():
    model = GaussianLDM()
    sampler = create_sampler("Euler a", model)
    p = FakeP(steps=10, rng=FakeRng(SHAPE, 5), extra_generation_params={})
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    first = sampler.sample(p, x, text_cond(2, MU), text_cond(2, MU))
    assert p.rng.calls == 9  # no noise after the last step to sigma 0
    p.rng = FakeRng(SHAPE, 5)
    assert torch.equal(create_sampler("Euler a", model).sample(p, x, text_cond(2, MU), text_cond(2, MU)), first)


def test_sde_sampler_image_is_the_same_in_any_batch():
    model = GaussianLDM()
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    both = create_sampler("DPM++ 2M SDE", model).sample(
        FakeP(steps=8, all_seeds=[11, 12], iteration=0, batch_size=2, extra_generation_params={}), x,
        text_cond(2, MU), text_cond(2, MU))
    alone = create_sampler("DPM++ 2M SDE", model).sample(
        FakeP(steps=8, all_seeds=[12], iteration=0, batch_size=1, extra_generation_params={}), x[1:],
        text_cond(1, MU), text_cond(1, MU))
    assert torch.allclose(both[1], alone[0], atol=1e-6)


def test_img2img_steps_rule():
    p = types.SimpleNamespace(steps=20, denoising_strength=0.5)
    assert setup_img2img_steps(p, None) == (20, 10)
    assert setup_img2img_steps(p, opts(img2img_fix_steps=True)) == (40, 19)
    assert setup_img2img_steps(types.SimpleNamespace(steps=20, denoising_strength=1.0), None) == (20, 19)
    assert setup_img2img_steps(p, None, steps=8) == (16, 7)


@pytest.mark.parametrize("name", ["Euler", "DPM++ 2M", "DPM++ SDE", "DPM fast", "DDIM", "PLMS", "UniPC"])
def test_img2img_keeps_the_data_distribution(name):
    """Data samples noised to the start of the shortened schedule and denoised again stay N(mu, std^2)."""
    model = GaussianLDM()
    sampler = create_sampler(name, model)
    data = MU + STD * torch.randn(SHAPE, generator=torch.Generator().manual_seed(8))
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(9))
    p = FakeP(steps=20, denoising_strength=0.6, rng=FakeRng(SHAPE, 1), all_seeds=[1, 2], iteration=0, batch_size=2)
    calls = []
    sampler.env.on_step = lambda: calls.append(sampler.env.state.sampling_step)
    out = sampler.sample_img2img(p, data, noise, text_cond(2, MU), text_cond(2, MU))
    assert_distribution(out, tol=0.07)
    assert sampler.env.state.sampling_steps == 13  # t_enc + 1 = int(0.6 * 20) + 1


def test_inpainting_mask_keeps_the_original_outside():
    model = GaussianLDM()
    data = torch.full(SHAPE, 3.0)
    mask = torch.zeros(SHAPE)
    mask[..., :32] = 1.0  # A1111's mask: 1 where the original is kept
    p = FakeP(steps=10, denoising_strength=1.0, mask=mask, nmask=1 - mask, extra_generation_params={})
    # k-diffusion samplers blend every prediction, so the kept area converges to the original
    out = create_sampler("Euler", model).sample_img2img(p, data, torch.randn(SHAPE), text_cond(2, MU), text_cond(2, MU))
    assert torch.allclose(out[..., :32], data[..., :32], atol=0.02)
    assert abs(float(out[..., 32:].mean()) - MU) < 0.1
    # timestep samplers blend x before each call; the kept area is restored by processing's final blend
    out = create_sampler("DDIM", model).sample_img2img(p, data, torch.randn(SHAPE), text_cond(2, MU), text_cond(2, MU))
    assert abs(float(out[..., 32:].mean()) - MU) < 0.1


def test_interrupt_mid_sampling_returns_the_last_latent():
    env = SamplingEnv()
    sampler = create_sampler("Euler", GaussianLDM(), env)
    p = FakeP(steps=20, extra_generation_params={})

    def on_step():
        if env.state.sampling_step == 4:
            env.state.interrupted = True

    env.on_step = on_step
    x = torch.randn(SHAPE)
    out = sampler.sample(p, x, text_cond(2, MU), text_cond(2, MU))
    assert len(sampler.sd_model.calls) == 5
    assert out is sampler.last_latent and out.shape == SHAPE


def test_stop_at_ends_early():
    sampler = create_sampler("DPM++ 2M", GaussianLDM())
    sampler.stop_at = 2
    sampler.sample(FakeP(steps=10, extra_generation_params={}), torch.randn(SHAPE), text_cond(2, MU), text_cond(2, MU))
    assert len(sampler.sd_model.calls) == 4


def test_cfgpp_equals_ddim_without_guidance_difference():
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    ddim, *_ = run("DDIM", x=x, cfg_scale=7.0)
    cfgpp, _, sampler, _ = run("DDIM CFG++", x=x, cfg_scale=7.0)
    assert torch.allclose(ddim, cfgpp, atol=1e-5)
    assert sampler.model_wrap_cfg.cond_scale_miltiplier == 1 / 12.5


def test_v_prediction_model():
    out, *_ = run("DPM++ 2M", model=GaussianLDM("v"))
    assert_distribution(out, tol=0.05)
    out, *_ = run("DDIM", model=GaussianLDM("v"), steps=50)
    assert_distribution(out, tol=0.06)


def test_schedule_overrides_infotext():
    env = SamplingEnv(opts=opts(sd_noise_schedule="Zero Terminal SNR"))
    _, p, sampler, _ = run("Euler", env=env, steps=8)
    assert p.extra_generation_params["Noise Schedule"] == "Zero Terminal SNR"
    assert sampler.model_wrap.sigmas[-1] > 1000
