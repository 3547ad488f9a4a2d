"""The Extras tab: Single Image / Batch Process / Batch from Directory, the postprocessing operations
(Upscale, GFPGAN, CodeFormer, then extensions'), Generate, and the output column (SPEC 10.3)."""
from __future__ import annotations

import os
import re
import time
import traceback
from dataclasses import dataclass
from typing import Any

from modules.core.services import current_services
from modules.processing import extras_run
from modules.runtime import progress
from modules.runtime.jobs import JobCancelledError, run_job
from modules.scripting.reporting import wrap_call
from modules.ui import form_components as forms
from modules.ui import symbols
from modules.ui.components import error_html, make, opt, tool_button, upscaler_names
from modules.ui.gallery import create_output_panel
from modules.ui.gallery_files import gallery_value
from modules.ui.generation import performance_html
from modules.ui.paste import add_paste_fields


@dataclass
class ExtrasTab:
    image: Any
    output_panel: Any


def _upscale_controls() -> tuple[str, dict[str, Any]]:
    import gradio as gr

    names = upscaler_names() or ["None"]
    selected = gr.Number(value=0, visible=False)
    with make(forms.InputAccordion, value=True, label="Upscale", elem_id="extras_upscale") as enabled:
        with forms.FormRow():
            upscaler_1 = make(gr.Dropdown, label="Upscaler 1", elem_id="extras_upscaler_1", choices=names,
                              value=names[0])
        with forms.FormRow():
            upscaler_2 = make(gr.Dropdown, label="Upscaler 2", elem_id="extras_upscaler_2", choices=names,
                              value=names[0])
            visibility = make(gr.Slider, minimum=0.0, maximum=1.0, step=0.001, label="Upscaler 2 visibility",
                              value=0.0, elem_id="extras_upscaler_2_visibility")
        with forms.FormRow():
            with gr.Tabs(elem_id="extras_resize_mode"):
                with gr.Tab("Scale by", elem_id="extras_scale_by_tab") as tab_scale_by:
                    with gr.Row():
                        with gr.Column(scale=4):
                            upscale_by = make(gr.Slider, minimum=1.0, maximum=8.0, step=0.05, label="Resize", value=4,
                                              elem_id="extras_upscaling_resize")
                        with gr.Column(scale=1, min_width=160):
                            max_side = make(gr.Number, label="Max side length", value=0, min_width=160, step=8,
                                            minimum=0, elem_id="extras_upscale_max_side_length",
                                            tooltip="If any of two sides of the image ends up larger than specified, "
                                                    "will downscale it to fit. 0 = no limit.")
                with gr.Tab("Scale to", elem_id="extras_scale_to_tab") as tab_scale_to:
                    with forms.FormRow():
                        with gr.Column(elem_id="upscaling_column_size", scale=4):
                            width = make(gr.Slider, minimum=64, maximum=8192, step=8, label="Width", value=512,
                                         elem_id="extras_upscaling_resize_w")
                            height = make(gr.Slider, minimum=64, maximum=8192, step=8, label="Height", value=512,
                                          elem_id="extras_upscaling_resize_h")
                        with gr.Column(elem_id="upscaling_dimensions_row", scale=1, elem_classes=["dimensions-tools"]):
                            switch = tool_button(symbols.switch_values_symbol, elem_id="upscaling_res_switch_btn",
                                                 tooltip="Switch width/height")
                            crop = make(gr.Checkbox, label="Crop to fit", value=True, elem_id="extras_upscaling_crop")
    tab_scale_by.select(fn=lambda: 0, inputs=[], outputs=[selected], queue=False)
    tab_scale_to.select(fn=lambda: 1, inputs=[], outputs=[selected], queue=False)
    switch.click(fn=lambda w, h: (h, w), inputs=[width, height], outputs=[width, height], queue=False)
    upscaler_1.change(fn=scale_for_upscaler, inputs=[upscaler_1], outputs=[upscale_by], show_progress="hidden")
    return "Upscale", {"upscale_enabled": enabled, "upscale_mode": selected, "upscale_by": upscale_by,
                       "max_side_length": max_side, "upscale_to_width": width, "upscale_to_height": height,
                       "upscale_crop": crop, "upscaler_1_name": upscaler_1, "upscaler_2_name": upscaler_2,
                       "upscaler_2_visibility": visibility}


