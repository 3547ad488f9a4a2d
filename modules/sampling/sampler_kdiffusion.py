"""A1111's ``KDiffusionSampler`` (and the LCM one built on it): sigma schedules, initial noise scaling, img2img
start point and the call of a k-diffusion-style sampler function through the CFG denoiser."""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from modules.sampling.cfg_denoiser import CFGDenoiser
from modules.sampling.cfg_params import ExtraNoiseParams
from modules.sampling.denoisers import LCMDenoiser, make_kdiffusion_denoiser
from modules.sampling.environment import SamplingEnv
from modules.sampling.functions import SAMPLER_EXTRA_PARAMS, function_name, resolve_function
from modules.sampling.noise_schedule import effective_alphas_cumprod
from modules.sampling.sampler_base import Sampler, setup_img2img_steps
from modules.sampling.schedulers import LazyFunction, find_scheduler
from modules.sampling.settings import setting


class CFGDenoiserKDiffusion(CFGDenoiser):
    """CFG around k-diffusion's eps/v denoiser of the model (schedule overrides and quantization from settings)."""

    def make_inner_model(self) -> nn.Module:
        alphas = effective_alphas_cumprod(self.sd_model.alphas_cumprod, self.env.opts)
        quantize = bool(setting(self.env.opts, "enable_quantization"))
        return make_kdiffusion_denoiser(self.sd_model, alphas, quantize=quantize)


class CFGDenoiserLCM(CFGDenoiser):
    """CFG around the latent consistency model's denoiser."""

    def make_inner_model(self) -> nn.Module:
        return LCMDenoiser(self.sd_model, effective_alphas_cumprod(self.sd_model.alphas_cumprod, self.env.opts))


def _accepts(function: Any, name: str) -> bool:
    target = function.resolve() if isinstance(function, LazyFunction) else function
    try:
        return name in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


