"""img2img alternative test: the noise found by reverse Euler leads back to the init image, is cached, and the
job's infotext names the decode settings."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

TITLE = "img2img alternative test"


def _picture(size: int = 64, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size // 16, size // 16, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BILINEAR)


def _p(**kw):
    from modules.processing import StableDiffusionProcessingImg2Img

    args = dict(prompt="ignored", negative_prompt="", steps=3, width=64, height=64, seed=11, sampler_name="DDIM",
                init_images=[_picture()], denoising_strength=0.4, cfg_scale=1.0, do_not_save_samples=True)
    args.update(kw)
    return StableDiffusionProcessingImg2Img(**args)


def _args(randomness: float = 0.0, steps: int = 8, sigma_adjustment: bool = False, **kw) -> list:
    values = dict(info=None, override_sampler=True, override_prompt=True, original_prompt="a cat",
                  original_negative_prompt="", override_steps=True, st=steps, override_strength=True, cfg=1.0,
                  randomness=randomness, sigma_adjustment=sigma_adjustment)
    values.update(kw)
    return list(values.values())


def _distance(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean())


def test_cache_matches_like_a1111():
    import torch

    from modules.builtin_scripts.find_noise import CachedNoise, latent_fingerprint

    latent = torch.zeros(1, 4, 8, 8)
    cached = CachedNoise(torch.zeros(1), 1.0, 10, latent_fingerprint(latent), "a", "b", False)
    assert cached.matches(1.0, 10, latent_fingerprint(latent), "a", "b", False)
    near = latent.clone()
    near.view(-1)[:99] = 0.1  # 99 elements one tenth off: a sum of 99, within the tolerance of 100
    assert cached.matches(1.0, 10, latent_fingerprint(near), "a", "b", False)
    near.view(-1)[99] = 0.1
    assert not cached.matches(1.0, 10, latent_fingerprint(near), "a", "b", False)
    assert not cached.matches(1.0, 10, latent_fingerprint(torch.zeros(1, 4, 8, 16)), "a", "b", False)
    assert not cached.matches(1.5, 10, latent_fingerprint(latent), "a", "b", False)
    assert not cached.matches(1.0, 11, latent_fingerprint(latent), "a", "b", False)
    assert not cached.matches(1.0, 10, latent_fingerprint(latent), "a2", "b", False)
    assert not cached.matches(1.0, 10, latent_fingerprint(latent), "a", "", False)
    assert not cached.matches(1.0, 10, latent_fingerprint(latent), "a", "b", True)


class GaussianDataModel:
    """An eps-predicting "network" that is the exact denoiser for data ~ N(0, s^2) per element, on the tiny model's
    noise schedule: the probability-flow ODE is then known, and reverse Euler must lead back to the latent."""

    parameterization = "eps"

    def __init__(self, alphas_cumprod, s: float = 1.0) -> None:
        from modules.sampling.denoisers import DiscreteSchedule, sigmas_from_alphas_cumprod

        self.alphas_cumprod = alphas_cumprod
        self.schedule = DiscreteSchedule(sigmas_from_alphas_cumprod(alphas_cumprod), quantize=False)
        self.s = s

    def apply_model(self, x_in, t, cond=None):
        from modules.sampling.sampler_math import append_dims

        sigma = append_dims(self.schedule.t_to_sigma(t), x_in.ndim)
        x = x_in * (sigma ** 2 + 1) ** 0.5
        denoised = x * self.s ** 2 / (self.s ** 2 + sigma ** 2)
        return (x - denoised) / sigma


def _forward_euler(model, noise, steps):
    import torch

    from modules.sampling.denoisers import make_kdiffusion_denoiser

    dnw = make_kdiffusion_denoiser(model)
    sigmas = dnw.get_sigmas(steps)
    x = noise * sigmas[0]
    for i in range(len(sigmas) - 1):
        denoised = dnw(x, sigmas[i] * torch.ones(x.shape[0]), cond=None)
        x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
    return x


@pytest.mark.parametrize("sigma_adjustment", [False, True])
def test_reverse_euler_inverts_forward_euler(sigma_adjustment):
    import torch

    from modules.builtin_scripts.find_noise import find_noise_for_image

    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    model = GaussianDataModel(torch.cumprod(1 - betas, 0).float())
    latent = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    cond = torch.zeros(2, 77, 8)
    with torch.no_grad():
        noise = find_noise_for_image(model, latent, cond, cond, 1.0, 30, sigma_adjustment=sigma_adjustment)
        back = _forward_euler(model, noise, 30)
        other = _forward_euler(model, torch.randn(latent.shape, generator=torch.Generator().manual_seed(1)), 30)
    if not sigma_adjustment:
        assert abs(noise.std().item() - 1.0) < 1e-4  # normalised to unit variance
    err_found = (back - latent).abs().mean().item()
    err_random = (other - latent).abs().mean().item()
    assert err_random > 0.9
    assert err_found < 0.1 * err_random, (err_found, err_random)


def test_found_noise_decodes_back_to_the_image(app, run):
    """The whole job at denoising strength 1 with the exact Gaussian denoiser: the found noise gives back the init
    latent's picture, random noise does not."""
    import torch

    from modules import scripts
    from modules.processing.latents import decode_latent_batch

    shared = app()
    model = shared.sd_model
    ideal = GaussianDataModel(model.alphas_cumprod)
    model.apply_model = ideal.apply_model  # this instance only: the test's stand-in for a trained UNet

    p = _p()
    found = run(scripts.scripts_img2img, TITLE, p, *_args(0.0, steps=20, sigma_adjustment=True))
    with torch.no_grad():
        decoded = decode_latent_batch(model, p.init_latent)
    array = torch.clamp((decoded[0].float() + 1) / 2, 0, 1).cpu().numpy()
    reference = Image.fromarray((np.moveaxis(array, 0, 2) * 255).astype(np.uint8))
    random = run(scripts.scripts_img2img, TITLE, _p(), *_args(1.0, steps=20, sigma_adjustment=True))
    d_found, d_random = _distance(found.images[0], reference), _distance(random.images[0], reference)
    assert d_found < 0.5 * d_random, (d_found, d_random)