def scale_for_upscaler(name: str) -> Any:
    """Choosing Upscaler 1 with setting ``set_scale_by_when_changing_upscaler`` sets "Resize" to the factor its name
    carries (``4x`` / ``x4``, A1111's rule); otherwise, or without one, the slider keeps its value."""
    import gradio as gr

    match = re.search(r"(\d)[xX]|[xX](\d)", str(name or ""))
    if not opt("set_scale_by_when_changing_upscaler", False) or match is None:
        return gr.update()
    return gr.update(value=int(match.group(1) or match.group(2)))


def _gfpgan_controls() -> tuple[str, dict[str, Any]]:
    import gradio as gr

    with make(forms.InputAccordion, value=False, label="GFPGAN", elem_id="extras_gfpgan") as enabled:
        visibility = make(gr.Slider, minimum=0.0, maximum=1.0, step=0.001, label="Visibility", value=1.0,
                          elem_id="extras_gfpgan_visibility")
    return "GFPGAN", {"enable": enabled, "gfpgan_visibility": visibility}


def _codeformer_controls() -> tuple[str, dict[str, Any]]:
    import gradio as gr

    with make(forms.InputAccordion, value=False, label="CodeFormer", elem_id="extras_codeformer") as enabled:
        visibility = make(gr.Slider, minimum=0.0, maximum=1.0, step=0.001, label="Visibility", value=1.0,
                          elem_id="extras_codeformer_visibility")
        weight = make(gr.Slider, minimum=0.0, maximum=1.0, step=0.001, label="Weight (0 = maximum effect, 1 = minimum "
                      "effect)", value=0, elem_id="extras_codeformer_weight")
    return "CodeFormer", {"enable": enabled, "codeformer_visibility": visibility, "codeformer_weight": weight}


BUILDERS = {"Upscale": _upscale_controls, "GFPGAN": _gfpgan_controls, "CodeFormer": _codeformer_controls}


def _script_controls(script: Any) -> tuple[str, dict[str, Any]]:
    """An extension's postprocessing script builds its own controls (``ui()`` -> ``{argument: component}``)."""
    controls = wrap_call(script.ui, script.filename, "ui") or {}
    script.controls = controls
    for control in controls.values():
        control.custom_script_source = os.path.basename(script.filename or "")
    return script.name, controls


def create_operations() -> list[tuple[str, dict[str, Any]]]:
    """Every operation's controls (built-ins and extensions' postprocessing scripts), in the order they will run
    (setting ``postprocessing_operation_order``)."""
    import gradio as gr

    created = []
    for op in extras_run.operations_in_preferred_order():
        builder = BUILDERS.get(op.name)
        if builder is None and not hasattr(op, "ui"):
            continue
        with gr.Row() as group:
            created.append(builder() if builder is not None else _script_controls(op))
        if builder is None:
            op.group = group
    return created


