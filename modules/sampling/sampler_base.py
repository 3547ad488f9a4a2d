"""The base of A1111's sampler objects: what ``KDiffusionSampler`` and ``CompVisSampler`` share.

The ``p`` protocol — what a sampler object reads from the processing object (any attribute may be missing unless
marked required; nothing else is read):

- ``steps`` (required), ``cfg_scale`` (required), ``denoising_strength`` (img2img)
- ``scheduler`` (label, id or alias; None/"Automatic" = the sampler's default), ``is_hr_pass``, ``hr_scheduler``
- ``eta`` (None = setting ``eta_ancestral`` / ``eta_ddim``), ``s_churn``, ``s_tmin``, ``s_tmax``, ``s_noise``,
  ``s_min_uncond``, ``image_cfg_scale`` (InstructPix2Pix)
- ``rng``: object whose ``next()`` returns the next batch of standard normal noise shaped like the latent (A1111's
  ``ImageRNG``: per-image generators, re-seeded with ENSD); without it torch's global generator is used
- ``all_seeds``, ``iteration``, ``batch_size``: the seeds of the current batch, for the SDE samplers' Brownian tree
- ``mask``, ``nmask`` (inpainting; the original latent is the ``x`` given to ``sample_img2img``)
- ``sampler_noise_scheduler_override``: ``callable(steps) -> sigmas`` replacing the schedule
- ``scripts``: object with ``on_mask_blend(p, MaskBlendArgs)``; ``get_conds()``: fresh (cond, uncond) after a
  refiner switch
- ``extra_generation_params`` (required dict): filled with A1111's infotext keys (``Schedule type``, ``Eta``,
  ``Schedule max sigma``, ``Discard penultimate sigma``, ``SGM noise multiplier``, ``Pad conds``, ``NGMS`` ...)

Written back to ``p``: ``s_churn``, ``s_tmin``, ``s_tmax``, ``s_noise`` when a setting overrides them (A1111 does).
"""
from __future__ import annotations

import inspect
import logging
from typing import Any, Callable

import torch

from modules.sampling.brownian import BrownianTreeNoiseSampler
from modules.sampling.environment import InterruptedException, SamplingEnv
from modules.sampling.sampler_math import NoiseSampler
from modules.sampling.settings import setting

log = logging.getLogger(__name__)


def setup_img2img_steps(p: Any, opts: Any, steps: int | None = None) -> tuple[int, int]:
    """(schedule length, steps actually run - 1) for img2img: normally ``p.steps`` scheduled and
    ``denoising_strength * p.steps`` run; with ``img2img_fix_steps`` (or explicit ``steps``) exactly the requested
    steps run out of a schedule stretched by 1 / denoising_strength."""
    if setting(opts, "img2img_fix_steps") or steps is not None:
        requested_steps = steps or p.steps
        steps = int(requested_steps / min(p.denoising_strength, 0.999)) if p.denoising_strength > 0 else 0
        t_enc = requested_steps - 1
    else:
        steps = p.steps
        t_enc = int(min(p.denoising_strength, 0.999) * steps)
    return steps, t_enc


class RngNoiseSampler:
    """Noise for ancestral/churn steps from the processing object's per-image RNG (``p.rng.next()``)."""

    def __init__(self, rng: Any) -> None:
        self.rng = rng

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        return self.rng.next()


def uses_eta_noise_seed_delta(config: Any, eta: float | None) -> bool:
    """Whether the ENSD setting changes this sampler's images (it uses fresh noise and eta is not 0)."""
    if config is None:
        return False
    if eta is None:
        eta = 0 if config.options.get("default_eta_is_0", False) else 1.0
    if eta == 0:
        return False
    return bool(config.options.get("uses_ensd", False))


