"""Every k-diffusion-family sampler equals the k-diffusion package's function (the oracle) on the same denoiser,
sigmas and noise; the Brownian tree reproduces torchsde's draw for draw."""
from __future__ import annotations

import warnings

import pytest
import torch

from modules.sampling import brownian, samplers_dpm_solver, samplers_dpmpp, samplers_extra, samplers_karras, schedules
from tests.sampling.helpers import AnalyticDenoiser, SeededNoise, kdiffusion

TOL = 1e-5


@pytest.fixture(scope="module")
def oracle():
    return kdiffusion()[0]


@pytest.fixture
def x0():
    return torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def sigmas():
    return schedules.get_sigmas_karras(12, 0.0292, 14.6146)


def ours(name):
    for module in (samplers_karras, samplers_dpmpp, samplers_dpm_solver, samplers_extra):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["sample_euler", "sample_heun", "sample_dpm_2", "sample_lms", "sample_dpmpp_2m"])
def test_deterministic_samplers_match(oracle, x0, sigmas, name):
    expected = getattr(oracle, name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True)
    got = ours(name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True)
    assert (expected - got).abs().max() < TOL


@pytest.mark.parametrize("name", ["sample_euler", "sample_heun", "sample_dpm_2"])
def test_churn_draws_the_same_noise(oracle, x0, sigmas, name):
    # k-diffusion draws churn noise from torch's global generator on every step; so do ours by default
    knobs = dict(s_churn=4.0, s_tmin=0.05, s_tmax=10.0, s_noise=1.003)
    torch.manual_seed(5)
    expected = getattr(oracle, name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True, **knobs)
    torch.manual_seed(5)
    got = ours(name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True, **knobs)
    assert (expected - got).abs().max() < TOL


@pytest.mark.parametrize("name", ["sample_euler_ancestral", "sample_dpm_2_ancestral", "sample_dpmpp_2s_ancestral",
                                  "sample_dpmpp_sde", "sample_dpmpp_2m_sde", "sample_dpmpp_3m_sde"])
@pytest.mark.parametrize("eta", [1.0, 0.6])
def test_noisy_samplers_match_with_injected_noise(oracle, x0, sigmas, name, eta):
    expected = getattr(oracle, name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True, eta=eta, s_noise=1.01,
                                     noise_sampler=SeededNoise(x0, 3))
    got = ours(name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True, eta=eta, s_noise=1.01,
                     noise_sampler=SeededNoise(x0, 3))
    assert (expected - got).abs().max() < TOL


def test_2m_sde_heun_solver_matches(oracle, x0, sigmas):
    expected = oracle.sample_dpmpp_2m_sde(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True,
                                          noise_sampler=SeededNoise(x0, 9), solver_type="heun")
    got = samplers_dpmpp.sample_dpmpp_2m_sde(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True,
                                             noise_sampler=SeededNoise(x0, 9), solver_type="heun")
    assert (expected - got).abs().max() < TOL


@pytest.mark.parametrize("name", ["sample_dpmpp_sde", "sample_dpmpp_2m_sde", "sample_dpmpp_3m_sde"])
def test_sde_samplers_default_brownian_tree_matches_torchsde(oracle, x0, sigmas, name):
    # both draw the tree's seed from torch's global generator, then use their own Brownian tree
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchsde warns about float32 endpoints a hair outside [t0, t1]
        torch.manual_seed(7)
        expected = getattr(oracle, name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True)
    torch.manual_seed(7)
    got = ours(name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True)
    assert (expected - got).abs().max() < TOL


