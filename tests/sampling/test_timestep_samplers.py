"""DDIM, PLMS, UniPC and LCM converge to the data distribution N(mu, std^2) when given its exact denoiser."""
from __future__ import annotations

import math

import pytest
import torch

from modules.sampling import samplers_extra, samplers_timesteps, unipc
from modules.sampling.denoisers import LCMDenoiser
from tests.sampling.helpers import MU, STD, GaussianLDM, SeededNoise, assert_distribution, gaussian_denoiser, text_cond

SHAPE = (2, 4, 50, 50)  # 20000 samples


class EpsModel:
    """``model(x, t)`` -> exact eps for the Gaussian data, with the ``alphas_cumprod`` timestep samplers read."""

    def __init__(self) -> None:
        self.ldm = GaussianLDM()
        self.alphas_cumprod = self.ldm.alphas_cumprod
        self.timesteps: list[float] = []

    def __call__(self, x, t, **extra):
        self.timesteps.append(float(t.reshape(-1)[0]))
        return self.ldm.apply_model(x, t, {"c_crossattn": [text_cond(x.shape[0], MU, tokens=1, width=1)]})


def ode_mean(alphas_cumprod: torch.Tensor, start_timestep: int) -> float:
    """Mean the probability-flow ODE gives when started from N(0, 1) instead of the true marginal at that timestep:
    x0 = mu + (x_T - sqrt(a) mu) * std / sqrt(a std^2 + 1 - a)."""
    a = float(alphas_cumprod[start_timestep])
    return MU * (1 - math.sqrt(a) * STD / math.sqrt(a * STD ** 2 + 1 - a))


def noise():
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))


def test_timesteps_rule():
    assert samplers_timesteps.ddim_timesteps(20).tolist() == list(range(1, 1000, 50))
    # A1111's rule gives one more timestep when 1000 is not a multiple of the steps
    assert samplers_timesteps.ddim_timesteps(3).tolist() == [1, 334, 667, 999]
    assert samplers_timesteps.ddim_timesteps(1000).tolist() == [*range(1, 1000), 999]
    quad = samplers_timesteps.ddim_timesteps(10, "quad")
    assert len(quad) == 10 and quad[0] == 1 and quad[-1] == 801
    assert torch.all(quad.diff() > 0) and quad.diff()[0] < quad.diff()[-1]


@pytest.mark.parametrize("name", ["ddim", "plms"])
def test_ddim_plms_converge(name):
    model = EpsModel()
    timesteps = samplers_timesteps.ddim_timesteps(50)
    out = getattr(samplers_timesteps, name)(model, noise(), timesteps, disable=True)
    assert_distribution(out, mu=ode_mean(model.alphas_cumprod, int(timesteps[-1])), tol=0.02)


def test_ddim_runs_one_step_less_than_timesteps_and_ends_at_the_first():
    model = EpsModel()
    steps = []
    samplers_timesteps.ddim(model, noise(), samplers_timesteps.ddim_timesteps(10), disable=True,
                            callback=lambda d: steps.append(d["i"]))
    assert steps == list(range(9))
    assert model.timesteps == [901.0, 801.0, 701.0, 601.0, 501.0, 401.0, 301.0, 201.0, 101.0]


def test_ddim_with_eta_converges_and_uses_the_noise_sampler():
    model = EpsModel()
    x = noise()
    sampler = SeededNoise(x, 4)
    out = samplers_timesteps.ddim(model, x, samplers_timesteps.ddim_timesteps(200), disable=True, eta=1.0,
                                  noise_sampler=sampler)
    assert sampler.calls == 199
    assert_distribution(out, tol=0.02)


def test_ddim_cfgpp_step_uses_the_uncond_noise_for_the_direction():
    class Guided:
        alphas_cumprod = EpsModel().alphas_cumprod

        def __call__(self, x, t, **extra):
            self.last_noise_uncond = torch.full_like(x, 2.0)
            return torch.ones_like(x)

    model = Guided()
    x = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    out = samplers_timesteps.ddim_cfgpp(model, x, torch.tensor([1, 501]), disable=True)
    a_t, a_prev = float(model.alphas_cumprod[501]), float(model.alphas_cumprod[1])
    expected = math.sqrt(a_prev) * (x - math.sqrt(1 - a_t)) / math.sqrt(a_t) + math.sqrt(1 - a_prev) * 2.0
    assert torch.allclose(out, expected, atol=1e-5)
    assert model.cond_scale_miltiplier == 1 / 12.5 and model.need_last_noise_uncond


