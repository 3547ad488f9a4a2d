"""The "Outpainting mk2" script (img2img): grow the picture side by side, filling each new strip with colour-matched
noise (:mod:`modules.builtin_scripts.matched_noise`) and inpainting it with the original content kept."""
from __future__ import annotations

import math
from typing import Any

from modules import scripts


def _multiple_of_8(value: int) -> int:
    # the job's size must be a multiple of 8; A1111 rounds down silently in the latent space instead
    return max(8, value - value % 8)


class Script(scripts.Script):
    """Outpainting mk2."""

    def title(self) -> str:
        return "Outpainting mk2"

    def show(self, is_img2img: bool) -> bool:
        return is_img2img

    def ui(self, is_img2img: bool) -> list | None:
        if not is_img2img:
            return None
        import gradio as gr

        from modules.builtin_scripts.outpainting import DIRECTIONS

        info = gr.HTML("<p style=\"margin-bottom:0.75em\">Recommended settings: Sampling Steps: 80-100, "
                       "Sampler: Euler a, Denoising strength: 0.8</p>")
        pixels = gr.Slider(label="Pixels to expand", minimum=8, maximum=256, step=8, value=128,
                           elem_id=self.elem_id("pixels"))
        mask_blur = gr.Slider(label="Mask blur", minimum=0, maximum=64, step=1, value=8,
                              elem_id=self.elem_id("mask_blur"))
        direction = gr.CheckboxGroup(label="Outpainting direction", choices=list(DIRECTIONS), value=list(DIRECTIONS),
                                     elem_id=self.elem_id("direction"))
        noise_q = gr.Slider(label="Fall-off exponent (lower=higher detail)", minimum=0.0, maximum=4.0, step=0.01,
                            value=1.0, elem_id=self.elem_id("noise_q"))
        color_variation = gr.Slider(label="Color variation", minimum=0.0, maximum=1.0, step=0.01, value=0.05,
                                    elem_id=self.elem_id("color_variation"))
        return [info, pixels, mask_blur, direction, noise_q, color_variation]

    def run(self, p: Any, _: Any = None, pixels: Any = 128, mask_blur: Any = 8, direction: Any = None,
            noise_q: Any = 1.0, color_variation: Any = 0.05) -> Any:
        from modules import images, shared
        from modules.builtin_scripts.outpainting import (DIRECTIONS, read_directions, read_mask_blur, read_pixels,
                                                         share_expansion)
        from modules.builtin_scripts.output import ensure_output_dirs
        from modules.processing import Processed
        from modules.processing.processing_base import GenerationError

        title = self.title()
        pixels = read_pixels(pixels, title)
        mask_blur = read_mask_blur(mask_blur, title)
        directions = read_directions(list(DIRECTIONS) if direction is None else direction, title)
        if not directions:
            raise GenerationError(f"{title}: choose at least one outpainting direction")
        try:
            noise_q, color_variation = float(noise_q), float(color_variation)
        except (TypeError, ValueError):
            raise GenerationError(f"{title}: fall-off exponent and color variation must be numbers") from None
        if not 0.0 <= color_variation <= 1.0 or noise_q < 0:
            raise GenerationError(f"{title}: color variation must be between 0 and 1 and the fall-off exponent "
                                  "not negative")

        ensure_output_dirs(p)
        p.inpaint_full_res = False
        p.inpainting_fill = 1
        p.do_not_save_samples = True
        p.do_not_save_grid = True
        init_img = p.init_images[0]
        expansion = share_expansion(init_img.width, init_img.height, pixels, directions)
        blur_x = mask_blur if expansion.left or expansion.right else 0
        blur_y = mask_blur if expansion.up or expansion.down else 0
        # the job blurs the mask four times as wide as the margin drawn around the kept picture
        p.mask_blur_x, p.mask_blur_y = blur_x * 4, blur_y * 4
        p.mask_blur = p.mask_blur_x if p.mask_blur_x == p.mask_blur_y else None

        outpainter = _Outpainter(p, blur_x, blur_y, noise_q, color_variation)
        state, opts = shared.state, shared.opts
        batch_count, batch_size = p.n_iter, p.batch_size
        p.n_iter = 1
        sides = [(expansion.left, "left"), (expansion.right, "right"), (expansion.up, "up"), (expansion.down, "down")]
        sides = [(amount, side) for amount, side in sides if amount > 0]
        if state is not None:
            state.job_count = batch_count * len(sides)

        all_processed_images: list = []
        for i in range(batch_count):
            imgs = [init_img] * batch_size
            if state is not None:
                state.job = f"Batch {i + 1} out of {batch_count}"
            for amount, side in sides:
                imgs = outpainter.expand(imgs, amount, side)
            all_processed_images += imgs
            if state is not None and (state.interrupted or getattr(state, "stopping_generation", False)):
                break

        all_images = all_processed_images
        combined_grid_image = images.image_grid(all_processed_images)
        unwanted_grid = len(all_processed_images) < 2 and opts.grid_only_if_multiple
        if opts.return_grid and not unwanted_grid:
            all_images = [combined_grid_image] + all_processed_images
        seed, info = outpainter.initial_seed, outpainter.initial_info or ""
        res = Processed(p, all_images, seed if seed is not None else -1, info)
        if opts.samples_save:
            for img in all_processed_images:
                images.save_image(img, p.outpath_samples, "", res.seed, p.prompt, opts.samples_format, info=res.info,
                                  p=p)
        if opts.grid_save and not unwanted_grid:
            images.save_image(combined_grid_image, p.outpath_grids, "grid", res.seed, p.prompt, opts.grid_format,
                              info=res.info, short_filename=not opts.grid_extended_filename, grid=True, p=p)
        return res


