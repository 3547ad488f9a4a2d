"""The txt2img tab, in A1111's order: prompts, then the settings column (sampler, Hires. fix / Refiner,
size and batch, CFG, seed, override settings, Script) beside the output column."""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.ui import generation, generation_controls as gc
from modules.ui.generation_tab import (GenerationTab, build_settings_column, build_tab_frame, connect_generate,
                                       register_paste)
from modules.ui.hires_controls import connect_resolution_preview, create_hires


def _runner() -> Any:
    return current_services().scripts_txt2img


def _settings_column(tab: GenerationTab, runner: Any) -> None:
    """The shared settings column with txt2img's own blocks: Hires. fix before Refiner, the size controls."""
    c = tab.controls

    def hires() -> None:
        c["hires"] = create_hires("txt2img")
        c["enable_hr"] = c["hires"].enable
        tab.paste_fields += c["hires"].paste_fields

    def dimensions() -> None:
        size = gc.create_size_controls("txt2img")
        c.update(width=size.width, height=size.height, size=size)
        if size.batch_count is not None:
            c.update(n_iter=size.batch_count, batch_size=size.batch_size)

    build_settings_column(tab, runner, {"dimensions": dimensions}, first_accordions=hires)


def create_txt2img_tab() -> GenerationTab:
    """Build the tab's contents in the current gradio context."""
    runner = _runner()
    tab = build_tab_frame("txt2img", runner, _settings_column)
    c, panel = tab.controls, tab.output_panel
    hires = c["hires"]
    c.update(denoising_strength=hires.denoising_strength, hr_scale=hires.scale, hr_upscaler=hires.upscaler,
             hr_second_pass_steps=hires.steps, hr_resize_x=hires.resize_x, hr_resize_y=hires.resize_y,
             hr_checkpoint_name=hires.checkpoint, hr_sampler_name=hires.sampler, hr_scheduler=hires.scheduler,
             hr_prompt=hires.prompt, hr_negative_prompt=hires.negative_prompt)
    inputs = connect_generate(tab, generation.txt2img, generation.TXT2IMG_FIELDS)
    panel.button_upscale.click(fn=generation.txt2img_upscale,
                               js="(...args) => webuiSubmitUpscale('txt2img', args)",
                               inputs=[panel.gallery, panel.selected_index, panel.generation_info, *inputs],
                               outputs=panel.outputs, show_progress="hidden", concurrency_limit=None
                               ).then(fn=None, js="() => webuiSubmitDone('txt2img')")
    connect_resolution_preview(hires, c["width"], c["height"])

    register_paste(tab, runner, [], [("txt2img", None)])
    return tab
