"""txt2img with Hires. fix (A1111's ``StableDiffusionProcessingTxt2Img``, SPEC 7.2)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from modules.models.token_merging import token_merging
from modules.networks.extra_networks import parse_prompts
from modules.networks.extra_networks import registry as extra_networks
from modules.postprocess.upscaler_registry import LATENT_UPSCALE_MODES
from modules.processing import image_saver
from modules.processing.conditioning_images import inpainting_conditioning, is_inpainting_model, txt2img_conditioning
from modules.processing.image_resize import resize_image, upscaler_function
from modules.processing.job_infotext import create_infotext
from modules.processing.latents import decode_first_stage, decode_latent_batch, encode_images, resize_latent
from modules.processing.model_switch import reload_model_weights
from modules.processing.processing_base import OPT_F, GenerationError, StableDiffusionProcessing, persistent_cache
from modules.processing.rng import ImageRNG
from modules.processing.sampler_setup import create_sampler
from modules.prompting.conditioning import learned_conditioning_functions
from modules.prompting.sd_conditioning import SdConditioning


def old_hires_fix_first_pass_dimensions(width: int, height: int) -> tuple[int, int]:
    """``use_old_hires_fix_width_height``: a first pass of about 512x512 area, rounded up to 64."""
    desired = 512 * 512
    actual = width * height
    scale = math.sqrt(desired / actual)
    return math.ceil(scale * width / 64) * 64, math.ceil(scale * height / 64) * 64


@dataclass(repr=False)
class StableDiffusionProcessingTxt2Img(StableDiffusionProcessing):
    tab = "txt2img"  # the output folders this job saves to

    enable_hr: bool = False
    denoising_strength: float | None = 0.75
    firstphase_width: int = 0
    firstphase_height: int = 0
    hr_scale: float = 2.0
    hr_upscaler: str | None = None
    hr_second_pass_steps: int = 0
    hr_resize_x: int = 0
    hr_resize_y: int = 0
    hr_checkpoint_name: str | None = None
    hr_sampler_name: str | None = None
    hr_scheduler: str | None = None
    hr_prompt: str = ""
    hr_negative_prompt: str = ""
    force_task_id: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.hr_upscale_to_x = 0
        self.hr_upscale_to_y = 0
        if self.firstphase_width != 0 or self.firstphase_height != 0:
            self.hr_upscale_to_x, self.hr_upscale_to_y = self.width, self.height
            self.width, self.height = self.firstphase_width, self.firstphase_height
        self.truncate_x = 0
        self.truncate_y = 0
        self.applied_old_hires_behavior_to = None
        self.latent_scale_mode: dict | None = None
        self.hr_checkpoint_info = None
        self.hr_c = None
        self.hr_uc = None
        self.all_hr_prompts: list[str] = []
        self.all_hr_negative_prompts: list[str] = []
        self.hr_prompts: list[str] = []
        self.hr_negative_prompts: list[str] = []
        self.hr_extra_network_data: dict = {}
        self.cached_hr_c = persistent_cache("hr_c", self.services.opts)
        self.cached_hr_uc = persistent_cache("hr_uc", self.services.opts)

    # --- sizes ---
    def calculate_target_resolution(self) -> None:
        """The hires target size and the latent crop (SPEC 7.2 "Target size")."""
        opts = self.services.opts
        if opts.use_old_hires_fix_width_height and self.applied_old_hires_behavior_to != (self.width, self.height):
            self.hr_resize_x, self.hr_resize_y = self.width, self.height
            self.hr_upscale_to_x, self.hr_upscale_to_y = self.width, self.height
            self.width, self.height = old_hires_fix_first_pass_dimensions(self.width, self.height)
            self.applied_old_hires_behavior_to = (self.width, self.height)
        if self.hr_resize_x == 0 and self.hr_resize_y == 0:
            self.extra_generation_params["Hires upscale"] = self.hr_scale
            self.hr_upscale_to_x = int(self.width * self.hr_scale)
            self.hr_upscale_to_y = int(self.height * self.hr_scale)
            return
        self.extra_generation_params["Hires resize"] = f"{self.hr_resize_x}x{self.hr_resize_y}"
        if self.hr_resize_y == 0:
            self.hr_upscale_to_x = self.hr_resize_x
            self.hr_upscale_to_y = self.hr_resize_x * self.height // self.width
        elif self.hr_resize_x == 0:
            self.hr_upscale_to_x = self.hr_resize_y * self.width // self.height
            self.hr_upscale_to_y = self.hr_resize_y
        else:
            # cover the target, then crop the excess in latent space
            if self.width / self.height < self.hr_resize_x / self.hr_resize_y:
                self.hr_upscale_to_x = self.hr_resize_x
                self.hr_upscale_to_y = self.hr_resize_x * self.height // self.width
            else:
                self.hr_upscale_to_x = self.hr_resize_y * self.width // self.height
                self.hr_upscale_to_y = self.hr_resize_y
            self.truncate_x = (self.hr_upscale_to_x - self.hr_resize_x) // OPT_F
            self.truncate_y = (self.hr_upscale_to_y - self.hr_resize_y) // OPT_F

    # --- prompts and conds ---
    def setup_prompts(self) -> None:
        super().setup_prompts()
        if not self.enable_hr:
            return
        count = len(self.all_prompts)
        self.all_hr_prompts = (list(self.hr_prompt) if isinstance(self.hr_prompt, list)
                               else count * [self.hr_prompt or ""])
        self.all_hr_negative_prompts = (list(self.hr_negative_prompt) if isinstance(self.hr_negative_prompt, list)
                                        else count * [self.hr_negative_prompt or ""])
        styles = self.services.prompt_styles
        if styles is not None and self.styles:
            self.all_hr_prompts = [styles.apply_styles_to_prompt(x, self.styles) for x in self.all_hr_prompts]
            self.all_hr_negative_prompts = [styles.apply_negative_styles_to_prompt(x, self.styles)
                                            for x in self.all_hr_negative_prompts]
        # an empty hires prompt means "the same as the first pass"
        self.all_hr_prompts = [hr or p for hr, p in zip(self.all_hr_prompts, self.all_prompts)]
        self.all_hr_negative_prompts = [hr or n for hr, n in zip(self.all_hr_negative_prompts, self.all_negative_prompts)]

    def parse_extra_network_prompts(self) -> None:
        super().parse_extra_network_prompts()
        if self.enable_hr:
            lo, hi = self.iteration * self.batch_size, (self.iteration + 1) * self.batch_size
            self.hr_prompts, self.hr_extra_network_data = parse_prompts(self.all_hr_prompts[lo:hi])
            self.hr_negative_prompts = self.all_hr_negative_prompts[lo:hi]

    def calculate_hr_conds(self) -> None:
        if self.hr_c is not None:
            return
        w, h = self.hr_upscale_to_x, self.hr_upscale_to_y
        steps = self.hr_second_pass_steps or self.steps
        total_steps = steps * self.step_multiplier
        network_data = self.extra_network_data if self.services.opts.hires_fix_use_firstpass_conds else self.hr_extra_network_data
        learned, multicond = learned_conditioning_functions()
        negative = SdConditioning(self.hr_negative_prompts, is_negative_prompt=True, width=w, height=h)
        positive = SdConditioning(self.hr_prompts, width=w, height=h)
        self.hr_uc = self.get_conds_with_caching(learned, negative, total_steps, [self.cached_hr_uc, self.cached_uc],
                                                 network_data, total_steps)
        self.hr_c = self.get_conds_with_caching(multicond, positive, total_steps, [self.cached_hr_c, self.cached_c],
                                                network_data, total_steps)

    def setup_conds(self) -> None:
        if self.is_hr_pass:
            self.hr_c = None
            self.calculate_hr_conds()
            return
        super().setup_conds()
        self.hr_uc = self.hr_c = None
        if self.enable_hr and self.hr_checkpoint_info is None and not self.services.opts.hires_fix_use_firstpass_conds:
            self.calculate_hr_conds()

    def get_conds(self) -> tuple[Any, Any]:
        return (self.hr_c, self.hr_uc) if self.is_hr_pass else (self.c, self.uc)

    # --- the job ---
    def init(self, all_prompts: list[str], all_seeds: list[int], all_subseeds: list[int]) -> None:
        if not self.enable_hr:
            return
        services = self.services
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        if self.hr_checkpoint_name and self.hr_checkpoint_name != "Use same checkpoint":
            self.hr_checkpoint_info = services.checkpoints.get_closest_match(self.hr_checkpoint_name)
            if self.hr_checkpoint_info is None:
                raise GenerationError(f"Could not find checkpoint with name {self.hr_checkpoint_name}")
            self.extra_generation_params["Hires checkpoint"] = self.hr_checkpoint_info.short_title
        if self.hr_sampler_name is not None and self.hr_sampler_name != self.sampler_name:
            self.extra_generation_params["Hires sampler"] = self.hr_sampler_name
        self.extra_generation_params["Hires prompt"] = _hr_text("all_hr_prompts")
        self.extra_generation_params["Hires negative prompt"] = _hr_text("all_hr_negative_prompts", negative=True)
        self.extra_generation_params["Hires schedule type"] = None  # the sampler fills it in
        if self.hr_scheduler is None:
            self.hr_scheduler = self.scheduler
        upscaler = self.hr_upscaler if self.hr_upscaler is not None else "Latent"
        self.latent_scale_mode = LATENT_UPSCALE_MODES.get(upscaler)
        if self.latent_scale_mode is None and (services.upscalers is None or services.upscalers.find(upscaler) is None):
            raise GenerationError(f"could not find upscaler named {upscaler}")
        self.calculate_target_resolution()
        state = services.state
        if not state.processing_has_refined_job_count:
            if state.job_count == -1:
                state.job_count = self.n_iter
            state.job_count *= 2
            state.processing_has_refined_job_count = True
        if self.hr_second_pass_steps:
            self.extra_generation_params["Hires steps"] = self.hr_second_pass_steps
        if self.hr_upscaler is not None:
            self.extra_generation_params["Hires upscaler"] = self.hr_upscaler

    def txt2img_image_conditioning(self, x: torch.Tensor, width: int | None = None, height: int | None = None) -> Any:
        self.is_using_inpainting_conditioning = is_inpainting_model(self.sd_model)
        return txt2img_conditioning(self.sd_model, x, width or self.width, height or self.height)

    def sample(self, conditioning: Any, unconditional_conditioning: Any, seeds: list[int], subseeds: list[int],
               subseed_strength: float, prompts: list[str]) -> Any:
        self.sampler = create_sampler(self)
        x = self.rng.next()
        _hook(self, "process_before_every_sampling", x=x, noise=x, c=conditioning, uc=unconditional_conditioning)
        samples = self.sampler.sample(self, x, conditioning, unconditional_conditioning,
                                      image_conditioning=self.txt2img_image_conditioning(x))
        del x
        if not self.enable_hr:
            return samples
        decoded = None
        if self.latent_scale_mode is None:
            decoded = torch.stack(decode_latent_batch(self.sd_model, samples)).float()
        if self.hr_checkpoint_info is not None:
            self.sd_model = reload_model_weights(self.services, self.hr_checkpoint_info)  # not written to the setting
        return self.sample_hr_pass(samples, decoded, seeds, subseeds, subseed_strength, prompts)

    def sample_hr_pass(self, samples: torch.Tensor, decoded_samples: torch.Tensor | None, seeds: list[int],
                       subseeds: list[int], subseed_strength: float, prompts: list[str]) -> Any:
        services = self.services
        if services.state.interrupted:
            return samples
        self.is_hr_pass = True
        target_w, target_h = self.hr_upscale_to_x, self.hr_upscale_to_y
        self.sampler = create_sampler(self, hires=True)
        if self.latent_scale_mode is not None:
            for i in range(samples.shape[0]):
                self._save_before_highres(None, samples[i:i + 1], i, seeds, prompts)
            samples = resize_latent(samples, target_h // OPT_F, target_w // OPT_F, **self.latent_scale_mode)
            image_conditioning = self._hr_latent_conditioning(samples)
        else:
            samples, image_conditioning = self._upscale_images(decoded_samples, target_w, target_h, seeds, prompts)
        services.state.nextjob()
        ty, tx = self.truncate_y, self.truncate_x
        samples = samples[:, :, ty // 2:samples.shape[2] - (ty + 1) // 2, tx // 2:samples.shape[3] - (tx + 1) // 2]
        self.rng = ImageRNG(samples.shape[1:], self.seeds, subseeds=self.subseeds, subseed_strength=self.subseed_strength,
                            seed_resize_from_h=self.seed_resize_from_h, seed_resize_from_w=self.seed_resize_from_w,
                            settings=services.opts, device=samples.device)
        noise = self.rng.next()
        if not self.disable_extra_networks:
            extra_networks.activate(self, self.hr_extra_network_data)
        self.calculate_hr_conds()
        _hook(self, "before_hr")
        _hook(self, "process_before_every_sampling", x=samples, noise=noise, c=self.hr_c, uc=self.hr_uc)
        with token_merging(self.sd_model, self.get_token_merging_ratio(for_hr=True)):
            samples = self.sampler.sample_img2img(self, samples, noise, self.hr_c, self.hr_uc,
                                                  steps=self.hr_second_pass_steps or self.steps,
                                                  image_conditioning=image_conditioning)
        self.sampler = None
        decoded = decode_latent_batch(self.sd_model, samples, check_for_nans=not services.cmd_opts.disable_nan_check)
        self.is_hr_pass = False
        return _Decoded(decoded)

    def _hr_latent_conditioning(self, samples: torch.Tensor) -> Any:
        if not is_inpainting_model(self.sd_model):
            return None
        weight = getattr(self, "inpainting_mask_weight", self.services.opts.inpainting_mask_weight)
        if weight < 1.0:
            return inpainting_conditioning(self.sd_model, decode_first_stage(self.sd_model, samples), samples, None, weight)
        return self.txt2img_image_conditioning(samples, self.hr_upscale_to_x, self.hr_upscale_to_y)

    def _upscale_images(self, decoded: torch.Tensor, width: int, height: int, seeds: list[int],
                        prompts: list[str]) -> tuple[torch.Tensor, Any]:
        lowres = torch.clamp((decoded + 1.0) / 2.0, min=0.0, max=1.0)
        upscale = upscaler_function(self.hr_upscaler, self.services.upscalers)
        batch = []
        for i, x_sample in enumerate(lowres):
            image = Image.fromarray((255.0 * np.moveaxis(x_sample.cpu().numpy(), 0, 2)).astype(np.uint8))
            self._save_before_highres(image, None, i, seeds, prompts)
            image = resize_image(0, image, width, height, upscale)
            batch.append(np.moveaxis(np.asarray(image, dtype=np.float32) / 255.0, 2, 0))
        images = torch.from_numpy(np.stack(batch)) * 2.0 - 1.0
        samples = encode_images(self.sd_model, images)
        if is_inpainting_model(self.sd_model):
            self.is_using_inpainting_conditioning = True
            weight = getattr(self, "inpainting_mask_weight", self.services.opts.inpainting_mask_weight)
            return samples, inpainting_conditioning(self.sd_model, images.to(samples.device), samples, None, weight)
        return samples, None

    def _save_before_highres(self, image: Image.Image | None, latent: torch.Tensor | None, index: int,
                             seeds: list[int], prompts: list[str]) -> None:
        if not self.save_samples() or not self.services.opts.save_images_before_highres_fix:
            return
        if image is None:
            decoded = decode_latent_batch(self.sd_model, latent)[0]
            array = (255.0 * np.moveaxis(torch.clamp((decoded.float().cpu() + 1) / 2, 0, 1).numpy(), 0, 2)).astype(np.uint8)
            image = Image.fromarray(array)
        info = create_infotext(self, self.all_prompts, self.all_seeds, self.all_subseeds, [],
                               iteration=self.iteration, position_in_batch=index)
        image_saver.save_image(self.services, image, self.outpath_samples, "", seeds[index], prompts[index],
                               self.services.opts.samples_format, info=info, p=self, suffix="-before-highres-fix")


class _Decoded(list):
    """Decoded pictures returned from :meth:`sample` (the pipeline then skips the VAE)."""

    already_decoded = True


def _hr_text(attribute: str, negative: bool = False) -> Any:
    """An infotext value written only when the hires prompt differs from the first pass's."""

    def value(p: Any, index: int, prompt_text: str = "", negative_prompt: str = "", **kwargs: Any) -> str | None:
        texts = getattr(p, attribute, None) or []
        if index is None or index >= len(texts):
            return None
        own = negative_prompt if negative else prompt_text
        return texts[index] if texts[index] != own else None

    return value


def _hook(p: StableDiffusionProcessing, name: str, **kwargs: Any) -> None:
    runner = p.scripts
    if runner is not None and hasattr(runner, name):
        getattr(runner, name)(p, **kwargs)
