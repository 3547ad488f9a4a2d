"""Degenerate inputs on the sampling path (issue 13): repeated sigmas, sigmas that underflow to 0, zero-step and
one-step schedules, zero-length Brownian intervals, DDIM with eta above 1, and more steps than timesteps.

Each guard is checked twice: the degenerate input gives finite numbers (where k-diffusion, A1111's code, gives NaN
or raises), and wherever k-diffusion's numbers are finite ours are the same, bit for bit.
"""
from __future__ import annotations

import threading
import types
import warnings

import pytest
import torch

from modules.sampling import samplers_dpm_solver, samplers_dpmpp, samplers_extra, samplers_karras
from modules.sampling import schedules as S
from modules.sampling.brownian import BrownianPath, BrownianTreeNoiseSampler
from modules.sampling.denoisers import DiscreteSchedule, make_kdiffusion_denoiser
from modules.sampling.environment import SamplingEnv
from modules.sampling.registry import create_sampler
from modules.sampling.sampler_math import get_ancestral_step, to_d
from modules.sampling.samplers_timesteps import ddim, ddim_timesteps
from modules.sampling.unipc import unipc
from tests.sampling.helpers import (MU, STD, AnalyticDenoiser, FakeP, FakeRng, GaussianLDM, SeededNoise, kdiffusion,
                                    make_alphas_cumprod, text_cond)

SIGMA_MIN, SIGMA_MAX = 0.0292, 14.6146
KARRAS_STYLE = ["sample_euler", "sample_euler_ancestral", "sample_heun", "sample_dpm_2", "sample_dpm_2_ancestral",
                "sample_lms", "sample_dpmpp_2s_ancestral", "sample_dpmpp_sde", "sample_dpmpp_2m", "sample_dpmpp_2m_sde",
                "sample_dpmpp_3m_sde"]
NOISY = {"sample_euler_ancestral", "sample_dpm_2_ancestral", "sample_dpmpp_2s_ancestral", "sample_dpmpp_sde",
         "sample_dpmpp_2m_sde", "sample_dpmpp_3m_sde"}


def ours(name):
    for module in (samplers_karras, samplers_dpmpp, samplers_dpm_solver, samplers_extra):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(name)


def karras(n=8, sigma_min=SIGMA_MIN):
    return S.get_sigmas_karras(n, sigma_min, SIGMA_MAX)


def schedule(kind: str) -> torch.Tensor:
    """The schedules the tests walk: a normal one and the degenerate shapes real settings produce."""
    base = karras()
    if kind == "normal":
        return base
    if kind == "repeated":  # a sigma twice in the middle (Simple at more steps than the model has timesteps)
        return torch.cat([base[:4], base[3:]])
    if kind == "repeated_tail":  # the last positive sigma twice, then 0
        return torch.cat([base[:-1], base[-2:]])
    if kind == "underflowed":  # a tiny sigma_min setting: the last sigmas round to 0 before the final 0
        return karras(sigma_min=1e-50)
    raise AssertionError(kind)


KINDS = ["normal", "repeated", "repeated_tail", "underflowed"]


@pytest.fixture(scope="module")
def x0():
    return torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))


def run(function, x0, sigmas, noise_seed=3, **knobs):
    extra = {"noise_sampler": SeededNoise(x0, noise_seed)} if function.__name__ in NOISY else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-diffusion's LMS quadrature warns on the NaN it makes
        return function(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True, **extra, **knobs)


def test_the_degenerate_schedules_come_from_real_settings():
    wrapper = make_kdiffusion_denoiser(GaussianLDM())
    # img2img with fixed steps at strength 0.01 schedules 20 / 0.01 = 2000 steps; Simple then repeats sigmas
    simple = S.simple_scheduler(2000, SIGMA_MIN, SIGMA_MAX, wrapper)
    assert (simple[1:] == simple[:-1]).any()
    assert (schedule("underflowed")[-2:] == 0).all()
    assert (S.get_sigmas_exponential(8, 1e-50, SIGMA_MAX)[-2:] == 0).all()


