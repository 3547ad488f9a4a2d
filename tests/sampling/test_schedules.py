"""Schedules against k-diffusion where it has them, golden values and first principles elsewhere; the discrete
denoiser wrappers against k-diffusion's CompVis wrappers; alphas_cumprod overrides."""
from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pytest
import torch

from modules.sampling import schedules as S
from modules.sampling.denoisers import LCMDenoiser, make_kdiffusion_denoiser, make_timesteps_denoiser
from modules.sampling.noise_schedule import effective_alphas_cumprod, rescale_zero_terminal_snr
from modules.sampling.schedulers import find_scheduler, schedulers, schedulers_api_list
from tests.sampling.helpers import GaussianLDM, kdiffusion, text_cond

from tests.reference_answers import RESPONSES as _RESPONSES
RESPONSES = pathlib.Path(_RESPONSES)
SIGMA_MIN, SIGMA_MAX = 0.02916753478348255, 14.614642143249512  # SD's linear schedule, computed below too


@pytest.fixture(scope="module")
def oracle():
    return kdiffusion()


@pytest.fixture(scope="module")
def model():
    return GaussianLDM()


@pytest.fixture(scope="module")
def wrapper(model):
    return make_kdiffusion_denoiser(model)


def test_model_sigma_range(wrapper):
    assert wrapper.sigmas[0].item() == pytest.approx(SIGMA_MIN, rel=1e-6)
    assert wrapper.sigmas[-1].item() == pytest.approx(SIGMA_MAX, rel=1e-6)


@pytest.mark.parametrize("n", [1, 7, 20])
def test_kdiffusion_schedules_match(oracle, n):
    ks = oracle[0]
    pairs = [
        (S.get_sigmas_karras(n, SIGMA_MIN, SIGMA_MAX), ks.get_sigmas_karras(n, SIGMA_MIN, SIGMA_MAX)),
        (S.get_sigmas_karras(n, 0.1, 10, rho=5.0), ks.get_sigmas_karras(n, 0.1, 10, rho=5.0)),
        (S.get_sigmas_exponential(n, SIGMA_MIN, SIGMA_MAX), ks.get_sigmas_exponential(n, SIGMA_MIN, SIGMA_MAX)),
        (S.get_sigmas_polyexponential(n, SIGMA_MIN, SIGMA_MAX), ks.get_sigmas_polyexponential(n, SIGMA_MIN, SIGMA_MAX)),
        (S.get_sigmas_polyexponential(n, SIGMA_MIN, SIGMA_MAX, rho=2.5),
         ks.get_sigmas_polyexponential(n, SIGMA_MIN, SIGMA_MAX, rho=2.5)),
        (S.get_sigmas_vp(n), ks.get_sigmas_vp(n)),
    ]
    for ours, theirs in pairs:
        assert ours.shape == theirs.shape == (n + 1,)
        assert torch.allclose(ours, theirs, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["uniform", "sgm_uniform", "simple_scheduler", "normal_scheduler", "ddim_scheduler"])
@pytest.mark.parametrize("n", [10, 20, 30])
def test_inner_model_schedules_same_with_kdiffusion_wrapper(oracle, model, wrapper, name, n):
    theirs = oracle[1].CompVisDenoiser(model)
    fn = getattr(S, name)
    assert torch.equal(fn(n, SIGMA_MIN, SIGMA_MAX, inner_model=wrapper), fn(n, SIGMA_MIN, SIGMA_MAX, inner_model=theirs))


# sums recorded once from these functions, after the check above against k-diffusion's wrapper as inner model
GOLDEN_SUMS = {
    ("uniform", 20): (21, 64.99991488829255),
    ("sgm_uniform", 10): (11, 38.144245475530624),
    ("sgm_uniform", 20): (21, 67.969562292099),
    ("simple_scheduler", 10): (11, 38.11703798174858),
    ("simple_scheduler", 30): (31, 98.07744015753269),
    ("normal_scheduler", 30): (31, 95.04478575661778),
    ("ddim_scheduler", 20): (21, 53.83737684413791),
    ("ddim_scheduler", 30): (32, 95.0656991712749),  # 1000 // 30 = 33 -> 31 timesteps: one more than asked
}


