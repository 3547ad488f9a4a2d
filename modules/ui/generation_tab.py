"""What txt2img and img2img share: the tab's frame (prompts row, the Generation / extra-networks tabs, the
settings column beside the output column), the Generate wiring and the paste fields every generation tab has.

Each tab module only builds its own settings column and its own extra controls.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from modules.core.services import current_services
from modules.ui import extra_networks
from modules.ui import form_components as forms
from modules.ui import generation_controls as gc
from modules.ui.components import opt
from modules.ui.gallery import create_output_panel
from modules.ui.paste import ParamBinding, add_paste_fields, register_paste_params_button
from modules.ui.toprow import Toprow


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


def styles_field(d: dict) -> Any:
    """The Styles dropdown's value from pasted infotext (``Styles array``), or None."""
    styles = d.get("Styles array")
    return styles if isinstance(styles, list) else None


def build_settings_column(tab: GenerationTab, runner: Any, own: dict[str, Callable[[], None]],
                          first_accordions: Callable[[], None] | None = None,
                          beside_cfg: Callable[[], None] | None = None) -> None:
    """The settings column in ``ordered_ui_categories`` order, with the scripts' sections after each block.

    ``own`` builds the categories only one tab has (img2img's image, inpaint, dimensions, denoising; txt2img's
    dimensions); ``first_accordions`` draws accordions placed before Refiner (txt2img's Hires. fix) and
    ``beside_cfg`` controls in the CFG row (img2img's Image CFG Scale).
    """
    import gradio as gr

    c, name = tab.controls, tab.tabname
    if runner is not None:
        runner.prepare_ui()
    for category in gc.ordered_ui_categories():
        if category in own:
            own[category]()
        elif category == "sampler":
            sampler = gc.builtin_controls(runner, "Sampler", lambda: gc.create_sampler_row(name))
            c.update(sampler_name=sampler.sampler_name, scheduler=sampler.scheduler, steps=sampler.steps)
            tab.paste_fields += sampler.paste_fields
        elif category == "accordions":
            with gr.Row(elem_id=f"{name}_accordions", elem_classes=["accordions"]):
                if first_accordions is not None:
                    first_accordions()
                refiner = gc.builtin_controls(runner, "Refiner", lambda: gc.create_refiner(name))
                if runner is not None:
                    runner.setup_ui_for_section(category)
            c.update(refiner_enable=refiner.enable, refiner_checkpoint=refiner.checkpoint,
                     refiner_switch_at=refiner.switch_at)
            tab.paste_fields += refiner.paste_fields
            continue
        elif category == "checkboxes":
            with forms.FormRow(elem_classes=["checkboxes-row"], variant="compact"):
                pass
        elif category == "cfg":
            with gr.Row():
                c["cfg_scale"] = gc.create_cfg_scale(name)
                c["distilled_cfg_scale"] = gc.create_distilled_cfg_scale(name)
                if beside_cfg is not None:
                    beside_cfg()
        elif category == "seed":
            seed = gc.builtin_controls(runner, "Seed", lambda: gc.create_seed_controls(name))
            c.update(seed_controls=seed, seed=seed.seed, seed_checkbox=seed.seed_checkbox, subseed=seed.subseed,
                     subseed_strength=seed.subseed_strength, seed_resize_from_w=seed.seed_resize_from_w,
                     seed_resize_from_h=seed.seed_resize_from_h)
            tab.paste_fields += seed.paste_fields
        elif category == "batch":
            if "n_iter" not in c:
                with forms.FormRow(elem_id=f"{name}_column_batch"):
                    c["n_iter"], c["batch_size"] = gc.create_batch_controls(name)
        elif category == "override_settings":
            c["override_settings"] = gc.create_override_settings(name)
        elif category == "scripts":
            with forms.FormGroup(elem_id=f"{name}_script_container"):
                tab.script_inputs = list(runner.setup_ui()) if runner is not None else []
        if runner is not None and category != "scripts":
            runner.setup_ui_for_section(category)


