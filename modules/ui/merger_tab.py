"""The Checkpoint Merger tab (SPEC 3.8): A1111's controls; Merge runs :mod:`modules.models.merger` as a job of
the queue (progress shown like a generation's), then lists the checkpoints again."""
from __future__ import annotations

import json
from typing import Any

from modules.core.safetensors_header import read_metadata
from modules.core.services import current_services
from modules.runtime import progress
from modules.runtime.jobs import run_job
from modules.ui import form_components as forms
from modules.ui.components import checkpoint_titles, error_html, make, refresh_button, refresh_checkpoints

INTERP_DESCRIPTIONS = {
    "No interpolation": "No interpolation will be used. Requires one model; A. Allows for format conversion and VAE "
                        "baking.",
    "Weighted sum": "A weighted sum will be used for interpolation. Requires two models; A and B. The result is "
                    "calculated as A * (1 - M) + B * M",
    "Add difference": "The difference between the last two models will be added to the first. Requires three models; "
                      "A, B and C. The result is calculated as A + (B - C) * M",
}


def interp_description(method: str) -> str:
    return f"<p style='margin-bottom: 2.5em'>{INTERP_DESCRIPTIONS.get(method, '')}</p>"


def _vae_choices() -> list[str]:
    services = current_services()
    files = getattr(services.vae_files, "vae_dict", services.vae_files)
    return ["None", *(files or {})]


def _read_metadata(*names: str) -> str:
    """The safetensors metadata of the selected checkpoints, merged (A, then B, then C)."""
    services = current_services()
    metadata: dict[str, Any] = {}
    for name in names:
        info = services.checkpoints.get_closest_match(name) if name and services.checkpoints is not None else None
        if info is not None and str(info.filename).endswith(".safetensors"):
            try:
                metadata.update(read_metadata(info.filename) or {})
            except (OSError, ValueError):
                continue
    return json.dumps(metadata, indent=4, ensure_ascii=False)


def run_modelmerger(id_task: str, primary: str | None, secondary: str | None, tertiary: str | None,
                    interp_method: str, multiplier: float, save_as_half: bool, custom_name: str,
                    checkpoint_format: str, config_source: int | None, bake_in_vae: str | None, discard_weights: str,
                    save_metadata: bool, add_merge_recipe: bool, copy_metadata_fields: bool,
                    metadata_json: str) -> list:
    """A1111's ``run_modelmerger``: merge, then four dropdown updates (A, B, C and the VAE list) and a message."""
    import gradio as gr

    # torch on first use: the page builds without loading it
    from modules.models.merger import MergeError, MergeRequest, merge_checkpoints

    services = current_services()
    request = MergeRequest(primary, secondary, tertiary, interp_method, float(multiplier), bool(save_as_half),
                           custom_name or "", checkpoint_format, int(config_source or 0), bake_in_vae,
                           discard_weights or "", bool(save_metadata), bool(add_merge_recipe),
                           bool(copy_metadata_fields), metadata_json or "{}")
    state = services.state
    state.begin(job="model-merge")
    try:
        vae_files = dict(getattr(services.vae_files, "vae_dict", {}) or {})
        output = merge_checkpoints(request, services.checkpoints, vae_files,
                                   ckpt_dir=getattr(services.cmd_opts, "ckpt_dir", None),
                                   allow_unsafe=bool(getattr(services.cmd_opts, "disable_safe_unpickle", False)),
                                   state=state)
    except MergeError as e:
        state.textinfo = str(e)
        return [gr.update()] * 4 + [error_html(str(e))]
    finally:
        state.end()
    titles = checkpoint_titles()
    return [gr.update(choices=titles)] * 3 + [gr.update(choices=_vae_choices())] + [f"Checkpoint saved to {output}"]


def run_merge(*args: Any) -> list:
    """Merge: run the merger as a job of the queue (one GPU worker: never beside a generation)."""
    import gradio as gr

    task_id = progress.create_task_id("modelmerger")
    try:
        return run_job(task_id, lambda: run_modelmerger(task_id, *args), name="modelmerger", kind="ui")
    except Exception as e:  # noqa: BLE001 - a failed merge (unreadable file, full disk) is shown in the page
        return [gr.update()] * 4 + [error_html(f"Error merging checkpoints: {e}")]