@pytest.mark.parametrize("key", sorted(GOLDEN_SUMS))
def test_inner_model_schedule_golden_sums(wrapper, key):
    name, n = key
    length, total = GOLDEN_SUMS[key]
    sigmas = getattr(S, name)(n, SIGMA_MIN, SIGMA_MAX, inner_model=wrapper)
    assert len(sigmas) == length and sigmas[-1] == 0
    assert sigmas.double().sum().item() == pytest.approx(total, rel=1e-6)
    assert torch.all(sigmas[:-1] > sigmas[1:])


def test_normal_equals_uniform_and_sgm_leaves_out_the_last(wrapper):
    assert torch.allclose(S.normal_scheduler(12, SIGMA_MIN, SIGMA_MAX, wrapper), S.uniform(12, SIGMA_MIN, SIGMA_MAX, wrapper))
    sgm = S.sgm_uniform(12, SIGMA_MIN, SIGMA_MAX, wrapper)
    full = S.normal_scheduler(13, SIGMA_MIN, SIGMA_MAX, wrapper, sgm=False)
    assert sgm[0] == pytest.approx(SIGMA_MAX) and sgm[-2] > SIGMA_MIN * 2
    assert len(sgm) == 13 and len(full) == 14


@pytest.mark.parametrize("n", [5, 20])
def test_kl_optimal_is_linear_in_arctan(n):
    sigmas = S.kl_optimal(n, SIGMA_MIN, SIGMA_MAX)
    assert len(sigmas) == n + 1
    angles = torch.arctan(sigmas.double())
    assert torch.allclose(angles.diff(), angles.diff()[0].expand(n), atol=1e-6)
    assert sigmas[0].item() == pytest.approx(SIGMA_MAX, rel=1e-5)
    assert sigmas[-1].item() == pytest.approx(SIGMA_MIN, rel=1e-5)  # A1111 1.10.1 ends at sigma_min, not 0


def test_align_your_steps_tables():
    assert S.align_your_steps(11, SIGMA_MIN, SIGMA_MAX).tolist() == pytest.approx(S.AYS_SD15 + [0.0])
    assert S.align_your_steps(11, SIGMA_MIN, SIGMA_MAX, is_sdxl=True).tolist() == pytest.approx(S.AYS_SDXL + [0.0])
    sigmas = S.align_your_steps(21, SIGMA_MIN, SIGMA_MAX).double()
    # log-linear resampling: every other point of 21 lies on the 11-point table
    assert sigmas[:-1:2].tolist() == pytest.approx(S.AYS_SD15, rel=1e-6)
    assert math.log(sigmas[1]) == pytest.approx((math.log(S.AYS_SD15[0]) + math.log(S.AYS_SD15[1])) / 2, rel=1e-6)
    assert S.align_your_steps(20, SIGMA_MIN, SIGMA_MAX).double().sum().item() == pytest.approx(55.316107377409935, rel=1e-6)


def test_beta_schedule_matches_1_10_1_math():
    from scipy import stats

    for n, (a, b) in [(10, (0.6, 0.6)), (20, (0.3, 0.9))]:
        expected = [SIGMA_MIN + stats.beta.ppf(q, a, b) * (SIGMA_MAX - SIGMA_MIN) for q in 1 - np.linspace(0, 1, n)]
        got = S.beta_scheduler(n, SIGMA_MIN, SIGMA_MAX, alpha=a, beta=b)
        assert got.tolist() == pytest.approx(expected + [0.0], rel=1e-6)
    assert S.beta_scheduler(10, SIGMA_MIN, SIGMA_MAX).double().sum().item() == pytest.approx(73.21904850192368, rel=1e-6)


def test_schedulers_api_list_is_a1111s():
    expected = json.loads((RESPONSES / "schedulers.json").read_text())["body"]
    assert schedulers_api_list() == expected