@pytest.mark.parametrize("variant", ["bh1", "bh2", "vary_coeff"])
@pytest.mark.parametrize("skip_type", ["time_uniform", "time_quadratic", "logSNR"])
def test_unipc_converges(variant, skip_type):
    model = EpsModel()
    out = unipc.unipc(model, noise(), samplers_timesteps.ddim_timesteps(40), disable=True, variant=variant,
                      skip_type=skip_type)
    assert_distribution(out, mu=ode_mean(model.alphas_cumprod, 999), tol=0.02)


@pytest.mark.parametrize("order,lower_order_final", [(1, True), (2, False), (3, False), (5, True)])
def test_unipc_orders(order, lower_order_final):
    # without lowering the order at the end, uniform time steps meet a huge final log-SNR step: use logSNR steps
    skip_type = "time_uniform" if lower_order_final else "logSNR"
    model = EpsModel()
    seen = []
    timesteps = samplers_timesteps.ddim_timesteps(30)  # 31 timesteps: UniPC takes one step per timestep
    out = unipc.unipc(model, noise(), timesteps, disable=True, order=order, skip_type=skip_type,
                      lower_order_final=lower_order_final, callback=lambda d: seen.append(d["i"]))
    assert seen == list(range(len(timesteps)))
    assert_distribution(out, mu=ode_mean(model.alphas_cumprod, 999), tol=0.03)


def test_unipc_order_above_steps_is_lowered():
    out = unipc.unipc(EpsModel(), noise(), samplers_timesteps.ddim_timesteps(2), disable=True, order=3)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("variant", ["bh1", "bh2"])
def test_unipc_high_order_converges_fast(variant):
    """Against the exact probability-flow solution x_0 = m_0 + (x_T - m_T) std_0 / std_T of the Gaussian data."""
    model = EpsModel()
    a = model.alphas_cumprod.double()
    x = noise()[:, :1]
    exact = (a[0].sqrt() * MU + (x.double() - a[999].sqrt() * MU) * (a[0] * STD ** 2 + 1 - a[0]).sqrt()
             / (a[999] * STD ** 2 + 1 - a[999]).sqrt()).float()
    errors = {}
    for order in (1, 3):
        out = unipc.unipc(model, x, samplers_timesteps.ddim_timesteps(20), disable=True, order=order, variant=variant,
                          skip_type="logSNR", lower_order_final=False)
        errors[order] = float((out - exact).abs().mean())
    assert errors[3] < 1e-3 and errors[3] < errors[1] / 20, errors


def test_interpolate_extrapolates_linearly():
    xp = torch.tensor([[0.0, 1.0, 3.0]])
    yp = torch.tensor([[0.0, 2.0, 3.0]])
    x = torch.tensor([[-1.0], [0.5], [2.0], [5.0]])
    assert unipc.interpolate(x, xp, yp).flatten().tolist() == [-2.0, 1.0, 2.5, 4.0]


def test_lcm_matches_its_recursion():
    """With an exact (linear) denoiser, LCM's x <- D(x) + sigma_next z has a closed-form mean and variance."""
    model = GaussianLDM()
    denoiser = LCMDenoiser(model)
    sigmas = denoiser.get_sigmas(8)
    cond = {"c_crossattn": [text_cond(SHAPE[0], MU, tokens=1, width=1)]}
    x = noise()
    out = samplers_extra.sample_lcm(lambda x, s: denoiser(x, s, cond=cond), x * sigmas[0], sigmas, disable=True,
                                    noise_sampler=SeededNoise(x, 5))
    mean, var = 0.0, float(sigmas[0]) ** 2
    for i in range(len(sigmas) - 1):
        k = STD ** 2 / (STD ** 2 + float(sigmas[i]) ** 2)
        mean = k * mean + (1 - k) * MU
        var = k ** 2 * var + float(sigmas[i + 1]) ** 2
    assert_distribution(out, mu=mean, std=math.sqrt(var), tol=0.02)


def test_lcm_denoiser_is_the_data_mean_at_its_sigmas():
    model = GaussianLDM()
    denoiser = LCMDenoiser(model)
    x = noise()[:, :1]
    sigma = denoiser.sigmas[10].expand(x.shape[0])
    cond = {"c_crossattn": [text_cond(x.shape[0], MU, tokens=1, width=1)]}
    assert torch.allclose(denoiser(x, sigma, cond=cond), gaussian_denoiser(x, sigma), atol=1e-3)