def test_found_noise_is_cached_and_named_in_the_infotext(app, run, monkeypatch):
    import torch

    from modules import scripts
    from modules.builtin_scripts import find_noise

    app()
    calls = []
    real = find_noise.find_noise_for_image

    def counting(*args, **kwargs):
        calls.append(kwargs.get("sigma_adjustment"))
        return real(*args, **kwargs)

    monkeypatch.setattr(find_noise, "find_noise_for_image", counting)
    # the cache compares init latents, and the tiny VAE's posterior is wide: same job seed, same torch seed
    torch.manual_seed(0)
    p = _p()
    first = run(scripts.scripts_img2img, TITLE, p, *_args(0.0, steps=4))
    # the overrides: Euler, the decode steps, the original prompt, denoising strength 1
    assert (p.sampler_name, p.steps, p.prompt, p.denoising_strength) == ("Euler", 4, "a cat", 1.0)
    assert len(calls) == 1
    torch.manual_seed(0)
    second = run(scripts.scripts_img2img, TITLE, _p(), *_args(0.0, steps=4))
    assert len(calls) == 1  # same picture, same settings: the cached noise
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(second.images[0]))

    for part in ("Decode prompt: a cat", "Decode CFG scale: 1.0", "Decode steps: 4", "Randomness: 0.0",
                 "Sigma Adjustment: False", "Sampler: Euler", "Steps: 4", "Denoising strength: 1.0"):
        assert part in first.info, (part, first.info)

    # other settings or another picture: searched again
    torch.manual_seed(0)
    run(scripts.scripts_img2img, TITLE, _p(), *_args(0.0, steps=3))
    torch.manual_seed(0)
    run(scripts.scripts_img2img, TITLE, _p(width=128), *_args(0.0, steps=3))  # another latent size
    torch.manual_seed(0)
    adjusted = run(scripts.scripts_img2img, TITLE, _p(), *_args(0.5, steps=3, sigma_adjustment=True))
    assert calls == [False, False, False, True]
    assert "Sigma Adjustment: True" in adjusted.info and "Randomness: 0.5" in adjusted.info


def test_bad_arguments_are_clear_errors(app, run):
    from modules import scripts
    from modules.processing.processing_base import GenerationError

    app()
    with pytest.raises(GenerationError, match="randomness"):
        run(scripts.scripts_img2img, TITLE, _p(), *_args(1.5))
    with pytest.raises(GenerationError, match="sampler such as Euler"):
        run(scripts.scripts_img2img, TITLE, _p(), *_args(0.0, steps=2, override_sampler=False))