def build_tab_frame(tabname: str, runner: Any,
                    settings_column: Callable[[GenerationTab, Any], None]) -> GenerationTab:
    """The prompts row, then "Generation" (settings column from ``build_settings_column`` beside the output
    panel) and the extra-networks tabs; scripts built meanwhile see ``runner`` as ``scripts_current``.
    ``settings_column(tab, runner)`` draws the column (usually through :func:`build_settings_column`)."""
    import gradio as gr

    services = current_services()
    services.scripts_current = runner
    toprow = Toprow(is_img2img=tabname == "img2img")
    tab = GenerationTab(tabname, toprow, None)
    with gr.Tabs(elem_id=f"{tabname}_extra_tabs", elem_classes=["extra-networks"]) as extra_tabs:
        with gr.Tab("Generation", id=f"{tabname}_generation") as generation_tab:
            with forms.ResizeHandleRow(equal_height=False):
                with settings_wrapper(f"{tabname}_settings_accordion"):
                    with gr.Column(variant="compact", elem_id=f"{tabname}_settings"):
                        settings_column(tab, runner)
                tab.output_panel = create_output_panel(tabname)
        tab.extra_tabs, tab.generation_tab = extra_tabs, generation_tab
        extra_networks.create_extra_networks_tabs(tab)
    services.scripts_current = None
    tab.controls.update(task_id=gr.Textbox(visible=False, elem_id=f"{tabname}_task_id"), prompt=toprow.prompt,
                        negative_prompt=toprow.negative_prompt, styles=toprow.styles)
    return tab


def connect_generate(tab: GenerationTab, fn: Callable[..., Any], field_names: list[str]) -> list:
    """Generate (and Ctrl+Enter in the prompt) run ``fn`` with the named controls plus the script arguments;
    the seed reuse buttons, token counters and progress restore are connected too.  Returns the inputs."""
    c, panel, toprow, name = tab.controls, tab.output_panel, tab.toprow, tab.tabname
    inputs = [c[key] for key in field_names] + tab.script_inputs
    submit = dict(fn=fn, js=f"(...args) => webuiSubmit('{name}', args)", inputs=inputs, outputs=panel.outputs,
                  show_progress="hidden", concurrency_limit=None)
    for event in (toprow.submit.click, toprow.prompt.submit):
        event(**submit).then(fn=None, js=f"() => webuiSubmitDone('{name}')")
    gc.connect_reuse_seed(c["seed_controls"], panel.generation_info, panel.selected_index)
    toprow.connect_token_counters(c["steps"])
    toprow.connect_restore_progress(panel.outputs)
    return inputs


def register_paste(tab: GenerationTab, runner: Any, tab_fields: list, targets: list[tuple[str, Any]]) -> None:
    """The tab's paste fields: the ones every generation tab has, then ``tab_fields``, the built-in controls'
    and the scripts' ones; registered for each ``(paste tab name, picture component)`` of ``targets``, and the
    ↙️ button reads the prompt box."""
    c, toprow = tab.controls, tab.toprow
    tab.paste_fields = [(toprow.prompt, "Prompt"), (toprow.negative_prompt, "Negative prompt"),
                        (c["cfg_scale"], "CFG scale"), (c["distilled_cfg_scale"], "Distilled CFG Scale"),
                        (c["width"], "Size-1"), (c["height"], "Size-2"),
                        (c["batch_size"], "Batch size"), (toprow.styles, styles_field), *tab_fields,
                        *tab.paste_fields, *(getattr(runner, "infotext_fields", None) or [])]
    for paste_name, picture in targets:
        add_paste_fields(paste_name, picture, tab.paste_fields, c["override_settings"])
    register_paste_params_button(ParamBinding(paste_button=toprow.paste, tabname=tab.tabname,
                                              source_text_component=toprow.prompt, switch_tab=False))