class Sampler:
    """Drives one sampler function for one generation: schedule, noise, CFG denoiser, infotext, interruption."""

    # k-diffusion's defaults for the stochasticity knobs; a setting equal to them is not passed on
    s_churn = 0.0
    s_tmin = 0.0
    s_tmax = float("inf")
    s_noise = 1.0

    def __init__(self, funcname: Any, func: Callable[..., Any], sd_model: Any, env: SamplingEnv | None = None) -> None:
        self.funcname = funcname
        self.func = func
        self.sd_model = sd_model
        self.env = env if env is not None else SamplingEnv()
        self.extra_params: list[str] = []
        self.stop_at: int | None = None
        self.eta: float | None = None
        self.config: Any = None  # the SamplerData, set by create_sampler
        self.last_latent: torch.Tensor | None = None
        self.s_min_uncond: float | None = None
        self.eta_option_field = "eta_ancestral"
        self.eta_infotext_field = "Eta"
        self.eta_default = 1.0
        self.conditioning_key = getattr(sd_model, "conditioning_key", "crossattn")
        self.p: Any = None
        self.model_wrap_cfg: Any = None
        self.sampler_extra_args: dict[str, Any] | None = None
        self.options: dict[str, Any] = {}
        self.schedule_infotext: dict[str, Any] = {}

    @property
    def opts(self) -> Any:
        return self.env.opts

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(self.func).parameters)

    def callback_state(self, d: dict[str, Any]) -> None:
        """Per-step callback given to the sampler function: step counter, progress, ``stop_at``."""
        step = d["i"]
        if self.stop_at is not None and step > self.stop_at:
            raise InterruptedException
        self.env.state.sampling_step = step
        if self.env.on_step is not None:
            self.env.on_step()

    def launch_sampling(self, steps: int, func: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Run ``func``; an interrupt (or a recursion overflow of a bad schedule) returns the last latent."""
        self.model_wrap_cfg.steps = steps
        self.model_wrap_cfg.total_steps = self.config.total_steps(steps) if self.config is not None else steps
        self.env.state.sampling_steps = steps
        self.env.state.sampling_step = 0
        try:
            return func()
        except RecursionError:
            log.warning("Encountered RecursionError during sampling, returning last latent. rho >5 with a "
                        "polyexponential scheduler may cause this error. You should try to use a smaller rho value "
                        "instead.")
            return self.last_latent
        except InterruptedException:
            return self.last_latent

    def number_of_needed_noises(self, p: Any) -> int:
        return p.steps

    def noise_sampler(self, p: Any) -> NoiseSampler | None:
        """Fresh noise from ``p.rng`` (None: the sampler function's default, torch's global generator)."""
        rng = getattr(p, "rng", None)
        return RngNoiseSampler(rng) if rng is not None else None

    def initialize(self, p: Any) -> dict[str, Any]:
        """Set up the CFG denoiser for ``p`` and return the sampler function's knobs (eta, churn...)."""
        self.p = p
        cfg = self.model_wrap_cfg
        cfg.p = p
        cfg.mask = getattr(p, "mask", None)
        cfg.nmask = getattr(p, "nmask", None)
        cfg.step = 0
        cfg.image_cfg_scale = getattr(p, "image_cfg_scale", None)
        p_eta = getattr(p, "eta", None)
        self.eta = p_eta if p_eta is not None else setting(self.opts, self.eta_option_field)
        self.s_min_uncond = getattr(p, "s_min_uncond", None) or 0.0

        parameters = self.parameters
        kwargs: dict[str, Any] = {}
        for name in self.extra_params:
            if hasattr(p, name) and name in parameters:
                kwargs[name] = getattr(p, name)

        if "eta" in parameters:
            if self.eta != self.eta_default:
                p.extra_generation_params[self.eta_infotext_field] = self.eta
            kwargs["eta"] = self.eta

        if self.extra_params:
            # A1111: a setting that differs from k-diffusion's default wins over the request's value
            values = {
                "s_churn": setting(self.opts, "s_churn"),
                "s_tmin": setting(self.opts, "s_tmin"),
                "s_tmax": setting(self.opts, "s_tmax") or self.s_tmax,  # 0 = infinity
                "s_noise": setting(self.opts, "s_noise"),
            }
            labels = {"s_churn": "Sigma churn", "s_tmin": "Sigma tmin", "s_tmax": "Sigma tmax",
                      "s_noise": "Sigma noise"}
            for name, value in values.items():
                if name in kwargs and value != getattr(self, name):
                    kwargs[name] = value
                    setattr(p, name, value)
                    p.extra_generation_params[labels[name]] = value

        if "noise_sampler" in parameters:
            noise_sampler = self.noise_sampler(p)
            if noise_sampler is not None:
                kwargs["noise_sampler"] = noise_sampler
        return kwargs

    def create_noise_sampler(self, x: torch.Tensor, sigmas: torch.Tensor, p: Any) -> NoiseSampler | None:
        """For the SDE samplers: a Brownian tree per image, seeded with the image's seed, so that an image is the
        same in any batch (None with ``no_dpmpp_sde_batch_determinism``: the function makes its own)."""
        if setting(self.opts, "no_dpmpp_sde_batch_determinism"):
            return None
        sigma_min, sigma_max = sigmas[sigmas > 0].min(), sigmas.max()
        iteration, batch_size = getattr(p, "iteration", 0), getattr(p, "batch_size", x.shape[0])
        seeds = list(getattr(p, "all_seeds", []) or [])[iteration * batch_size:(iteration + 1) * batch_size]
        if len(seeds) != x.shape[0]:
            seeds = None  # no seeds known for this batch: one randomly seeded tree, as with the setting on
        return BrownianTreeNoiseSampler(x, sigma_min, sigma_max, seed=seeds, randn=self.env.randn_local)

    def note_schedule_overrides(self, p: Any) -> None:
        """Infotext of the alphas_cumprod overrides in use (written first, as A1111 applies them before sampling)."""
        p.extra_generation_params.update(self.schedule_infotext)

    def add_infotext(self, p: Any) -> None:
        if self.model_wrap_cfg.padded_cond_uncond:
            p.extra_generation_params["Pad conds"] = True
        if self.model_wrap_cfg.padded_cond_uncond_v0:
            p.extra_generation_params["Pad conds v0"] = True

    def sampler_args(self, p: Any, conditioning: Any, unconditional_conditioning: Any, image_conditioning: Any):
        """``extra_args`` for the sampler function: what the CFG denoiser's forward takes besides x and sigma."""
        return {"cond": conditioning, "image_cond": image_conditioning, "uncond": unconditional_conditioning,
                "cond_scale": p.cfg_scale, "s_min_uncond": self.s_min_uncond}

    def _launch(self, p: Any, x_start: torch.Tensor, last_latent: torch.Tensor, steps_for_state: int,
                kwargs: dict[str, Any], conditioning: Any, unconditional_conditioning: Any,
                image_conditioning: Any) -> torch.Tensor:
        """Call the sampler function from ``x_start`` through the CFG denoiser, then note padding in infotext."""
        self.last_latent = last_latent
        self.sampler_extra_args = self.sampler_args(p, conditioning, unconditional_conditioning, image_conditioning)
        samples = self.launch_sampling(steps_for_state, lambda: self.func(
            self.model_wrap_cfg, x_start, extra_args=self.sampler_extra_args, disable=False,
            callback=self.callback_state, **kwargs))
        self.add_infotext(p)
        return samples

    def sample(self, p, x, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        raise NotImplementedError

    def sample_img2img(self, p, x, noise, conditioning, unconditional_conditioning, steps=None,
                       image_conditioning=None):
        raise NotImplementedError
