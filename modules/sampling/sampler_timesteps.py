"""A1111's ``CompVisSampler``: DDIM, DDIM CFG++, PLMS and UniPC over DDPM timesteps, driven through a CFG denoiser
that returns noise predictions."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from modules.sampling.cfg_denoiser import CFGDenoiser
from modules.sampling.cfg_params import ExtraNoiseParams
from modules.sampling.denoisers import make_timesteps_denoiser
from modules.sampling.environment import SamplingEnv
from modules.sampling.functions import function_name, resolve_function
from modules.sampling.noise_schedule import effective_alphas_cumprod
from modules.sampling.sampler_base import Sampler, setup_img2img_steps
from modules.sampling.samplers_timesteps import ddim_timesteps
from modules.sampling.settings import setting


class CFGDenoiserTimesteps(CFGDenoiser):
    """CFG over eps predictions at DDPM timesteps; the inpainting mask is blended into x before each call."""

    def __init__(self, sampler: Any, sd_model: Any, env: SamplingEnv | None = None) -> None:
        super().__init__(sampler, sd_model, env)
        self.mask_before_denoising = True
        self.alphas = effective_alphas_cumprod(sd_model.alphas_cumprod, self.env.opts)

    def make_inner_model(self) -> nn.Module:
        return make_timesteps_denoiser(self.sd_model, self.alphas)

    def update_inner_model(self, sd_model: Any = None) -> None:
        super().update_inner_model(sd_model)
        self.alphas = effective_alphas_cumprod(self.sd_model.alphas_cumprod, self.env.opts)

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self.alphas

    def get_pred_x0(self, x_in: torch.Tensor, x_out: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t); here ``sigma`` carries the timestep."""
        alphas = self.alphas.to(x_in.device)
        a_t = alphas[sigma.to(device=alphas.device, dtype=torch.long)][:, None, None, None]
        return (x_in - (1 - a_t).sqrt() * x_out) / a_t.sqrt()


class CompVisSampler(Sampler):
    """Samples with a timestep sampler function ``fn(model, x, timesteps, extra_args, callback, disable, ...)``."""

    def __init__(self, funcname: Any, sd_model: Any, env: SamplingEnv | None = None, options: dict | None = None):
        super().__init__(funcname, resolve_function(funcname), sd_model, env)
        self.options = options or {}
        self.eta_option_field = "eta_ddim"
        self.eta_infotext_field = "Eta DDIM"
        self.eta_default = 0.0
        effective_alphas_cumprod(sd_model.alphas_cumprod, self.opts, infotext=self.schedule_infotext)
        self.model_wrap_cfg = CFGDenoiserTimesteps(self, sd_model, self.env)
        self.model_wrap = self.model_wrap_cfg.inner_model

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self.model_wrap_cfg.alphas_cumprod

    def get_timesteps(self, p: Any, steps: int) -> torch.Tensor:
        """A1111's DDPM timesteps for ``steps`` steps (``ddim_discretize`` "quad" uses LDM's quadratic spacing)."""
        options = self.config.options if self.config is not None else {}
        discard_next_to_last_sigma = options.get("discard_next_to_last_sigma", False)
        if setting(self.opts, "always_discard_next_to_last_sigma") and not discard_next_to_last_sigma:
            discard_next_to_last_sigma = True
            p.extra_generation_params["Discard penultimate sigma"] = True
        steps += 1 if discard_next_to_last_sigma else 0
        return ddim_timesteps(steps, setting(self.opts, "ddim_discretize"), len(self.alphas_cumprod))

    def _function_kwargs(self, is_img2img: bool) -> dict[str, Any]:
        """The UniPC settings for the UniPC function; nothing for the others."""
        if function_name(self.funcname) != "unipc":
            return {}
        return {"variant": setting(self.opts, "uni_pc_variant"), "skip_type": setting(self.opts, "uni_pc_skip_type"),
                "order": setting(self.opts, "uni_pc_order"),
                "lower_order_final": setting(self.opts, "uni_pc_lower_order_final"), "is_img2img": is_img2img}

    def sample(self, p, x, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        """txt2img: ``x`` is the unit-variance noise x_T itself."""
        self.note_schedule_overrides(p)
        steps = steps or p.steps
        timesteps = self.get_timesteps(p, steps).to(x.device)
        kwargs = self.initialize(p)
        if "timesteps" in self.parameters:
            kwargs["timesteps"] = timesteps
        kwargs.update(self._function_kwargs(is_img2img=False))
        return self._launch(p, x, x, steps, kwargs, conditioning, unconditional_conditioning, image_conditioning)

    def sample_img2img(self, p, x, noise, conditioning, unconditional_conditioning, steps=None,
                       image_conditioning=None):
        """img2img: the latent is diffused to timestep ``timesteps[t_enc]`` in closed form, then denoised."""
        self.note_schedule_overrides(p)
        steps, t_enc = setup_img2img_steps(p, self.opts, steps)
        if steps == 0:
            # denoising strength 0 with fixed steps (a hires pass at strength 0): nothing to denoise, so the latent
            # stays as it is (A1111 divides 1000 by the 0 steps here)
            self.initialize(p)
            return x
        timesteps = self.get_timesteps(p, steps).to(x.device)
        timesteps_sched = timesteps[:t_enc]

        alphas_cumprod = self.alphas_cumprod.to(x.device)
        sqrt_alpha_cumprod = torch.sqrt(alphas_cumprod[timesteps[t_enc]])
        sqrt_one_minus_alpha_cumprod = torch.sqrt(1 - alphas_cumprod[timesteps[t_enc]])
        xi = x * sqrt_alpha_cumprod + noise * sqrt_one_minus_alpha_cumprod

        extra_noise = setting(self.opts, "img2img_extra_noise")
        if extra_noise > 0:
            p.extra_generation_params["Extra noise"] = extra_noise
            params = ExtraNoiseParams(noise, x, xi)
            self.env.emit(self.env.extra_noise_callbacks, params)
            noise = params.noise
            xi = xi + noise * extra_noise * sqrt_alpha_cumprod

        kwargs = self.initialize(p)
        if "timesteps" in self.parameters:
            kwargs["timesteps"] = timesteps_sched
        kwargs.update(self._function_kwargs(is_img2img=True))
        self.model_wrap_cfg.init_latent = x
        return self._launch(p, xi, x, t_enc + 1, kwargs, conditioning, unconditional_conditioning, image_conditioning)