@pytest.mark.parametrize("kind", ["repeated", "repeated_tail", "underflowed"])
@pytest.mark.parametrize("name", KARRAS_STYLE + ["sample_lcm"])
def test_samplers_stay_finite_on_degenerate_schedules(x0, name, kind):
    sigmas = schedule(kind)
    assert torch.isfinite(run(ours(name), x0, sigmas)).all()
    if name in {"sample_dpmpp_sde", "sample_dpmpp_2m_sde", "sample_dpmpp_3m_sde"}:
        # with their default noise, a Brownian tree, which k-diffusion answers with 0 / 0 on a repeated sigma
        tree = BrownianTreeNoiseSampler(x0, sigmas[sigmas > 0].min(), sigmas.max(), seed=[5, 6])
        out = ours(name)(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True, noise_sampler=tree)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("steps", [24, 40])  # one restart segment, two
def test_restart_sampler_with_an_underflowed_sigma_min(x0, steps):
    """Restart rebuilds its schedule from sigmas[-2], which is 0 here: the zero-length steps at sigma 0 stay put."""
    sigmas = karras(steps, sigma_min=1e-50)
    out = samplers_extra.restart_sampler(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True,
                                         noise_sampler=SeededNoise(x0, 1))
    assert torch.isfinite(out).all()