class _Outpainter:
    """One side's expansion of a batch of pictures: canvas, mask, matched noise, inpainting, pasting back."""

    def __init__(self, p: Any, blur_x: int, blur_y: int, noise_q: float, color_variation: float) -> None:
        self.p = p
        self.blur_x, self.blur_y = blur_x, blur_y
        self.noise_q, self.color_variation = noise_q, color_variation
        self.process_width, self.process_height = p.width, p.height
        self.initial_seed: int | None = None
        self.initial_info: str | None = None

    def expand(self, init: list, expand_pixels: int, side: str) -> list:
        """Grow every picture of ``init`` by ``expand_pixels`` on ``side``; returns the grown pictures."""
        import numpy as np
        from PIL import Image

        from modules.builtin_scripts.matched_noise import get_matched_noise
        from modules.builtin_scripts.outpainting import draw_kept_area
        from modules.processing import process_images

        p = self.p
        is_left, is_right, is_top, is_bottom = (side == "left", side == "right", side == "up", side == "down")
        is_horiz = is_left or is_right
        pixels_horiz = expand_pixels if is_horiz else 0
        pixels_vert = 0 if is_horiz else expand_pixels
        blur_x, blur_y = self.blur_x, self.blur_y

        images_to_process: list = []
        output_images: list = []
        res_w = res_h = 0
        offset = (0, 0)
        for picture in init:
            res_w, res_h = picture.width + pixels_horiz, picture.height + pixels_vert
            canvas_w, canvas_h = math.ceil(res_w / 64) * 64, math.ceil(res_h / 64) * 64
            img = Image.new("RGB", (canvas_w, canvas_h))
            img.paste(picture, (pixels_horiz if is_left else 0, pixels_vert if is_top else 0))
            # white: to outpaint; black: the picture, kept, minus a blur-wide margin along the new edge.
            # The far edges are measured from the grown size rather than the 64-rounded canvas (A1111 uses the
            # canvas there, which leaves raw noise in the picture when the grown size is not a multiple of 64).
            mask = Image.new("RGB", (canvas_w, canvas_h), "white")
            draw_kept_area(mask, (
                expand_pixels + blur_x if is_left else 0,
                expand_pixels + blur_y if is_top else 0,
                res_w - expand_pixels - blur_x if is_right else res_w,
                res_h - expand_pixels - blur_y if is_bottom else res_h,
            ))
            noised = get_matched_noise(np.asarray(img, dtype=np.float64) / 255.0,
                                       np.asarray(mask, dtype=np.float64) / 255.0, self.noise_q, self.color_variation)
            output_images.append(Image.fromarray(np.clip(noised * 255.0, 0.0, 255.0).astype(np.uint8), mode="RGB"))

            # only the strip next to the new edge is generated, at most the job's size wide/high
            p.width = _multiple_of_8(min(self.process_width, res_w)) if is_horiz else canvas_w
            p.height = canvas_h if is_horiz else _multiple_of_8(min(self.process_height, res_h))
            offset = (res_w - p.width if is_right else 0, res_h - p.height if is_bottom else 0)
            crop_region = (offset[0], offset[1], offset[0] + p.width, offset[1] + p.height)
            p.image_mask = mask.crop(crop_region)
            images_to_process.append(output_images[-1].crop(crop_region))

        p.init_images = images_to_process
        latent_mask = Image.new("RGB", (p.width, p.height), "white")
        draw_kept_area(latent_mask, (
            expand_pixels + blur_x * 2 if is_left else 0,
            expand_pixels + blur_y * 2 if is_top else 0,
            p.width - expand_pixels - blur_x * 2 if is_right else res_w,
            p.height - expand_pixels - blur_y * 2 if is_bottom else res_h,
        ))
        p.latent_mask = latent_mask

        proc = process_images(p)
        if self.initial_seed is None:
            self.initial_seed = proc.seed
            self.initial_info = proc.info
        generated = proc.images[proc.index_of_first_image:]
        for n in range(len(output_images)):
            if n < len(generated):
                output_images[n].paste(generated[n], offset)
            output_images[n] = output_images[n].crop((0, 0, res_w, res_h))
        return output_images
