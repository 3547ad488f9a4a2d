"""img2img and inpainting (A1111's ``StableDiffusionProcessingImg2Img``, SPEC 7.3-7.4)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from modules.processing import image_saver, masking
from modules.processing.color_correction import setup_color_correction
from modules.processing.conditioning_images import (edit_conditioning, inpainting_conditioning, is_edit_model,
                                                    is_inpainting_model)
from modules.processing.depth_conditioning import depth_conditioning, is_depth_model
from modules.processing.unclip_conditioning import is_unclip_model, unclip_conditioning
from modules.processing.image_resize import apply_exif_orientation, flatten, resize_image, upscaler_function
from modules.processing.latents import encode_images
from modules.processing.processing_base import OPT_F, GenerationError, StableDiffusionProcessing
from modules.processing.rng import create_random_tensors
from modules.processing.sampler_setup import create_sampler
from modules.scripting.hook_args import MaskBlendArgs

FILL_MODES = {0: "fill", 1: "original", 2: "latent noise", 3: "latent nothing"}


@dataclass(repr=False)
class StableDiffusionProcessingImg2Img(StableDiffusionProcessing):
    tab = "img2img"  # the output folders this job saves to

    init_images: list | None = None
    resize_mode: int = 0
    denoising_strength: float | None = 0.75
    image_cfg_scale: float | None = None
    mask: Any = None
    mask_blur_x: int = 4
    mask_blur_y: int = 4
    mask_blur: int | None = None
    mask_round: bool = True
    inpainting_fill: int = 0
    inpaint_full_res: bool = True
    inpaint_full_res_padding: int = 0
    inpainting_mask_invert: int = 0
    initial_noise_multiplier: float | None = None
    latent_mask: Any = None
    force_task_id: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.image_mask = self.mask
        self.mask = None
        self.nmask = None
        self.init_latent = None
        self.image_conditioning = None
        self.mask_for_overlay = None
        self.init_img_hash = None
        if self.mask_blur is not None:
            self.mask_blur_x = self.mask_blur_y = self.mask_blur
        if self.initial_noise_multiplier is None:
            self.initial_noise_multiplier = self.opt("initial_noise_multiplier", 1.0)
        if not self.init_images:
            raise GenerationError("img2img needs at least one init image")
        if self.denoising_strength is None:
            self.denoising_strength = 0.75
        if self.resize_mode not in (0, 1, 2, 3):
            raise GenerationError(f"resize_mode must be 0, 1, 2 or 3, got {self.resize_mode}")
        if self.inpainting_fill not in FILL_MODES:
            raise GenerationError(f"inpainting_fill must be 0, 1, 2 or 3, got {self.inpainting_fill}")

    # --- masks ---
    def _prepare_mask(self) -> tuple[Image.Image | None, tuple[int, int, int, int] | None]:
        """Binarise, invert, blur and (for "only masked") crop the mask; returns (mask, crop region)."""
        image_mask = self.image_mask
        if image_mask is None:
            return None, None
        image_mask = masking.create_binary_mask(image_mask, round=self.mask_round)
        if self.inpainting_mask_invert:
            image_mask = ImageOps.invert(image_mask)
            self.extra_generation_params["Mask mode"] = "Inpaint not masked"
        if self.mask_blur_x > 0 or self.mask_blur_y > 0:
            image_mask = masking.blur_mask(image_mask, self.mask_blur_x, self.mask_blur_y)
            # one number only when both directions agree (A1111 leaves the key out otherwise)
            if self.mask_blur_x == self.mask_blur_y:
                self.extra_generation_params["Mask blur"] = self.mask_blur_x
        self.overlay_images = []
        if self.inpaint_full_res:
            self.mask_for_overlay = image_mask
            region = masking.get_crop_region(image_mask, self.inpaint_full_res_padding)
            if region is not None:
                region = masking.expand_crop_region(region, self.width, self.height, image_mask.width, image_mask.height)
                x1, y1, x2, y2 = region
                image_mask = resize_image(2, image_mask.crop(region), self.width, self.height)
                self.paste_to = (x1, y1, x2 - x1, y2 - y1)
                self.extra_generation_params["Inpaint area"] = "Only masked"
                self.extra_generation_params["Masked area padding"] = self.inpaint_full_res_padding
                return image_mask, region
            self.inpaint_full_res = False
            self.mask_for_overlay = None
            self.comment('Unable to perform "Inpaint Only mask" because mask is blank, switch to img2img mode.')
            self.overlay_images = None
            return None, None
        image_mask = resize_image(self.resize_mode, image_mask, self.width, self.height)
        doubled = np.clip(np.asarray(image_mask, dtype=np.float32) * 2, 0, 255).astype(np.uint8)
        self.mask_for_overlay = Image.fromarray(doubled)
        return image_mask, None

    # --- the job ---
    def init(self, all_prompts: list[str], all_seeds: list[int], all_subseeds: list[int]) -> None:
        services = self.services
        opts = services.opts
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        self.image_cfg_scale = self.image_cfg_scale if is_edit_model(self.sd_model) else None
        self.sampler = create_sampler(self)
        image_mask, crop_region = self._prepare_mask()
        latent_mask = self.latent_mask if self.latent_mask is not None else image_mask
        upscale = upscaler_function(opts.upscaler_for_img2img, services.upscalers)
        add_color_corrections = opts.img2img_color_correction and self.color_corrections is None
        if add_color_corrections:
            self.color_corrections = []

        arrays = []
        for img in self.init_images:
            if not isinstance(img, Image.Image):
                raise GenerationError("init images must be pictures")
            img = apply_exif_orientation(img)
            if opts.save_init_img:
                self.init_img_hash = hashlib.md5(img.tobytes()).hexdigest()
                image_saver.save_image(services, img, services.paths.resolve_data_path(opts.outdir_init_images), None,
                                       forced_filename=self.init_img_hash, save_to_dirs=False, existing_info=img.info)
            image = flatten(img, opts.img2img_background_color)
            if crop_region is None and self.resize_mode != 3:
                image = resize_image(self.resize_mode, image, self.width, self.height, upscale)
            if image_mask is not None:
                if self.mask_for_overlay.size != image.size:
                    self.mask_for_overlay = resize_image(self.resize_mode, self.mask_for_overlay, image.width, image.height)
                masked = Image.new("RGBa", image.size)
                masked.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(self.mask_for_overlay.convert("L")))
                self.overlay_images.append(masked.convert("RGBA"))
            if crop_region is not None:
                image = resize_image(2, image.crop(crop_region), self.width, self.height)
            if image_mask is not None:
                if self.inpainting_fill != 1:
                    image = masking.fill(image, latent_mask)
                if self.inpainting_fill == 0:
                    self.extra_generation_params["Masked content"] = "fill"
            if add_color_corrections:
                self.color_corrections.append(setup_color_correction(image))
            arrays.append(np.moveaxis(np.asarray(image, dtype=np.float32) / 255.0, 2, 0))

        if len(arrays) == 1:
            batch = np.repeat(arrays[0][None], self.batch_size, axis=0)
            if self.overlay_images is not None:
                self.overlay_images = self.overlay_images * self.batch_size
            if self.color_corrections is not None and len(self.color_corrections) == 1:
                self.color_corrections = self.color_corrections * self.batch_size
        elif len(arrays) <= self.batch_size:
            self.batch_size = len(arrays)
            batch = np.stack(arrays)
        else:
            raise GenerationError(f"bad number of images passed: {len(arrays)}; expecting {self.batch_size} or less")

        image = torch.from_numpy(batch) * 2.0 - 1.0
        # the VAE posterior sample is seeded from the first seed: the same request gives the same picture
        posterior_rng = torch.Generator(device=self.sd_model.device).manual_seed(int(all_seeds[0]))
        self.init_latent = encode_images(self.sd_model, image, generator=posterior_rng)
        device = self.init_latent.device
        if self.resize_mode == 3:
            self.init_latent = torch.nn.functional.interpolate(
                self.init_latent, size=(self.height // OPT_F, self.width // OPT_F), mode="bilinear")
        if image_mask is not None:
            self._latent_masks(latent_mask, all_seeds)
        self.image_conditioning = self.img2img_image_conditioning(image.to(device), self.init_latent, image_mask)

    def _latent_masks(self, latent_mask: Image.Image, all_seeds: list[int]) -> None:
        latent = self.init_latent
        small = latent_mask.convert("L").resize((latent.shape[3], latent.shape[2]))
        latmask = np.asarray(small, dtype=np.float32) / 255.0
        if self.mask_round:
            latmask = np.around(latmask)
        latmask = np.tile(latmask[None], (latent.shape[1], 1, 1))
        self.mask = torch.from_numpy(1.0 - latmask).to(latent.device, latent.dtype)
        self.nmask = torch.from_numpy(latmask.copy()).to(latent.device, latent.dtype)
        if self.inpainting_fill == 2:
            noise = create_random_tensors(latent.shape[1:], all_seeds[0:latent.shape[0]], settings=self.services.opts,
                                          device=latent.device)
            self.init_latent = latent * self.mask + noise.to(latent) * self.nmask
            self.extra_generation_params["Masked content"] = "latent noise"
        elif self.inpainting_fill == 3:
            self.init_latent = latent * self.mask
            self.extra_generation_params["Masked content"] = "latent nothing"

    def img2img_image_conditioning(self, source_image: torch.Tensor, latent: torch.Tensor,
                                   image_mask: Image.Image | None = None) -> Any:
        if is_edit_model(self.sd_model):
            return edit_conditioning(self.sd_model, source_image).to(latent.device, latent.dtype)
        if is_depth_model(self.sd_model):
            return depth_conditioning(self.sd_model, source_image, latent)
        if is_unclip_model(self.sd_model):
            seeds = getattr(self, "all_seeds", None) or [0]
            generator = torch.Generator().manual_seed(int(seeds[0]))
            return unclip_conditioning(self.sd_model, source_image, latent, generator)
        if not is_inpainting_model(self.sd_model):
            return None
        self.is_using_inpainting_conditioning = True
        weight = getattr(self, "inpainting_mask_weight", self.services.opts.inpainting_mask_weight)
        return inpainting_conditioning(self.sd_model, source_image, latent, image_mask, weight, self.mask_round)

    def sample(self, conditioning: Any, unconditional_conditioning: Any, seeds: list[int], subseeds: list[int],
               subseed_strength: float, prompts: list[str]) -> Any:
        x = self.rng.next()
        if self.initial_noise_multiplier != 1.0:
            self.extra_generation_params["Noise multiplier"] = self.initial_noise_multiplier
            x = x * self.initial_noise_multiplier
        runner = self.scripts
        if runner is not None and hasattr(runner, "process_before_every_sampling"):
            runner.process_before_every_sampling(self, x=self.init_latent, noise=x, c=conditioning,
                                                 uc=unconditional_conditioning)
        samples = self.sampler.sample_img2img(self, self.init_latent, x, conditioning, unconditional_conditioning,
                                              image_conditioning=self.image_conditioning)
        if self.mask is not None:
            blended = samples * self.nmask + self.init_latent * self.mask
            if runner is not None and hasattr(runner, "on_mask_blend"):
                mba = MaskBlendArgs(samples, self.nmask, self.init_latent, self.mask, blended)
                runner.on_mask_blend(self, mba)
                blended = mba.blended_latent
            samples = blended
        return samples

    def get_token_merging_ratio(self, for_hr: bool = False) -> float:
        return self.token_merging_ratio or self.opt("token_merging_ratio_img2img", 0.0) \
            or self.opt("token_merging_ratio", 0.0)