# k-diffusion's non-finite answers, which the guards replace (the rest must stay bit for bit)
KDIFFUSION_NAN = {
    ("repeated", "sample_lms"), ("repeated", "sample_dpmpp_2m"), ("repeated", "sample_dpmpp_2m_sde"),
    ("repeated", "sample_dpmpp_3m_sde"), ("repeated_tail", "sample_lms"), ("repeated_tail", "sample_dpmpp_3m_sde"),
    *(("underflowed", name) for name in KARRAS_STYLE if name not in {"sample_dpmpp_2m_sde", "sample_dpmpp_3m_sde"}),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", KARRAS_STYLE)
def test_same_numbers_as_kdiffusion_wherever_it_is_finite(x0, name, kind):
    oracle = kdiffusion()[0]
    sigmas = schedule(kind)
    expected = run(getattr(oracle, name), x0, sigmas)
    got = run(ours(name), x0, sigmas)
    assert torch.isfinite(got).all()
    if (kind, name) in KDIFFUSION_NAN:
        assert not torch.isfinite(expected).all()
    elif name == "sample_lms":  # exact polynomial integral against k-diffusion's adaptive quadrature
        assert (expected - got).abs().max() < 1e-5
    else:
        assert torch.equal(expected, got)


@pytest.mark.parametrize("name", ["sample_euler", "sample_lms", "sample_dpmpp_2m", "sample_dpmpp_2m_sde",
                                  "sample_dpmpp_3m_sde"])
def test_a_zero_length_step_leaves_x_as_it_is(x0, name):
    seen = []
    sigmas = schedule("repeated")
    function = ours(name)
    knobs = {"eta": 0.0} if name in NOISY else {}
    function(AnalyticDenoiser(), x0 * sigmas[0], sigmas, disable=True, callback=lambda d: seen.append(d["x"]),
             **knobs)
    assert torch.equal(seen[3], seen[4])  # step 3 goes from sigmas[3] to the same sigma


@pytest.mark.parametrize("name", ["sample_dpmpp_2m", "sample_dpmpp_2m_sde", "sample_dpmpp_3m_sde"])
def test_multistep_history_skips_the_zero_length_step(x0, name):
    """With the repeat skipped, a deterministic multistep run equals the run on the schedule without the repeat
    (the model sees the same x at the same sigma twice, so nothing else can differ)."""
    knobs = {"eta": 0.0} if name in NOISY else {}
    with_repeat = run(ours(name), x0, schedule("repeated"), **knobs)
    without = run(ours(name), x0, schedule("normal"), **knobs)
    assert torch.equal(with_repeat, without)


def test_derivative_and_ancestral_split_at_sigma_zero(x0):
    denoised = x0 * 0.5
    assert torch.equal(to_d(x0, torch.tensor(0.0), denoised), torch.zeros_like(x0))
    sigma = torch.tensor([0.7, 0.0])
    d = to_d(x0, sigma, denoised)
    assert torch.equal(d[0], (x0[0] - denoised[0]) / 0.7) and torch.equal(d[1], torch.zeros_like(x0[1]))
    assert get_ancestral_step(torch.tensor(0.0), torch.tensor(0.0)) == (0.0, 0.0)
    oracle = kdiffusion()[0]
    for a, b, eta in [(5.0, 2.0, 1.0), (1.5, 1.5, 1.0), (3.0, 0.0, 0.5), (2.0, 1.0, 0.0)]:
        got = get_ancestral_step(torch.tensor(a), torch.tensor(b), eta)
        expected = oracle.get_ancestral_step(torch.tensor(a), torch.tensor(b), eta)
        assert all(float(g) == float(e) for g, e in zip(got, expected))


def _within(seconds: float, work) -> None:
    """Run ``work`` in a thread and fail (instead of hanging the suite) if it does not finish in time."""
    done = threading.Event()
    thread = threading.Thread(target=lambda: (work(), done.set()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert done.is_set(), "did not finish"


def test_brownian_noise_on_zero_and_sub_tolerance_intervals(x0):
    tree = BrownianTreeNoiseSampler(x0, SIGMA_MIN, SIGMA_MAX, seed=[3, 4])
    results = []

    def work():
        for a, b in [(1.0, 1.0), (0.5000002, 0.5000001), (2.00000049, 2.0000001)]:
            results.append(tree(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)))

    _within(20, work)  # two times 1e-7 apart used to split the tree's smallest node for ever
    assert all(torch.equal(w, torch.zeros_like(x0)) for w in results)


def test_brownian_noise_on_regular_intervals_is_unchanged(x0):
    tree = BrownianTreeNoiseSampler(x0, SIGMA_MIN, SIGMA_MAX, seed=[3, 4])
    path = BrownianPath(SIGMA_MIN, SIGMA_MAX, x0.shape[1:], x0.dtype, x0.device, 3)
    a, b = torch.tensor(3.5), torch.tensor(1.25)  # sampler order: from the larger sigma down, so W runs backwards
    assert torch.equal(tree(a, b)[0], -path(1.25, 3.5) / (b - a).abs().sqrt())


def test_lms_coefficients_with_repeated_nodes():
    t = [5.0, 3.0, 3.0, 2.0, 1.0]
    assert samplers_karras._distinct_order(t, 3, 4) == 2  # t_3, t_2 distinct; t_1 repeats t_2
    assert samplers_karras._distinct_order(t, 4, 4) == 3
    assert samplers_karras._distinct_order([5.0, 3.0, 2.0, 1.0], 3, 4) == 4
    oracle = kdiffusion()[0]
    sigmas = karras(10).numpy()
    for i in range(3, 8):
        for j in range(4):
            expected = oracle.linear_multistep_coeff(4, sigmas, i, j)
            assert samplers_karras.linear_multistep_coeff(4, sigmas, i, j) == pytest.approx(expected, rel=1e-6,
                                                                                           abs=1e-9)


def test_dpm_fast_over_a_zero_span(x0):
    """img2img at a strength that leaves sigma_min == sigma_max: every step has h = 0; the third-order step's
    (e^h - 1) / h - 1 takes its limit 0, so x stays where it is."""
    x = x0 * 2.0
    got = samplers_dpm_solver.sample_dpm_fast(AnalyticDenoiser(), x, 1.5, 1.5, 4, disable=True)
    assert torch.equal(got, x)
    oracle = kdiffusion()[0]
    assert not torch.isfinite(oracle.sample_dpm_fast(AnalyticDenoiser(), x, 1.5, 1.5, 4, disable=True)).all()


def test_dpm_solver_helpers_equal_the_plain_formulas():
    z = torch.tensor([0.0, 1e-3, -0.7, 2.5])
    expected = z.expm1() / z - 1
    got = samplers_dpm_solver._expm1_over_minus_1(z)
    assert got[0] == 0 and torch.equal(got[1:], expected[1:])
    to, down = torch.tensor([2.0, 1.0, 0.5]), torch.tensor([1.0, 1.0000001, 0.5])
    span = samplers_dpm_solver._noise_span(to, down)
    assert span[0] == (to[0] ** 2 - down[0] ** 2) ** 0.5 and torch.equal(span[1:], torch.zeros(2))


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_dpm_fast_unchanged_on_regular_input(x0, eta):
    oracle = kdiffusion()[0]
    expected = oracle.sample_dpm_fast(AnalyticDenoiser(), x0 * 14.6, SIGMA_MIN, SIGMA_MAX, 10, disable=True, eta=eta,
                                      noise_sampler=SeededNoise(x0, 4))
    got = samplers_dpm_solver.sample_dpm_fast(AnalyticDenoiser(), x0 * 14.6, SIGMA_MIN, SIGMA_MAX, 10, disable=True,
                                              eta=eta, noise_sampler=SeededNoise(x0, 4))
    assert torch.equal(expected, got)


def test_sigma_to_t_with_a_repeated_table_entry():
    table = torch.tensor([0.1, 0.5, 1.0, 1.0])  # fp16 rounding can leave the last two equal
    schedule_ = DiscreteSchedule(table, quantize=False)
    sigma = torch.tensor([1.0, 0.3, 0.05, 2.0])
    t = schedule_.sigma_to_t(sigma)
    assert torch.isfinite(t).all() and t[0] == 2.0
    # the interior is the plain interpolation
    log = table.log()
    w = (log[0] - sigma[1].log()) / (log[0] - log[1])
    assert t[1] == (1 - w) * 0 + w * 1 and t[2] == 0.0


# --- schedules ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wrapper():
    return make_kdiffusion_denoiser(GaussianLDM())


def _every_schedule(n, wrapper, sigma_min=SIGMA_MIN):
    with_model = {"uniform": S.uniform, "sgm_uniform": S.sgm_uniform, "normal": S.normal_scheduler,
                  "simple": S.simple_scheduler, "ddim": S.ddim_scheduler, "beta": S.beta_scheduler}
    plain = {"karras": S.get_sigmas_karras, "exponential": S.get_sigmas_exponential,
             "polyexponential": S.get_sigmas_polyexponential, "kl_optimal": S.kl_optimal,
             "align_your_steps": S.align_your_steps}
    out = {name: f(n, sigma_min, SIGMA_MAX, wrapper) for name, f in with_model.items()}
    out.update({name: f(n, sigma_min, SIGMA_MAX) for name, f in plain.items()})
    return out


def test_one_step_schedules(wrapper):
    for name, sigmas in _every_schedule(1, wrapper).items():
        assert torch.isfinite(sigmas).all(), name
        assert len(sigmas) == 2 and sigmas[0] > sigmas[1] >= 0, (name, sigmas)


def test_zero_step_schedules(wrapper):
    """A hires pass or img2img at strength 0 with fixed steps asks for 0 steps: A1111's KL Optimal gives NaN there,
    Simple and DDIM divide by 0; the guards give the end of the schedule only, as the others do."""
    schedules = _every_schedule(0, wrapper)
    for name, sigmas in schedules.items():
        assert torch.isfinite(sigmas).all() and len(sigmas) == 1, (name, sigmas)
    assert schedules["kl_optimal"].item() == pytest.approx(SIGMA_MIN)  # KL Optimal ends at sigma_min, not 0
    assert schedules["simple"].item() == 0 and schedules["ddim"].item() == 0


def test_tiny_sigma_min_schedules_stay_finite(wrapper):
    for name, sigmas in _every_schedule(10, wrapper, sigma_min=1e-50).items():
        assert torch.isfinite(sigmas).all() and (sigmas >= 0).all(), name


@pytest.mark.parametrize("n", [1, 7, 20, 999, 2000])
def test_simple_and_ddim_schedules_unchanged_for_positive_steps(wrapper, n):
    table = wrapper.sigmas
    stride = len(table) / n
    simple = [float(table[-(1 + int(x * stride))]) for x in range(n)] + [0.0]
    assert torch.equal(S.simple_scheduler(n, SIGMA_MIN, SIGMA_MAX, wrapper), torch.FloatTensor(simple))
    ddim_sigmas = [float(table[x]) for x in range(1, len(table), max(len(table) // n, 1))][::-1] + [0.0]
    assert torch.equal(S.ddim_scheduler(n, SIGMA_MIN, SIGMA_MAX, wrapper), torch.FloatTensor(ddim_sigmas))


@pytest.mark.parametrize("n", [1, 5, 20])
def test_kl_optimal_unchanged_for_positive_steps(n):
    a_min, a_max = torch.arctan(torch.tensor(SIGMA_MIN)), torch.arctan(torch.tensor(SIGMA_MAX))
    idx = torch.arange(n + 1)
    assert torch.equal(S.kl_optimal(n, SIGMA_MIN, SIGMA_MAX), torch.tan(idx / n * a_min + (1.0 - idx / n) * a_max))


def test_ddim_timesteps_for_more_steps_than_timesteps():
    many = ddim_timesteps(2000)  # A1111: range(0, 1000, 1000 // 2000) raises
    assert many.tolist() == [min(t + 1, 999) for t in range(1000)]
    assert ddim_timesteps(0).tolist() == [1]
    for steps in (1, 3, 20, 150, 1000):
        expected = torch.clip(torch.asarray(list(range(0, 1000, 1000 // steps))) + 1, 0, 999)
        assert torch.equal(ddim_timesteps(steps), expected)


# --- DDIM with eta above 1 ---------------------------------------------------------------------------------------

class _EpsModel:
    """A timestep denoiser predicting eps = 0.3 x, with SD's schedule."""

    def __init__(self) -> None:
        self.alphas_cumprod = make_alphas_cumprod()

    def __call__(self, x, t, **kwargs):
        return 0.3 * x


def _ddim_unguarded(model, x, timesteps, eta, noise):
    """A1111's DDIM step as written (no clamp), for the numbers the guarded one must keep."""
    ac = model.alphas_cumprod
    prev = ac[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].double()
    a = ac[timesteps]
    sig = eta * torch.sqrt((1 - prev) / (1 - a.double()) * (1 - a.double() / prev))
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t = model(x, timesteps[index])
        a_t, a_prev, s = [x.new_full((x.shape[0], 1, 1, 1), float(v)) for v in (a[index], prev[index], sig[index])]
        pred_x0 = (x - torch.sqrt(1 - a_t) * e_t) / a_t.sqrt()
        x = a_prev.sqrt() * pred_x0 + (1.0 - a_prev - s ** 2).sqrt() * e_t + s * noise(None, None)
    return x


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0, 3.0])
def test_ddim_eta(x0, eta):
    timesteps = ddim_timesteps(10)
    got = ddim(_EpsModel(), x0, timesteps, disable=True, eta=eta, noise_sampler=SeededNoise(x0, 2))
    expected = _ddim_unguarded(_EpsModel(), x0, timesteps, eta, SeededNoise(x0, 2))
    assert torch.isfinite(got).all()
    if eta <= 1:
        assert torch.equal(got, expected)
    else:  # more fresh noise than the step holds: A1111's sqrt of a negative number
        assert not torch.isfinite(expected).all()


def test_unipc_with_no_timesteps_returns_its_input(x0):
    model = types.SimpleNamespace(alphas_cumprod=make_alphas_cumprod())
    assert unipc(model, x0, torch.tensor([], dtype=torch.long), disable=True, is_img2img=True) is x0


# --- sampler objects: the zero-step and many-step img2img cases --------------------------------------------------

SHAPE = (2, 1, 16, 16)


def _img2img(name, scheduler, denoising_strength, steps=None):
    env = SamplingEnv(opts=types.SimpleNamespace(img2img_fix_steps=True))
    sampler = create_sampler(name, GaussianLDM(), env)
    data = MU + STD * torch.randn(SHAPE, generator=torch.Generator().manual_seed(8))
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(9))
    p = FakeP(steps=6, denoising_strength=denoising_strength, scheduler=scheduler, rng=FakeRng(SHAPE, 1),
              all_seeds=[1, 2], iteration=0, batch_size=2)
    out = sampler.sample_img2img(p, data, noise, text_cond(2, MU), text_cond(2, MU), steps=steps)
    return out, data


@pytest.mark.parametrize("name", ["Euler", "DPM fast", "DPM adaptive", "DPM++ 2M SDE", "DPM++ SDE", "DDIM", "PLMS",
                                  "UniPC", "LCM"])
@pytest.mark.parametrize("scheduler", ["Karras", "Simple", "DDIM", "KL Optimal"])
def test_strength_zero_with_fixed_steps_changes_nothing(name, scheduler):
    """0 steps (A1111 raises for DDIM, DPM fast/adaptive, the SDE samplers, Simple and DDIM schedules; gives NaN for
    KL Optimal): the latent comes back as it went in (noised to the schedule's end for KL Optimal)."""
    for steps in (None, 4):  # the img2img tab's fixed steps, and the hires pass's explicit steps
        out, data = _img2img(name, scheduler, 0.0, steps)
        assert torch.isfinite(out).all()
        if scheduler != "KL Optimal" or name in {"DDIM", "PLMS", "UniPC"}:
            assert torch.equal(out, data)


@pytest.mark.parametrize("name, scheduler", [("DDIM", None), ("PLMS", None), ("DPM++ 2M", "Simple"),
                                             ("LMS", "Simple"), ("DPM++ 3M SDE", "Simple")])
def test_low_strength_with_fixed_steps(name, scheduler):
    """Strength 0.004 with 6 fixed steps schedules 1500: more than DDIM has timesteps (A1111 raises) and, with
    Simple, repeated sigmas in the part that runs (A1111 gives NaN for the multistep samplers)."""
    out, data = _img2img(name, scheduler, 0.004)
    assert torch.isfinite(out).all()
    assert (out - data).abs().mean() < 0.1  # so little noise that the picture stays close


# --- fp16 schedule with Zero Terminal SNR ------------------------------------------------------------------------

def test_downcast_zero_terminal_snr_sigmas_stay_finite():
    """``use_downcasted_alpha_bar`` + ``Zero Terminal SNR``: alphas down to 6e-8 in fp16, where (1 - a) / a
    overflows before its square root; A1111's largest sigmas (and so every starting noise) are inf."""
    from modules.sampling.denoisers import sigmas_from_alphas_cumprod
    from modules.sampling.noise_schedule import effective_alphas_cumprod

    opts = types.SimpleNamespace(use_downcasted_alpha_bar=True, sd_noise_schedule="Zero Terminal SNR")
    alphas = effective_alphas_cumprod(make_alphas_cumprod(), opts)
    plain = ((1 - alphas) / alphas) ** 0.5
    assert alphas.dtype == torch.float16 and torch.isinf(plain[-1])
    sigmas = sigmas_from_alphas_cumprod(alphas)
    assert torch.isfinite(sigmas).all() and sigmas.dtype == torch.float16
    finite = torch.isfinite(plain)
    assert torch.equal(sigmas[finite], plain[finite])  # A1111's fp16 numbers wherever they are finite
    assert (sigmas[1:] >= sigmas[:-1]).all() and sigmas[-1] == 4096  # sqrt(1 / 2^-24), fp16's smallest alpha
    plain_opts = types.SimpleNamespace(use_downcasted_alpha_bar=True, sd_noise_schedule="Default")
    fp16 = effective_alphas_cumprod(make_alphas_cumprod(), plain_opts)
    assert torch.equal(sigmas_from_alphas_cumprod(fp16), ((1 - fp16) / fp16) ** 0.5)

    sampler = create_sampler("Euler", GaussianLDM(), SamplingEnv(opts=opts))
    p = FakeP(steps=6, scheduler="Karras", rng=FakeRng(SHAPE, 1), all_seeds=[1, 2], iteration=0, batch_size=2)
    out = sampler.sample(p, torch.randn(SHAPE, generator=torch.Generator().manual_seed(3)), text_cond(2, MU),
                         text_cond(2, MU))
    assert torch.isfinite(out).all()