def create_merger_tab() -> None:
    """Build the tab in the current gradio context."""
    import gradio as gr

    def choices() -> dict:
        return {"choices": checkpoint_titles()}

    with gr.Row(equal_height=False):
        with gr.Column(variant="compact"):
            description = gr.HTML(value=interp_description("Weighted sum"), elem_id="modelmerger_interp_description")
            with forms.FormRow(elem_id="modelmerger_models"):
                primary = make(gr.Dropdown, choices=checkpoint_titles(), elem_id="modelmerger_primary_model_name",
                               label="Primary model (A)", value=None)
                refresh_button(primary, refresh_checkpoints, choices, "refresh_checkpoint_A")
                secondary = make(gr.Dropdown, choices=checkpoint_titles(), elem_id="modelmerger_secondary_model_name",
                                 label="Secondary model (B)", value=None)
                refresh_button(secondary, refresh_checkpoints, choices, "refresh_checkpoint_B")
                tertiary = make(gr.Dropdown, choices=checkpoint_titles(), elem_id="modelmerger_tertiary_model_name",
                                label="Tertiary model (C)", value=None)
                refresh_button(tertiary, refresh_checkpoints, choices, "refresh_checkpoint_C")
            custom_name = make(gr.Textbox, label="Custom Name (Optional)", elem_id="modelmerger_custom_name")
            amount = make(gr.Slider, minimum=0.0, maximum=1.0, step=0.05, value=0.3,
                          label="Multiplier (M) - set to 0 to get model A", elem_id="modelmerger_interp_amount")
            method = make(gr.Radio, choices=list(INTERP_DESCRIPTIONS), value="Weighted sum",
                          label="Interpolation Method", elem_id="modelmerger_interp_method")
            with forms.FormRow():
                checkpoint_format = make(gr.Radio, choices=["ckpt", "safetensors"], value="safetensors",
                                         label="Checkpoint format", elem_id="modelmerger_checkpoint_format")
                save_as_half = make(gr.Checkbox, value=False, label="Save as float16",
                                    elem_id="modelmerger_save_as_half")
            with forms.FormRow():
                with gr.Column():
                    config_source = make(gr.Radio, choices=["A, B or C", "B", "C", "Don't"], value="A, B or C",
                                         label="Copy config from", type="index", elem_id="modelmerger_config_method")
                with gr.Column():
                    with forms.FormRow():
                        bake_in_vae = make(gr.Dropdown, choices=_vae_choices(), value="None", label="Bake in VAE",
                                           elem_id="modelmerger_bake_in_vae")
                        refresh_button(bake_in_vae, None, lambda: {"choices": _vae_choices()},
                                       "modelmerger_refresh_bake_in_vae")
            with forms.FormRow():
                discard_weights = make(gr.Textbox, value="", label="Discard weights with matching name",
                                       elem_id="modelmerger_discard_weights")
            with gr.Accordion("Metadata", open=False) as metadata_editor:
                with forms.FormRow():
                    save_metadata = make(gr.Checkbox, value=True, label="Save metadata",
                                         elem_id="modelmerger_save_metadata")
                    add_recipe = make(gr.Checkbox, value=True, label="Add merge recipe metadata",
                                      elem_id="modelmerger_add_recipe")
                    copy_metadata = make(gr.Checkbox, value=True, label="Copy metadata from merged models",
                                         elem_id="modelmerger_copy_metadata")
                metadata_json = gr.TextArea("{}", label="Metadata in JSON format")
                read_metadata = gr.Button("Read metadata from selected checkpoints")
            with forms.FormRow():
                merge = gr.Button(elem_id="modelmerger_merge", value="Merge", variant="primary")
        with gr.Column(variant="compact", elem_id="modelmerger_results_container"):
            with gr.Group(elem_id="modelmerger_results_panel"):
                result = gr.HTML(elem_id="modelmerger_result")
    method.change(fn=interp_description, inputs=[method], outputs=[description], show_progress="hidden")
    checkpoint_format.change(fn=lambda fmt: gr.update(visible=fmt == "safetensors"), inputs=[checkpoint_format],
                             outputs=[metadata_editor], show_progress="hidden")
    read_metadata.click(fn=_read_metadata, inputs=[primary, secondary, tertiary], outputs=[metadata_json])
    merge.click(fn=run_merge,
                inputs=[primary, secondary, tertiary, method, amount, save_as_half, custom_name, checkpoint_format,
                        config_source, bake_in_vae, discard_weights, save_metadata, add_recipe, copy_metadata,
                        metadata_json],
                outputs=[primary, secondary, tertiary, bake_in_vae, result])