class KDiffusionSampler(Sampler):
    """Samples with a sigma-schedule sampler function ``fn(model, x, sigmas, extra_args, callback, disable, ...)``."""

    cfg_denoiser_class: type[CFGDenoiser] = CFGDenoiserKDiffusion

    def __init__(self, funcname: Any, sd_model: Any, env: SamplingEnv | None = None, options: dict | None = None):
        super().__init__(funcname, resolve_function(funcname), sd_model, env)
        self.extra_params = list(SAMPLER_EXTRA_PARAMS.get(function_name(funcname), []))
        self.options = options or {}
        effective_alphas_cumprod(sd_model.alphas_cumprod, self.opts, infotext=self.schedule_infotext)
        self.model_wrap_cfg = self.cfg_denoiser_class(self, sd_model, self.env)
        self.model_wrap = self.model_wrap_cfg.inner_model

    def get_sigmas(self, p: Any, steps: int) -> torch.Tensor:
        """The schedule for ``steps`` steps per ``p.scheduler`` and the settings; records its infotext keys."""
        opts = self.opts
        options = self.config.options if self.config is not None else {}
        discard_next_to_last_sigma = options.get("discard_next_to_last_sigma", False)
        if setting(opts, "always_discard_next_to_last_sigma") and not discard_next_to_last_sigma:
            discard_next_to_last_sigma = True
            p.extra_generation_params["Discard penultimate sigma"] = True
        steps += 1 if discard_next_to_last_sigma else 0

        is_hr_pass = getattr(p, "is_hr_pass", False)
        scheduler_name = getattr(p, "hr_scheduler", None) if is_hr_pass else getattr(p, "scheduler", None)
        scheduler_name = scheduler_name or "Automatic"
        if scheduler_name == "Automatic":
            scheduler_name = options.get("scheduler", None)
        scheduler = find_scheduler(scheduler_name)

        m_sigma_min, m_sigma_max = self.model_wrap.sigmas[0].item(), self.model_wrap.sigmas[-1].item()
        if setting(opts, "use_old_karras_scheduler_sigmas"):
            sigma_min, sigma_max = 0.1, 10
        else:
            sigma_min, sigma_max = m_sigma_min, m_sigma_max

        override = getattr(p, "sampler_noise_scheduler_override", None)
        if override:
            sigmas = override(steps)
        elif scheduler is None or scheduler.function is None:
            sigmas = self.model_wrap.get_sigmas(steps)
        else:
            kwargs: dict[str, Any] = {"sigma_min": sigma_min, "sigma_max": sigma_max}
            if scheduler.label != "Automatic" and not is_hr_pass:
                p.extra_generation_params["Schedule type"] = scheduler.label
            elif scheduler.label != p.extra_generation_params.get("Schedule type"):
                p.extra_generation_params["Hires schedule type"] = scheduler.label

            # a setting of 0 means "the model's own"; one equal to the model's value is not noted either
            user_min, user_max, rho = setting(opts, "sigma_min"), setting(opts, "sigma_max"), setting(opts, "rho")
            if user_min != 0 and user_min != m_sigma_min:
                kwargs["sigma_min"] = user_min
                p.extra_generation_params["Schedule min sigma"] = user_min
            if user_max != 0 and user_max != m_sigma_max:
                kwargs["sigma_max"] = user_max
                p.extra_generation_params["Schedule max sigma"] = user_max
            if scheduler.default_rho != -1 and rho != 0 and rho != scheduler.default_rho:
                kwargs["rho"] = rho
                p.extra_generation_params["Schedule rho"] = rho
            if scheduler.need_inner_model:
                kwargs["inner_model"] = self.model_wrap
            if scheduler.label == "Beta":
                p.extra_generation_params["Beta schedule alpha"] = setting(opts, "beta_dist_alpha")
                p.extra_generation_params["Beta schedule beta"] = setting(opts, "beta_dist_beta")
                if _accepts(scheduler.function, "alpha"):
                    kwargs["alpha"] = setting(opts, "beta_dist_alpha")
                    kwargs["beta"] = setting(opts, "beta_dist_beta")
            if _accepts(scheduler.function, "is_sdxl"):
                kwargs["is_sdxl"] = bool(getattr(self.sd_model, "is_sdxl", False))
            sigmas = scheduler.function(n=steps, **kwargs, device="cpu")

        if discard_next_to_last_sigma:
            sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
        return sigmas

    def _function_kwargs(self, x: torch.Tensor, sigmas: torch.Tensor, p: Any, kwargs: dict[str, Any]) -> None:
        options = self.config.options if self.config is not None else {}
        if options.get("brownian_noise", False):
            kwargs["noise_sampler"] = self.create_noise_sampler(x, sigmas, p)
        if options.get("solver_type", None) == "heun":
            kwargs["solver_type"] = "heun"

    def sample(self, p, x, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        """txt2img: ``x`` is unit-variance noise, scaled here to the first sigma."""
        self.note_schedule_overrides(p)
        steps = steps or p.steps
        sigmas = self.get_sigmas(p, steps).to(x.device)
        if setting(self.opts, "sgm_noise_multiplier"):
            p.extra_generation_params["SGM noise multiplier"] = True
            x = x * torch.sqrt(1.0 + sigmas[0] ** 2.0)
        else:
            x = x * sigmas[0]

        kwargs = self.initialize(p)
        parameters = self.parameters
        if "n" in parameters:
            kwargs["n"] = steps
        if "sigma_min" in parameters:
            # DPM fast/adaptive span the model's whole sigma range in txt2img, whatever the schedule
            kwargs["sigma_min"] = self.model_wrap.sigmas[0].item()
            kwargs["sigma_max"] = self.model_wrap.sigmas[-1].item()
        if "sigmas" in parameters:
            kwargs["sigmas"] = sigmas
        self._function_kwargs(x, sigmas, p, kwargs)
        return self._launch(p, x, x, steps, kwargs, conditioning, unconditional_conditioning, image_conditioning)

    def sample_img2img(self, p, x, noise, conditioning, unconditional_conditioning, steps=None,
                       image_conditioning=None):
        """img2img / hires: start from the latent ``x`` noised to the sigma where the shortened schedule begins."""
        self.note_schedule_overrides(p)
        steps, t_enc = setup_img2img_steps(p, self.opts, steps)
        sigmas = self.get_sigmas(p, steps).to(x.device)
        sigma_sched = sigmas[steps - t_enc - 1:]

        x = x.to(noise)
        add_noise = getattr(self.sd_model, "add_noise_to_latent", None)  # a flow model (SD3) interpolates
        xi = add_noise(x, noise, sigma_sched[0]) if add_noise is not None else x + noise * sigma_sched[0]
        extra_noise = setting(self.opts, "img2img_extra_noise")
        if extra_noise > 0:
            p.extra_generation_params["Extra noise"] = extra_noise
            params = ExtraNoiseParams(noise, x, xi)
            self.env.emit(self.env.extra_noise_callbacks, params)
            noise = params.noise
            xi = xi + noise * extra_noise

        kwargs = self.initialize(p)
        if len(sigma_sched) < 2:
            # no step to take (denoising strength 0 with fixed steps, as a hires pass at strength 0 has): every sampler
            # would hand xi back untouched, but DPM fast/adaptive and the Brownian tree need a positive sigma and raise
            return xi
        parameters = self.parameters
        if "sigma_min" in parameters:
            kwargs["sigma_min"] = sigma_sched[-2]  # the last sigma is 0, which DPM fast/adaptive cannot take
        if "sigma_max" in parameters:
            kwargs["sigma_max"] = sigma_sched[0]
        if "n" in parameters:
            kwargs["n"] = len(sigma_sched) - 1
        if "sigma_sched" in parameters:
            kwargs["sigma_sched"] = sigma_sched
        if "sigmas" in parameters:
            kwargs["sigmas"] = sigma_sched
        self._function_kwargs(x, sigmas, p, kwargs)
        self.model_wrap_cfg.init_latent = x
        return self._launch(p, xi, x, t_enc + 1, kwargs, conditioning, unconditional_conditioning, image_conditioning)


class LCMSampler(KDiffusionSampler):
    """The LCM sampler: k-diffusion-style sampling through the LCM denoiser and its own 50-step discretization."""

    cfg_denoiser_class = CFGDenoiserLCM
