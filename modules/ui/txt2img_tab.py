"""The txt2img tab, in A1111's order: prompts, then the settings column (sampler, Hires. fix / Refiner,
size and batch, CFG, seed, override settings, Script) beside the output column."""
from __future__ import annotations

from typing import Any

from modules.ui import generation_controls as gc
from modules.ui.generation_tab import GenerationTab, build_tab_frame, connect_generate, register_paste


def _runner() -> Any:
    from modules import scripts

    return scripts.scripts_txt2img


def build_settings_column(tab: GenerationTab, runner: Any) -> None:
    """The left column's blocks, in ``ordered_ui_categories`` order, with the scripts' sections between them."""
    import gradio as gr

    from modules.ui.hires_controls import create_hires
    from modules.ui_components import FormGroup, FormRow

    c = tab.controls
    if runner is not None:
        runner.prepare_ui()
    for category in gc.ordered_ui_categories():
        if category == "sampler":
            sampler = gc.builtin_controls(runner, "Sampler", lambda: gc.create_sampler_row("txt2img"))
            c.update(sampler_name=sampler.sampler_name, scheduler=sampler.scheduler, steps=sampler.steps)
            tab.paste_fields += sampler.paste_fields
        elif category == "accordions":
            with gr.Row(elem_id="txt2img_accordions", elem_classes=["accordions"]):
                hires = create_hires("txt2img")
                refiner = gc.builtin_controls(runner, "Refiner", lambda: gc.create_refiner("txt2img"))
                if runner is not None:
                    runner.setup_ui_for_section(category)
            c.update(hires=hires, enable_hr=hires.enable, refiner_enable=refiner.enable,
                     refiner_checkpoint=refiner.checkpoint, refiner_switch_at=refiner.switch_at)
            tab.paste_fields += hires.paste_fields + refiner.paste_fields
            continue
        elif category == "checkboxes":
            with FormRow(elem_classes=["checkboxes-row"], variant="compact"):
                pass
        elif category == "dimensions":
            size = gc.create_size_controls("txt2img")
            c.update(width=size.width, height=size.height, size=size)
            if size.batch_count is not None:
                c.update(n_iter=size.batch_count, batch_size=size.batch_size)
        elif category == "cfg":
            with gr.Row():
                c["cfg_scale"] = gc.create_cfg_scale("txt2img")
        elif category == "seed":
            seed = gc.builtin_controls(runner, "Seed", lambda: gc.create_seed_controls("txt2img"))
            c.update(seed_controls=seed, seed=seed.seed, seed_checkbox=seed.seed_checkbox, subseed=seed.subseed,
                     subseed_strength=seed.subseed_strength, seed_resize_from_w=seed.seed_resize_from_w,
                     seed_resize_from_h=seed.seed_resize_from_h)
            tab.paste_fields += seed.paste_fields
        elif category == "batch":
            if "n_iter" not in c:
                with FormRow(elem_id="txt2img_column_batch"):
                    c["n_iter"], c["batch_size"] = gc.create_batch_controls("txt2img")
        elif category == "override_settings":
            c["override_settings"] = gc.create_override_settings("txt2img")
        elif category == "scripts":
            with FormGroup(elem_id="txt2img_script_container"):
                tab.script_inputs = list(runner.setup_ui()) if runner is not None else []
        if runner is not None and category != "scripts":
            runner.setup_ui_for_section(category)


def create_txt2img_tab() -> GenerationTab:
    """Build the tab's contents in the current gradio context."""
    from modules.ui import generation
    from modules.ui.hires_controls import connect_resolution_preview

    runner = _runner()
    tab = build_tab_frame("txt2img", runner, build_settings_column)
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
