"""Controls shared by txt2img and img2img: sampler row, size and batch, CFG, seed row, Refiner, override settings.

A1111 1.10 draws the sampler, seed and refiner controls from built-in scripts
(``modules/processing_scripts``); here they are plain controls of the tab with
the same labels, limits and element ids, and their values go straight into the
processing object.  Each builder returns a small record of its components plus
the paste fields (infotext label -> component) they answer to.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from modules.core.options.live_choices import ui_reorder_choices
from modules.core.services import current_services
from modules.sampling import registry
from modules.sampling.schedulers import schedulers
from modules.ui import form_components as forms
from modules.ui import symbols
from modules.ui.components import checkpoint_titles, make, opt, refresh_button, refresh_checkpoints, tool_button


@dataclass
class SamplerControls:
    sampler_name: Any
    scheduler: Any
    steps: Any
    paste_fields: list = field(default_factory=list)


@dataclass
class SeedControls:
    seed: Any
    seed_checkbox: Any
    subseed: Any
    subseed_strength: Any
    seed_resize_from_w: Any
    seed_resize_from_h: Any
    reuse_seed: Any
    reuse_subseed: Any
    paste_fields: list = field(default_factory=list)

    @property
    def inputs(self) -> list:
        return [self.seed, self.seed_checkbox, self.subseed, self.subseed_strength, self.seed_resize_from_w,
                self.seed_resize_from_h]


@dataclass
class RefinerControls:
    enable: Any
    checkpoint: Any
    switch_at: Any
    paste_fields: list = field(default_factory=list)


@dataclass
class SizeControls:
    width: Any
    height: Any
    batch_count: Any
    batch_size: Any
    switch: Any
    column: Any = None


def builtin_controls(runner: Any, title: str, draw: Any) -> Any:
    """The controls of built-in script ``title`` (Sampler, Seed, Refiner), drawn through the tab's script runner
    so they are script arguments as in A1111; ``draw()`` draws them directly when no runner or script is there."""
    controls = runner.builtin_ui(title) if runner is not None else None
    return controls if controls is not None else draw()


def sampler_names() -> list[str]:
    return registry.visible_sampler_names()


def scheduler_labels() -> list[str]:
    return [x.label for x in schedulers]


def create_sampler_row(tabname: str) -> SamplerControls:
    """Sampling method, Schedule type, Sampling steps (radio buttons when ``samplers_in_dropdown`` is off)."""
    import gradio as gr

    names, labels = sampler_names(), scheduler_labels()
    if opt("samplers_in_dropdown", True):
        with forms.FormRow(elem_id=f"sampler_selection_{tabname}"):
            sampler = make(gr.Dropdown, label="Sampling method", elem_id=f"{tabname}_sampling", choices=names,
                           value=names[0])
            scheduler = make(gr.Dropdown, label="Schedule type", elem_id=f"{tabname}_scheduler", choices=labels,
                             value=labels[0])
            steps = make(gr.Slider, minimum=1, maximum=150, step=1, elem_id=f"{tabname}_steps",
                         label="Sampling steps", value=20)
    else:
        with forms.FormGroup(elem_id=f"sampler_selection_{tabname}"):
            steps = make(gr.Slider, minimum=1, maximum=150, step=1, elem_id=f"{tabname}_steps",
                         label="Sampling steps", value=20)
            sampler = make(gr.Radio, label="Sampling method", elem_id=f"{tabname}_sampling", choices=names,
                           value=names[0])
            scheduler = make(gr.Dropdown, label="Schedule type", elem_id=f"{tabname}_scheduler", choices=labels,
                             value=labels[0])

    fields = [(steps, "Steps"), (sampler, registry.get_sampler_from_infotext),
              (scheduler, registry.get_scheduler_from_infotext)]
    return SamplerControls(sampler, scheduler, steps, fields)


def create_size_controls(tabname: str, *, with_batch: bool = True) -> SizeControls:
    """Width / Height with the ⇅ swap button, and Batch count / Batch size beside them."""
    import gradio as gr

    with forms.FormRow():
        with gr.Column(elem_id=f"{tabname}_column_size", scale=4) as column:
            width = make(gr.Slider, minimum=64, maximum=2048, step=8, label="Width", value=512,
                         elem_id=f"{tabname}_width")
            height = make(gr.Slider, minimum=64, maximum=2048, step=8, label="Height", value=512,
                          elem_id=f"{tabname}_height")
        with gr.Column(elem_id=f"{tabname}_dimensions_row", scale=1, elem_classes=["dimensions-tools"]):
            switch = tool_button(symbols.switch_values_symbol, elem_id=f"{tabname}_res_switch_btn",
                                 tooltip="Switch width/height")
        batch_count = batch_size = None
        if with_batch and opt("dimensions_and_batch_together", True):
            batch_count, batch_size = create_batch_controls(tabname)
    switch.click(fn=lambda w, h: (h, w), inputs=[width, height], outputs=[width, height], show_progress="hidden",
                 queue=False)
    return SizeControls(width, height, batch_count, batch_size, switch, column)


def create_batch_controls(tabname: str) -> tuple[Any, Any]:
    import gradio as gr

    with gr.Column(elem_id=f"{tabname}_column_batch"):
        batch_count = make(gr.Slider, minimum=1, maximum=100, step=1, label="Batch count", value=1,
                           elem_id=f"{tabname}_batch_count")
        batch_size = make(gr.Slider, minimum=1, maximum=8, step=1, label="Batch size", value=1,
                          elem_id=f"{tabname}_batch_size")
    return batch_count, batch_size


def create_cfg_scale(tabname: str) -> Any:
    return _slider(minimum=1.0, maximum=30.0, step=0.5, label="CFG Scale", value=7.0, elem_id=f"{tabname}_cfg_scale")


def create_distilled_cfg_scale(tabname: str) -> Any:
    """Forge's "Distilled CFG Scale" (the guidance embedding of Flux dev); shown while such a model is loaded."""
    return _slider(minimum=0.0, maximum=30.0, step=0.1, label="Distilled CFG Scale", value=3.5,
                   elem_id=f"{tabname}_distilled_cfg_scale", visible=False)


