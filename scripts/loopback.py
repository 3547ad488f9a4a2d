"""The "Loopback" script (img2img): feed each result back as the next init image, moving the denoising strength."""
from __future__ import annotations

import math
from typing import Any

from modules import scripts


def denoising_strength_at(loop: int, loops: int, initial: float, final: float, curve: str) -> float:
    """The strength for loop ``loop`` (0-based) of ``loops``: from ``initial`` to ``final`` along ``curve``."""
    if loops == 1:
        return initial
    progress = loop / (loops - 1)
    if curve == "Aggressive":
        progress = math.sin(progress * math.pi * 0.5)
    elif curve == "Lazy":
        progress = 1 - math.cos(progress * math.pi * 0.5)
    return initial + (final - initial) * progress


class Script(scripts.Script):
    """Loopback."""

    def title(self) -> str:
        return "Loopback"

    def show(self, is_img2img: bool) -> bool:
        return is_img2img

    def ui(self, is_img2img: bool) -> list:
        import gradio as gr

        loops = gr.Slider(minimum=1, maximum=32, step=1, label="Loops", value=4, elem_id=self.elem_id("loops"))
        final_denoising_strength = gr.Slider(minimum=0, maximum=1, step=0.01, label="Final denoising strength",
                                             value=0.5, elem_id=self.elem_id("final_denoising_strength"))
        denoising_curve = gr.Dropdown(label="Denoising strength curve", choices=["Aggressive", "Linear", "Lazy"],
                                      value="Linear")
        append_interrogation = gr.Dropdown(label="Append interrogated prompt at each iteration",
                                           choices=["None", "CLIP", "DeepBooru"], value="None")
        return [loops, final_denoising_strength, denoising_curve, append_interrogation]

    def run(self, p: Any, loops: int = 4, final_denoising_strength: float = 0.5, denoising_curve: str = "Linear",
            append_interrogation: str = "None") -> Any:
        from modules import images, shared
        from modules.builtin_scripts.output import ensure_output_dirs
        from modules.processing import Processed, fix_seed, process_images
        from modules.processing.color_correction import setup_color_correction

        fix_seed(p)
        ensure_output_dirs(p)
        loops = int(loops)
        batch_count = p.n_iter
        p.extra_generation_params = {"Final denoising strength": final_denoising_strength,
                                     "Denoising curve": denoising_curve}
        p.batch_size = 1
        p.n_iter = 1
        state, opts = shared.state, shared.opts
        initial_seed = None
        initial_info = None
        initial_denoising_strength = p.denoising_strength
        original_init_image = p.init_images
        original_prompt = p.prompt
        original_inpainting_fill = p.inpainting_fill
        if state is not None:
            state.job_count = loops * batch_count
        initial_color_corrections = [setup_color_correction(p.init_images[0])]

        def stopped() -> bool:
            return state is not None and (state.interrupted or getattr(state, "stopping_generation", False))

        history: list = []
        grids: list = []
        all_images: list = []
        for n in range(batch_count):
            p.init_images = original_init_image
            p.denoising_strength = initial_denoising_strength
            last_image = None
            for i in range(loops):
                p.n_iter = 1
                p.batch_size = 1
                p.do_not_save_grid = True
                if opts.img2img_color_correction:
                    p.color_corrections = initial_color_corrections
                if append_interrogation != "None":
                    p.prompt = f"{original_prompt}, " if original_prompt else ""
                    p.prompt += _interrogate(append_interrogation, p.init_images[0])
                if state is not None:
                    state.job = f"Iteration {i + 1}/{loops}, batch {n + 1}/{batch_count}"
                processed = process_images(p)
                if stopped():
                    break
                if initial_seed is None:
                    initial_seed = processed.seed
                    initial_info = processed.info
                p.seed = processed.seed + 1
                p.denoising_strength = denoising_strength_at(i + 1, loops, initial_denoising_strength,
                                                             final_denoising_strength, denoising_curve)
                if state is not None and state.skipped:
                    break
                last_image = processed.images[0]
                p.init_images = [last_image]
                p.inpainting_fill = 1  # later loops keep the "original" masked content
                if batch_count == 1:
                    history.append(last_image)
                    all_images.append(last_image)
            if batch_count > 1 and last_image is not None and not (state is not None and state.skipped) and not stopped():
                history.append(last_image)
                all_images.append(last_image)
            p.inpainting_fill = original_inpainting_fill
            if stopped():
                break

        if len(history) > 1:
            grid = images.image_grid(history, rows=1)
            if opts.grid_save:
                images.save_image(grid, p.outpath_grids, "grid", initial_seed, p.prompt, opts.grid_format,
                                  info=initial_info, short_filename=not opts.grid_extended_filename, grid=True, p=p)
            if opts.return_grid:
                grids.append(grid)
        all_images = grids + all_images
        return Processed(p, all_images, initial_seed if initial_seed is not None else -1, initial_info or "")


def _interrogate(kind: str, image: Any) -> str:
    """CLIP or DeepBooru tags for ``image``; an error naming the interrogator when it is not available."""
    from modules import shared

    if kind == "CLIP":
        interrogator = getattr(shared, "interrogator", None)
        if interrogator is None:
            raise RuntimeError("Loopback: the CLIP interrogator is not available")
        return interrogator.interrogate(image)
    if kind == "DeepBooru":
        try:
            from modules import deepbooru
        except ImportError as e:
            raise RuntimeError("Loopback: DeepBooru is not available") from e
        return deepbooru.model.tag(image)
    raise ValueError(f"Unknown interrogation: {kind}")
