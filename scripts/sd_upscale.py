"""The "SD upscale" script (img2img): upscale, cut into tiles of the job's size, img2img each tile, blend back."""
from __future__ import annotations

import math
from typing import Any

from modules import scripts


class Script(scripts.Script):
    """SD upscale."""

    def title(self) -> str:
        return "SD upscale"

    def show(self, is_img2img: bool) -> bool:
        return is_img2img

    def ui(self, is_img2img: bool) -> list:
        import gradio as gr

        from modules import shared

        names = [x.name for x in (shared.sd_upscalers or [])]
        info = gr.HTML("<p style=\"margin-bottom:0.75em\">Will upscale the image by the selected scale factor; "
                       "use width and height sliders to set tile size</p>")
        overlap = gr.Slider(minimum=0, maximum=256, step=16, label="Tile overlap", value=64,
                            elem_id=self.elem_id("overlap"))
        scale_factor = gr.Slider(minimum=1.0, maximum=4.0, step=0.05, label="Scale Factor", value=2.0,
                                 elem_id=self.elem_id("scale_factor"))
        upscaler_index = gr.Radio(label="Upscaler", choices=names, value=names[0] if names else None, type="index",
                                  elem_id=self.elem_id("upscaler_index"))
        return [info, overlap, upscaler_index, scale_factor]

    def run(self, p: Any, _: Any = None, overlap: int = 64, upscaler_index: Any = 0, scale_factor: float = 2.0) -> Any:
        from PIL import Image

        from modules import images, shared
        from modules.builtin_scripts.output import ensure_output_dirs
        from modules.core.limits import check_size
        from modules.postprocess.tiling import combine_grid, split_grid
        from modules.processing import Processed, fix_seed, process_images
        from modules.processing.image_resize import flatten

        upscalers = list(shared.sd_upscalers or [])
        if isinstance(upscaler_index, str):
            names = [x.name.lower() for x in upscalers]
            if upscaler_index.lower() not in names:
                raise ValueError(f"Unknown upscaler: {upscaler_index}")
            upscaler_index = names.index(upscaler_index.lower())
        fix_seed(p)
        ensure_output_dirs(p)
        upscaler = upscalers[upscaler_index or 0]
        p.extra_generation_params["SD upscale overlap"] = overlap
        p.extra_generation_params["SD upscale upscaler"] = upscaler.name

        initial_info = None
        seed = p.seed
        init_img = flatten(p.init_images[0], shared.opts.img2img_background_color)
        # refused before the upscaler allocates it (422 through the API): the same limits as every picture
        check_size(init_img.width * scale_factor, init_img.height * scale_factor, key="script_args",
                   what="the SD upscale result")
        img = upscaler.scaler.upscale(init_img, scale_factor, upscaler.data_path) if upscaler.name != "None" else init_img

        grid = split_grid(img, tile_w=p.width, tile_h=p.height, overlap=overlap)
        batch_size = p.batch_size
        upscale_count = p.n_iter
        p.n_iter = 1
        p.do_not_save_grid = True
        p.do_not_save_samples = True
        work = [tile for _y, _h, row in grid.tiles for _x, _w, tile in row]
        batch_count = math.ceil(len(work) / batch_size)
        state = shared.state
        if state is not None:
            state.job_count = batch_count * upscale_count
        print(f"SD upscaling will process a total of {len(work)} images tiled as {len(grid.tiles[0][2])}x"
              f"{len(grid.tiles)} per upscale in a total of {state.job_count if state else batch_count} batches.")

        result_images = []
        for n in range(upscale_count):
            start_seed = seed + n
            p.seed = start_seed
            work_results: list = []
            for i in range(batch_count):
                p.batch_size = batch_size
                p.init_images = work[i * batch_size:(i + 1) * batch_size]
                if state is not None:
                    state.job = f"Batch {i + 1 + n * batch_count} out of {state.job_count}"
                processed = process_images(p)
                if initial_info is None:
                    initial_info = processed.info
                p.seed = processed.seed + 1
                work_results += processed.images
            index = 0
            for _y, _h, row in grid.tiles:
                for column, (x, w, _tile) in enumerate(row):
                    # a tile the job did not return (interrupted) stays black, as in A1111
                    tile = work_results[index] if index < len(work_results) else Image.new("RGB", (p.width, p.height))
                    if tile.size != (w, grid.tile_h):  # split_grid may shrink tiles below the job's size
                        tile = tile.resize((w, grid.tile_h), Image.Resampling.LANCZOS)
                    row[column] = (x, w, tile)
                    index += 1
            combined = combine_grid(grid)
            result_images.append(combined)
            if shared.opts.samples_save:
                images.save_image(combined, p.outpath_samples, "", start_seed, p.prompt, shared.opts.samples_format,
                                  info=initial_info, p=p)
        return Processed(p, result_images, seed, initial_info or "")