def _slider(**kwargs: Any) -> Any:
    import gradio as gr

    return make(gr.Slider, **kwargs)


def copy_seed(generation_info: str, index: int, is_subseed: bool) -> int:
    """♻️: the seed (or variation seed, when one was used) of picture ``index`` of the last job, else -1."""
    try:
        info = json.loads(generation_info or "")
    except json.JSONDecodeError:
        return -1
    index = int(index or 0) - int(info.get("index_of_first_image", 0))
    if is_subseed and info.get("subseed_strength", 0) > 0:
        values = info.get("all_subseeds", [-1])
    else:
        values = info.get("all_seeds", [-1])
    return values[index if 0 <= index < len(values) else 0] if values else -1


def create_seed_controls(tabname: str) -> SeedControls:
    """Seed with 🎲 / ♻️ and the "Extra" checkbox revealing variation seed, strength and resize-seed sliders."""
    import gradio as gr

    use_textbox = bool(getattr(current_services().cmd_opts, "use_textbox_seed", False))
    with gr.Row(elem_id=f"{tabname}_seed_row"):
        if use_textbox:
            seed = make(gr.Textbox, label="Seed", value="", elem_id=f"{tabname}_seed", min_width=100)
        else:
            seed = make(gr.Number, label="Seed", value=-1, elem_id=f"{tabname}_seed", min_width=100, precision=0)
        random_seed = tool_button(symbols.random_symbol, elem_id=f"{tabname}_random_seed",
                                  tooltip="Set seed to -1, which will cause a new random number to be used every time")
        reuse_seed = tool_button(symbols.reuse_symbol, elem_id=f"{tabname}_reuse_seed",
                                 tooltip="Reuse seed from last generation, mostly useful if it was randomized")
        seed_checkbox = make(gr.Checkbox, label="Extra", elem_id=f"{tabname}_subseed_show", value=False)
    with gr.Group(visible=False, elem_id=f"{tabname}_seed_extras") as seed_extras:
        with gr.Row(elem_id=f"{tabname}_subseed_row"):
            subseed = make(gr.Number, label="Variation seed", value=-1, elem_id=f"{tabname}_subseed", precision=0)
            random_subseed = tool_button(symbols.random_symbol, elem_id=f"{tabname}_random_subseed")
            reuse_subseed = tool_button(symbols.reuse_symbol, elem_id=f"{tabname}_reuse_subseed")
            subseed_strength = _slider(label="Variation strength", value=0.0, minimum=0, maximum=1, step=0.01,
                                       elem_id=f"{tabname}_subseed_strength")
        with gr.Row(elem_id=f"{tabname}_seed_resize_from_row"):
            resize_w = _slider(minimum=0, maximum=2048, step=8, label="Resize seed from width", value=0,
                               elem_id=f"{tabname}_seed_resize_from_w")
            resize_h = _slider(minimum=0, maximum=2048, step=8, label="Resize seed from height", value=0,
                               elem_id=f"{tabname}_seed_resize_from_h")
    random_value = "" if use_textbox else -1
    random_seed.click(fn=lambda: random_value, outputs=[seed], show_progress="hidden", queue=False)
    random_subseed.click(fn=lambda: -1, outputs=[subseed], show_progress="hidden", queue=False)
    seed_checkbox.change(fn=lambda x: gr.update(visible=bool(x)), inputs=[seed_checkbox], outputs=[seed_extras],
                         show_progress="hidden", queue=False)
    fields = [
        (seed, "Seed"),
        (seed_checkbox, lambda d: "Variation seed" in d or "Seed resize from-1" in d),
        (subseed, "Variation seed"),
        (subseed_strength, "Variation seed strength"),
        (resize_w, "Seed resize from-1"),
        (resize_h, "Seed resize from-2"),
    ]
    return SeedControls(seed, seed_checkbox, subseed, subseed_strength, resize_w, resize_h, reuse_seed,
                        reuse_subseed, fields)