def test_scheduler_lookup():
    assert find_scheduler("karras").label == "Karras"
    assert find_scheduler("Karras").name == "karras"
    assert find_scheduler("SGMUniform").name == "sgm_uniform"
    assert find_scheduler("align your steps").name == "align_your_steps"
    assert find_scheduler("nope") is None and find_scheduler(None) is None
    assert [s.label for s in schedulers][:3] == ["Automatic", "Uniform", "Karras"]


@pytest.mark.parametrize("quantize", [False, True])
@pytest.mark.parametrize("parameterization", ["eps", "v"])
def test_denoiser_wrappers_match_kdiffusion(oracle, quantize, parameterization):
    model = GaussianLDM(parameterization)
    external = oracle[1]
    theirs = (external.CompVisVDenoiser if parameterization == "v" else external.CompVisDenoiser)(model, quantize=quantize)
    mine = make_kdiffusion_denoiser(model, quantize=quantize)
    sigma = torch.tensor([14.0, 3.3, 0.5, 0.031])
    assert torch.equal(mine.sigmas, theirs.sigmas)
    assert torch.equal(mine.sigma_to_t(sigma), theirs.sigma_to_t(sigma))
    t = torch.tensor([0.0, 10.5, 500.25, 999.0])
    assert torch.equal(mine.t_to_sigma(t), theirs.t_to_sigma(t))
    assert torch.equal(mine.get_sigmas(9), theirs.get_sigmas(9))
    assert torch.equal(mine.get_sigmas(), theirs.get_sigmas())
    x = torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(0)) * 3
    cond = {"c_crossattn": [text_cond(4, 0.7, tokens=1, width=1)]}
    assert torch.allclose(mine(x, sigma, cond=cond), theirs(x, sigma, cond=cond), atol=1e-6)


def test_lcm_denoiser_discretization(model):
    lcm = LCMDenoiser(model)
    assert len(lcm.sigmas) == 50
    t = lcm.sigma_to_t(lcm.sigmas)
    assert t.tolist() == list(range(19, 1000, 20))
    sigmas = lcm.get_sigmas(4)
    assert len(sigmas) == 5 and sigmas[-1] == 0
    assert sigmas[0] == pytest.approx(lcm.sigmas[-1].item()) and sigmas[-2] == pytest.approx(lcm.sigmas[0].item())


def test_timesteps_v_denoiser_gives_eps():
    eps_model, v_model = GaussianLDM("eps"), GaussianLDM("v")
    x = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([100.0, 700.0])
    cond = {"c_crossattn": [text_cond(2, 0.7, tokens=1, width=1)]}
    assert torch.allclose(make_timesteps_denoiser(v_model)(x, t, cond=cond),
                          make_timesteps_denoiser(eps_model)(x, t, cond=cond), atol=1e-5)


def test_zero_terminal_snr_rescale(model):
    alphas = model.alphas_cumprod
    rescaled = rescale_zero_terminal_snr(alphas)
    assert rescaled[0] == pytest.approx(alphas[0].item(), rel=1e-6)
    assert rescaled[-1].item() == pytest.approx(4.8973451890853435e-08, rel=1e-7)
    # sqrt(alpha_bar) is shifted so the last one is 0, then scaled: proportional to sqrt(a) - sqrt(a_T)
    a, b = alphas.double().sqrt(), rescaled.double().sqrt()
    ratio = b[:-1] / (a[:-1] - a[-1])
    assert (ratio.max() - ratio.min()) / ratio.mean() < 1e-4
    assert make_kdiffusion_denoiser(model, rescaled).sigmas[-1] > 4000


def test_effective_alphas_and_infotext(model):
    class Opts:
        use_downcasted_alpha_bar = True
        sd_noise_schedule = "Zero Terminal SNR"

    notes: dict = {}
    alphas = effective_alphas_cumprod(model.alphas_cumprod, Opts(), notes)
    assert notes == {"Downcast alphas_cumprod": True, "Noise Schedule": "Zero Terminal SNR"}
    assert alphas.dtype == torch.float16
    assert effective_alphas_cumprod(model.alphas_cumprod, None) is model.alphas_cumprod