def test_brownian_noise_sampler_per_image_seeds(oracle, x0, sigmas):
    seeds = [1234, 987654321]
    mine = brownian.BrownianTreeNoiseSampler(x0, sigmas[-2], sigmas[0], seed=seeds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = oracle.BrownianTreeNoiseSampler(x0, sigmas[-2], sigmas[0], seed=seeds)
        # queries in sampler order, a sub-step and a reversed pair, like DPM++ SDE makes
        pairs = [(sigmas[i], sigmas[i + 1]) for i in range(len(sigmas) - 2)] + [(sigmas[3], sigmas[3] * 0.8),
                                                                              (sigmas[5], sigmas[2])]
        for a, b in pairs:
            assert (mine(a, b) - theirs(a, b)).abs().max() < TOL


def test_brownian_image_noise_does_not_depend_on_batch(x0, sigmas):
    both = brownian.BrownianTreeNoiseSampler(x0, sigmas[-2], sigmas[0], seed=[11, 22])
    alone = brownian.BrownianTreeNoiseSampler(x0[1:], sigmas[-2], sigmas[0], seed=[22])
    assert torch.equal(both(sigmas[2], sigmas[3])[1], alone(sigmas[2], sigmas[3])[0])


def test_brownian_increments_are_brownian():
    path = brownian.BrownianPath(0.0, 4.0, (20000,), torch.float32, torch.device("cpu"), entropy=5)
    w1, w2 = path(0.5, 1.5), path(1.5, 3.5)
    assert abs(float(w1.var()) - 1.0) < 0.05 and abs(float(w2.var()) - 2.0) < 0.1
    assert abs(float((w1 * w2).mean())) < 0.05  # independent increments
    assert torch.allclose(path(0.5, 3.5), w1 + w2, atol=1e-5)


def test_injected_randn_is_used(x0, sigmas):
    calls = []

    def randn(seed, shape):
        calls.append(seed)
        return torch.ones(shape)

    sampler = brownian.BrownianTreeNoiseSampler(x0, sigmas[-2], sigmas[0], seed=[1, 2], randn=randn)
    sampler(sigmas[1], sigmas[2])
    assert calls


def test_dpm_fast_matches(oracle, x0):
    expected = oracle.sample_dpm_fast(AnalyticDenoiser(), x0 * 14.6, 0.0292, 14.6146, 10, disable=True, eta=0.5,
                                      noise_sampler=SeededNoise(x0, 4))
    got = samplers_dpm_solver.sample_dpm_fast(AnalyticDenoiser(), x0 * 14.6, 0.0292, 14.6146, 10, disable=True,
                                              eta=0.5, noise_sampler=SeededNoise(x0, 4))
    assert (expected - got).abs().max() < TOL


@pytest.mark.parametrize("order", [2, 3])
def test_dpm_adaptive_matches(oracle, x0, order):
    expected, info = oracle.sample_dpm_adaptive(AnalyticDenoiser(), x0 * 14.6, 0.0292, 14.6146, disable=True,
                                                order=order, eta=0.3, noise_sampler=SeededNoise(x0, 4),
                                                return_info=True)
    got, got_info = samplers_dpm_solver.sample_dpm_adaptive(AnalyticDenoiser(), x0 * 14.6, 0.0292, 14.6146,
                                                            disable=True, order=order, eta=0.3,
                                                            noise_sampler=SeededNoise(x0, 4), return_info=True)
    assert (expected - got).abs().max() < TOL
    assert info == got_info


def test_lms_coefficients_equal_quadrature(oracle, sigmas):
    s = sigmas.numpy()
    for i in range(len(s) - 2):
        for order in range(1, min(i + 1, 4) + 1):
            for j in range(order):
                assert samplers_karras.linear_multistep_coeff(order, s, i, j) == pytest.approx(
                    oracle.linear_multistep_coeff(order, s, i, j), rel=1e-6, abs=1e-9)


def test_restart_without_restarts_is_heun(oracle, x0, sigmas):
    # under 20 steps A1111's Restart does no restart: plain Heun steps
    expected = oracle.sample_heun(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True)
    got = samplers_extra.restart_sampler(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True)
    assert (expected - got).abs().max() < TOL


def test_restart_schedule_and_noise(x0):
    sigmas = schedules.get_sigmas_karras(24, 0.0292, 14.6146)
    model = AnalyticDenoiser()
    noise = SeededNoise(x0, 2)
    steps = []
    samplers_extra.restart_sampler(model, x0 * sigmas[0], sigmas, disable=True, noise_sampler=noise,
                                   callback=lambda d: steps.append(d["i"]))
    # 24 steps: 24 - 9 main Karras steps plus one restart of 9 steps, entered by one jump back up in noise
    assert noise.calls == 1
    assert len(steps) == 15 + 9
    assert model.calls == 2 * len(steps) - 1  # Heun: two calls per step but the last (to sigma 0)


def test_callbacks_see_every_step(oracle, x0, sigmas):
    seen = []
    samplers_dpmpp.sample_dpmpp_2m(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True,
                                   callback=lambda d: seen.append((d["i"], float(d["sigma"]), set(d))))
    assert [s[0] for s in seen] == list(range(len(sigmas) - 1))
    assert seen[0][1] == pytest.approx(float(sigmas[0]))
    assert seen[0][2] == {"x", "i", "sigma", "sigma_hat", "denoised"}