def run_extras(task_id: str, mode: Any, image: Any, image_batch: Any, input_dir: str, output_dir: str,
               show_results: bool, names: list[tuple[str, list[str]]], *values: Any) -> tuple:
    """Generate: run the operations as a job of the one queue; returns (gallery, info HTML, log HTML)."""
    started = time.perf_counter()
    args: dict[str, dict[str, Any]] = {}
    position = 0
    for op_name, controls in names:
        args[op_name] = dict(zip(controls, values[position:position + len(controls)]))
        position += len(controls)
    upscale = args.get("Upscale")
    if upscale is not None:
        upscale["upscale_mode"] = int(upscale.get("upscale_mode") or 0)
    task_id = task_id or progress.create_task_id("extras")

    def job() -> Any:
        return extras_run.run_postprocessing(int(mode or 0), image, image_batch, input_dir or "", output_dir or "",
                                             bool(show_results), args)

    try:
        images, info_html, _ = run_job(task_id, job, name="extras", kind="ui")
    except (extras_run.ExtrasInputError, ValueError, OSError, JobCancelledError) as e:
        return None, "", error_html(str(e) or type(e).__name__) + performance_html(started), 0
    except Exception as e:  # noqa: BLE001 - shown in the page, traceback in the console
        print(f"*** Error completing request {task_id}:\n{traceback.format_exc()}", flush=True)
        return None, "", error_html(f"{type(e).__name__}: {e}") + performance_html(started), 0
    return gallery_value(images), info_html, performance_html(started), 0


def create_extras_tab() -> ExtrasTab:
    """Build the tab in the current gradio context."""
    import gradio as gr

    hide_dirs = {"visible": not getattr(current_services().cmd_opts, "hide_ui_dir_config", False)}
    with forms.ResizeHandleRow(equal_height=False, variant="compact"):
        with gr.Column(variant="compact"):
            tab_index = gr.Number(value=0, visible=False)
            with gr.Tabs(elem_id="mode_extras"):
                with gr.Tab("Single Image", id="single_image", elem_id="extras_single_tab") as tab_single:
                    image = make(gr.Image, label="Source", sources=["upload", "clipboard"], interactive=True,
                                 type="pil", elem_id="extras_image", image_mode="RGBA", format="png")
                with gr.Tab("Batch Process", id="batch_process", elem_id="extras_batch_process_tab") as tab_batch:
                    image_batch = make(gr.Files, label="Batch Process", interactive=True,
                                       elem_id="extras_image_batch")
                with gr.Tab("Batch from Directory", id="batch_from_directory",
                            elem_id="extras_batch_directory_tab") as tab_dir:
                    input_dir = make(gr.Textbox, label="Input directory", elem_id="extras_batch_input_dir",
                                     placeholder="A directory on the same machine where the server is running.",
                                     **hide_dirs)
                    output_dir = make(gr.Textbox, label="Output directory", elem_id="extras_batch_output_dir",
                                      placeholder="Leave blank to save images to the default path.", **hide_dirs)
                    show_results = make(gr.Checkbox, label="Show result images", value=True,
                                        elem_id="extras_show_extras_results")
            operations = create_operations()
        with gr.Column():
            with gr.Row(elem_id="extras_generate_box", elem_classes=["generate-box"]):
                submit = make(gr.Button, value="Generate", elem_id="extras_generate", variant="primary")
            output_panel = create_output_panel("extras")
    for i, tab in enumerate((tab_single, tab_batch, tab_dir)):
        tab.select(fn=lambda i=i: i, inputs=[], outputs=[tab_index], queue=False)
    image.change(fn=extras_run.image_changed, inputs=[], outputs=[], show_progress="hidden")

    names = [(name, list(controls)) for name, controls in operations]
    values = [component for _name, controls in operations for component in controls.values()]
    task_box = gr.Textbox(visible=False, elem_id="extras_task_id")
    submit.click(fn=lambda *a: run_extras(a[0], a[1], a[2], a[3], a[4], a[5], a[6], names, *a[7:]),
                 js="(...args) => webuiSubmit('extras', args)",
                 inputs=[task_box, tab_index, image, image_batch, input_dir, output_dir, show_results, *values],
                 outputs=[output_panel.gallery, output_panel.generation_info, output_panel.html_log,
                          output_panel.selected_index], show_progress="hidden", concurrency_limit=None
                 ).then(fn=None, js="() => webuiSubmitDone('extras')")
    add_paste_fields("extras", image, None)
    return ExtrasTab(image, output_panel)
