"""The "Poor man's outpainting" script (img2img): put the picture on a larger canvas and inpaint the new border,
tile by tile at the job's size; tiles wholly inside the original picture are left as they are."""
from __future__ import annotations

from typing import Any

from modules import scripts


class Script(scripts.Script):
    """Poor man's outpainting."""

    def title(self) -> str:
        return "Poor man's outpainting"

    def show(self, is_img2img: bool) -> bool:
        return is_img2img

    def ui(self, is_img2img: bool) -> list | None:
        if not is_img2img:
            return None
        import gradio as gr

        from modules.builtin_scripts.outpainting import DIRECTIONS, FILL_CHOICES

        pixels = gr.Slider(label="Pixels to expand", minimum=8, maximum=256, step=8, value=128,
                           elem_id=self.elem_id("pixels"))
        mask_blur = gr.Slider(label="Mask blur", minimum=0, maximum=64, step=1, value=4,
                              elem_id=self.elem_id("mask_blur"))
        inpainting_fill = gr.Radio(label="Masked content", choices=list(FILL_CHOICES), value="fill", type="index",
                                   elem_id=self.elem_id("inpainting_fill"))
        direction = gr.CheckboxGroup(label="Outpainting direction", choices=list(DIRECTIONS), value=list(DIRECTIONS),
                                     elem_id=self.elem_id("direction"))
        return [pixels, mask_blur, inpainting_fill, direction]

    def run(self, p: Any, pixels: Any = 128, mask_blur: Any = 4, inpainting_fill: Any = 0,
            direction: Any = None) -> Any:
        from PIL import Image

        from modules import devices, images, shared
        from modules.builtin_scripts.outpainting import (DIRECTIONS, draw_kept_area, read_directions, read_fill,
                                                         read_mask_blur, read_pixels, share_expansion)
        from modules.builtin_scripts.output import ensure_output_dirs
        from modules.postprocess.tiling import combine_grid, split_grid
        from modules.processing import Processed, process_images

        title = self.title()
        pixels = read_pixels(pixels, title)
        mask_blur = read_mask_blur(mask_blur, title)
        fill = read_fill(inpainting_fill, title)
        directions = read_directions(list(DIRECTIONS) if direction is None else direction, title)

        ensure_output_dirs(p)
        # A1111 sets ``p.mask_blur``, whose setter moves both axes
        p.mask_blur = p.mask_blur_x = p.mask_blur_y = mask_blur * 2
        p.inpainting_fill = fill
        p.inpaint_full_res = False

        init_img = p.init_images[0]
        e = share_expansion(init_img.width, init_img.height, pixels, directions)
        left, right, up, down = e.left, e.right, e.up, e.down
        img = Image.new("RGB", (e.width, e.height))
        img.paste(init_img, (left, up))

        # white: to inpaint; black: the original picture, minus a margin along each new edge
        mask = Image.new("L", (img.width, img.height), "white")
        draw_kept_area(mask, (
            left + (mask_blur * 2 if left > 0 else 0),
            up + (mask_blur * 2 if up > 0 else 0),
            mask.width - right - (mask_blur * 2 if right > 0 else 0),
            mask.height - down - (mask_blur * 2 if down > 0 else 0),
        ))
        latent_mask = Image.new("L", (img.width, img.height), "white")
        draw_kept_area(latent_mask, (
            left + (mask_blur // 2 if left > 0 else 0),
            up + (mask_blur // 2 if up > 0 else 0),
            mask.width - right - (mask_blur // 2 if right > 0 else 0),
            mask.height - down - (mask_blur // 2 if down > 0 else 0),
        ))
        devices.torch_gc()

        grid = split_grid(img, tile_w=p.width, tile_h=p.height, overlap=pixels)
        p.n_iter = 1
        p.batch_size = 1
        p.do_not_save_grid = True
        p.do_not_save_samples = True

        def inside_original(x: int, w: int, y: int, h: int) -> bool:
            return x >= left and x + w <= img.width - right and y >= up and y + h <= img.height - down

        # each tile is cut at the job's full size from the canvas (black past its edge, as A1111's tiles), so the
        # model sees the neighbouring pixels; the result is cut back to the tile's size
        work = [(x, y, w, h) for y, h, row in grid.tiles for x, w, _tile in row if not inside_original(x, w, y, h)]
        print(f"Poor man's outpainting will process a total of {len(work)} images tiled as "
              f"{len(grid.tiles[0][2])}x{len(grid.tiles)}.")
        state = shared.state
        if state is not None:
            state.job_count = len(work)

        initial_seed = None
        initial_info = None
        work_results: list = []
        for i, (x, y, _w, _h) in enumerate(work):
            box = (x, y, x + p.width, y + p.height)
            p.init_images = [img.crop(box)]
            p.image_mask = mask.crop(box)
            p.latent_mask = latent_mask.crop(box)
            if state is not None:
                state.job = f"Batch {i + 1} out of {len(work)}"
            processed = process_images(p)
            if initial_seed is None:
                initial_seed = processed.seed
                initial_info = processed.info
            p.seed = processed.seed + 1
            work_results += processed.images[processed.index_of_first_image:][:1]
            if state is not None and (state.interrupted or getattr(state, "stopping_generation", False)):
                break

        image_index = 0
        for y, h, row in grid.tiles:
            for column, (x, w, _tile) in enumerate(row):
                if inside_original(x, w, y, h):
                    continue
                # a tile the job did not return (interrupted) stays black, as in A1111
                result = work_results[image_index] if image_index < len(work_results) \
                    else Image.new("RGB", (p.width, p.height))
                row[column] = (x, w, result.crop((0, 0, w, h)))
                image_index += 1

        combined_image = combine_grid(grid)
        if shared.opts.samples_save:
            # A1111 saves the combined picture in the grid format
            images.save_image(combined_image, p.outpath_samples, "", initial_seed, p.prompt, shared.opts.grid_format,
                              info=initial_info, p=p)
        return Processed(p, [combined_image], initial_seed if initial_seed is not None else -1, initial_info or "")
