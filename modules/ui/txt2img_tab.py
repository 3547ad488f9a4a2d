"""The txt2img tab, in A1111's order: prompts, then the settings column (sampler, Hires. fix / Refiner,
size and batch, CFG, seed, override settings, Script) beside the output column."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modules.ui import generation_controls as gc
from modules.ui.components import opt


@dataclass
class GenerationTab:
    """What other parts of the page need from a generation tab."""

    tabname: str
    toprow: Any
    output_panel: Any
    controls: dict[str, Any] = field(default_factory=dict)
    paste_fields: list = field(default_factory=list)
    script_inputs: list = field(default_factory=list)
    extra_tabs: Any = None
    generation_tab: Any = None


def settings_wrapper(setting: str) -> Any:
    """"Open for Settings" accordion around the settings column when the UI-alternatives setting asks for it."""
    import contextlib

    import gradio as gr

    return gr.Accordion("Open for Settings", open=False) if opt(setting, False) else contextlib.nullcontext()


def _runner() -> Any:
    from modules import scripts

    return scripts.scripts_txt2img


def _styles_field(d: dict) -> Any:
    styles = d.get("Styles array")
    return styles if isinstance(styles, list) else None


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
    import gradio as gr

    from modules import scripts
    from modules.ui import extra_networks, generation
    from modules.ui.gallery import create_output_panel
    from modules.ui.generation_controls import connect_reuse_seed
    from modules.ui.hires_controls import connect_resolution_preview
    from modules.ui.paste import ParamBinding, add_paste_fields, register_paste_params_button
    from modules.ui.toprow import Toprow
    from modules.ui_components import ResizeHandleRow

    runner = _runner()
    scripts.scripts_current = runner
    toprow = Toprow(is_img2img=False)
    tab = GenerationTab("txt2img", toprow, None)
    with gr.Tabs(elem_id="txt2img_extra_tabs", elem_classes=["extra-networks"]) as extra_tabs:
        with gr.Tab("Generation", id="txt2img_generation") as generation_tab:
            with ResizeHandleRow(equal_height=False):
                with settings_wrapper("txt2img_settings_accordion"):
                    with gr.Column(variant="compact", elem_id="txt2img_settings"):
                        build_settings_column(tab, runner)
                tab.output_panel = create_output_panel("txt2img")
        tab.extra_tabs, tab.generation_tab = extra_tabs, generation_tab
        extra_networks.create_extra_networks_tabs(tab)
    scripts.scripts_current = None

    c, panel = tab.controls, tab.output_panel
    c.update(task_id=gr.Textbox(visible=False, elem_id="txt2img_task_id"), prompt=toprow.prompt,
             negative_prompt=toprow.negative_prompt, styles=toprow.styles)
    hires = c["hires"]
    c.update(denoising_strength=hires.denoising_strength, hr_scale=hires.scale, hr_upscaler=hires.upscaler,
             hr_second_pass_steps=hires.steps, hr_resize_x=hires.resize_x, hr_resize_y=hires.resize_y,
             hr_checkpoint_name=hires.checkpoint, hr_sampler_name=hires.sampler, hr_scheduler=hires.scheduler,
             hr_prompt=hires.prompt, hr_negative_prompt=hires.negative_prompt)
    inputs = [c[name] for name in generation.TXT2IMG_FIELDS] + tab.script_inputs
    submit = dict(fn=generation.txt2img, js="(...args) => webuiSubmit('txt2img', args)", inputs=inputs,
                  outputs=panel.outputs, show_progress="hidden", concurrency_limit=None)
    for event in (toprow.submit.click, toprow.prompt.submit):
        event(**submit).then(fn=None, js="() => webuiSubmitDone('txt2img')")
    panel.button_upscale.click(fn=generation.txt2img_upscale,
                               js="(...args) => webuiSubmitUpscale('txt2img', args)",
                               inputs=[panel.gallery, panel.selected_index, panel.generation_info, *inputs],
                               outputs=panel.outputs, show_progress="hidden", concurrency_limit=None
                               ).then(fn=None, js="() => webuiSubmitDone('txt2img')")
    connect_resolution_preview(hires, c["width"], c["height"])
    connect_reuse_seed(c["seed_controls"], panel.generation_info, panel.selected_index)
    toprow.connect_token_counters(c["steps"])
    toprow.connect_restore_progress(panel.outputs)

    tab.paste_fields = [(toprow.prompt, "Prompt"), (toprow.negative_prompt, "Negative prompt"),
                        (c["cfg_scale"], "CFG scale"), (c["width"], "Size-1"), (c["height"], "Size-2"),
                        (c["batch_size"], "Batch size"), (toprow.styles, _styles_field), *tab.paste_fields,
                        *(getattr(runner, "infotext_fields", None) or [])]
    add_paste_fields("txt2img", None, tab.paste_fields, c["override_settings"])
    register_paste_params_button(ParamBinding(paste_button=toprow.paste, tabname="txt2img",
                                              source_text_component=toprow.prompt, switch_tab=False))
    return tab