def connect_reuse_seed(controls: SeedControls, generation_info: Any, selected_index: Any) -> None:
    """Wire ♻️ to the tab's last generation info and the picture selected in its gallery."""
    controls.reuse_seed.click(fn=lambda info, index: copy_seed(info, index, False),
                              inputs=[generation_info, selected_index], outputs=[controls.seed],
                              show_progress="hidden", queue=False)
    controls.reuse_subseed.click(fn=lambda info, index: copy_seed(info, index, True),
                                 inputs=[generation_info, selected_index], outputs=[controls.subseed],
                                 show_progress="hidden", queue=False)


def seed_values(seed: Any, seed_checkbox: bool, subseed: Any, subseed_strength: float, resize_w: float,
                resize_h: float) -> dict[str, Any]:
    """Processing fields from the seed row (the Extra values count only while Extra is ticked)."""
    values: dict[str, Any] = {"seed": seed if seed not in (None, "") else -1}
    if seed_checkbox and subseed_strength and subseed_strength > 0:
        values["subseed"] = subseed if subseed is not None else -1
        values["subseed_strength"] = float(subseed_strength)
    if seed_checkbox and resize_w and resize_h and resize_w > 0 and resize_h > 0:
        values["seed_resize_from_w"] = int(resize_w)
        values["seed_resize_from_h"] = int(resize_h)
    return values


def lookup_checkpoint(title: str | None) -> str | None:
    """The full title of the checkpoint best matching ``title``, or ``None``."""
    services = current_services()
    if not title or services.checkpoints is None:
        return None
    info = services.checkpoints.get_closest_match(title)
    return info.title if info is not None else None


def create_refiner(tabname: str) -> RefinerControls:
    """The Refiner accordion: a checkpoint to switch to part-way, and when."""
    import gradio as gr

    with make(forms.InputAccordion, value=False, label="Refiner", elem_id=f"{tabname}_enable") as enable:
        with gr.Row():
            checkpoint = make(gr.Dropdown, label="Checkpoint", elem_id=f"{tabname}_checkpoint",
                              choices=["", *checkpoint_titles()], value="",
                              tooltip="switch to another model in the middle of generation")
            refresh_button(checkpoint, refresh_checkpoints, lambda: {"choices": ["", *checkpoint_titles()]},
                           f"{tabname}_checkpoint_refresh")
            switch_at = _slider(value=0.8, label="Switch at", minimum=0.01, maximum=1.0, step=0.01,
                                elem_id=f"{tabname}_switch_at",
                                tooltip="fraction of sampling steps when the switch to refiner model should happen; "
                                        "1=never, 0.5=switch in the middle of generation")
    fields = [(enable, lambda d: "Refiner" in d), (checkpoint, lambda d: lookup_checkpoint(d.get("Refiner"))),
              (switch_at, "Refiner switch at")]
    return RefinerControls(enable, checkpoint, switch_at, fields)


def refiner_values(enable: bool, checkpoint: str | None, switch_at: float) -> dict[str, Any]:
    if not enable or checkpoint in (None, "", "None"):
        return {"refiner_checkpoint": None, "refiner_switch_at": None}
    return {"refiner_checkpoint": checkpoint, "refiner_switch_at": switch_at}


def create_override_settings(tabname: str) -> Any:
    """The "Override settings" multiselect (filled by pasting infotext; hidden while empty)."""
    import gradio as gr

    with forms.FormRow(elem_id=f"{tabname}_override_settings_row"):
        dropdown = make(gr.Dropdown, choices=[], value=[], label="Override settings", visible=False,
                        elem_id=f"{tabname}_override_settings", multiselect=True, allow_custom_value=True)
    dropdown.change(fn=lambda x: gr.update(visible=bool(x)), inputs=[dropdown], outputs=[dropdown],
                    show_progress="hidden", queue=False)
    return dropdown


def ordered_ui_categories() -> list[str]:
    """The blocks of a generation tab in order (setting ``ui_reorder_list`` moves them), then ``scripts``."""
    categories = ui_reorder_choices()
    user_order = {x.strip(): i * 2 + 1 for i, x in enumerate(opt("ui_reorder_list", []) or [])}
    ranked = sorted(enumerate(categories), key=lambda x: user_order.get(x[1], x[0] * 2))
    return [category for _, category in ranked]
