"""txt2img's "Hires. fix" accordion and its "from AxB to CxD" label (SPEC 7.2)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modules.postprocess.upscaler_registry import LATENT_UPSCALE_MODES
from modules.sampling import registry
from modules.sampling.schedulers import schedulers
from modules.ui import form_components as forms
from modules.ui.components import checkpoint_titles, make, opt, refresh_button, refresh_checkpoints, upscaler_names

USE_SAME_CHECKPOINT = "Use same checkpoint"
USE_SAME_SAMPLER = "Use same sampler"
USE_SAME_SCHEDULER = "Use same scheduler"


@dataclass
class HiresControls:
    enable: Any
    final_resolution: Any
    upscaler: Any
    steps: Any
    denoising_strength: Any
    scale: Any
    resize_x: Any
    resize_y: Any
    checkpoint: Any
    sampler: Any
    scheduler: Any
    prompt: Any
    negative_prompt: Any
    sampler_container: Any
    prompts_container: Any
    paste_fields: list = field(default_factory=list)

    @property
    def inputs(self) -> list:
        """In the order :func:`modules.ui.generation.txt2img` takes them."""
        return [self.enable, self.denoising_strength, self.scale, self.upscaler, self.steps, self.resize_x,
                self.resize_y, self.checkpoint, self.sampler, self.scheduler, self.prompt, self.negative_prompt]


def latent_modes() -> list[str]:
    return list(LATENT_UPSCALE_MODES)


def resolution_text(enable: bool, width: float, height: float, hr_scale: float, resize_x: float,
                    resize_y: float) -> str:
    """``from 512x512 to 1024x1024``, as the hires pass will compute it; empty while disabled."""
    if not enable:
        return ""
    # torch on first use: the page builds without loading it
    from modules.processing.txt2img import StableDiffusionProcessingTxt2Img

    try:
        p = StableDiffusionProcessingTxt2Img(width=int(width), height=int(height), enable_hr=True,
                                             hr_scale=float(hr_scale), hr_resize_x=int(resize_x),
                                             hr_resize_y=int(resize_y))
        p.calculate_target_resolution()
    except Exception:  # a half-set slider must not break the page
        return ""
    return (f"from <span class='resolution'>{p.width}x{p.height}</span> to "
            f"<span class='resolution'>{p.hr_resize_x or p.hr_upscale_to_x}x{p.hr_resize_y or p.hr_upscale_to_y}</span>")


def _hr_sampler_names() -> list[str]:
    return [USE_SAME_SAMPLER, *registry.visible_sampler_names()]


def _hr_scheduler_labels() -> list[str]:
    return [USE_SAME_SCHEDULER, *(x.label for x in schedulers)]


def create_hires(tabname: str = "txt2img") -> HiresControls:
    """Build the accordion (inside the tab's accordions row)."""
    import gradio as gr

    with make(forms.InputAccordion, value=False, label="Hires. fix", elem_id=f"{tabname}_hr") as enable:
        with enable.extra():
            final_resolution = forms.FormHTML(value="", elem_id="txtimg_hr_finalres", label="Upscaled resolution",
                                              min_width=0)
        with forms.FormRow(elem_id=f"{tabname}_hires_fix_row1", variant="compact"):
            upscalers = [*latent_modes(), *upscaler_names()]
            upscaler = make(gr.Dropdown, label="Upscaler", elem_id=f"{tabname}_hr_upscaler", choices=upscalers,
                            value=upscalers[0])
            steps = make(gr.Slider, minimum=0, maximum=150, step=1, label="Hires steps", value=0,
                         elem_id=f"{tabname}_hires_steps")
            denoising = make(gr.Slider, minimum=0.0, maximum=1.0, step=0.01, label="Denoising strength", value=0.7,
                             elem_id=f"{tabname}_denoising_strength")
        with forms.FormRow(elem_id=f"{tabname}_hires_fix_row2", variant="compact"):
            scale = make(gr.Slider, minimum=1.0, maximum=4.0, step=0.05, label="Upscale by", value=2.0,
                         elem_id=f"{tabname}_hr_scale")
            resize_x = make(gr.Slider, minimum=0, maximum=2048, step=8, label="Resize width to", value=0,
                            elem_id=f"{tabname}_hr_resize_x")
            resize_y = make(gr.Slider, minimum=0, maximum=2048, step=8, label="Resize height to", value=0,
                            elem_id=f"{tabname}_hr_resize_y")
        with forms.FormRow(elem_id=f"{tabname}_hires_fix_row3", variant="compact",
                           visible=bool(opt("hires_fix_show_sampler", False))) as sampler_container:
            checkpoint = make(gr.Dropdown, label="Checkpoint", elem_id="hr_checkpoint",
                              choices=[USE_SAME_CHECKPOINT, *checkpoint_titles(use_short=True)],
                              value=USE_SAME_CHECKPOINT)
            refresh_button(checkpoint, refresh_checkpoints,
                           lambda: {"choices": [USE_SAME_CHECKPOINT, *checkpoint_titles(use_short=True)]},
                           "hr_checkpoint_refresh")
            sampler = make(gr.Dropdown, label="Hires sampling method", elem_id="hr_sampler",
                           choices=_hr_sampler_names(), value=USE_SAME_SAMPLER)
            scheduler = make(gr.Dropdown, label="Hires schedule type", elem_id="hr_scheduler",
                             choices=_hr_scheduler_labels(), value=USE_SAME_SCHEDULER)
        with forms.FormRow(elem_id=f"{tabname}_hires_fix_row4", variant="compact",
                           visible=bool(opt("hires_fix_show_prompts", False))) as prompts_container:
            with gr.Column(scale=80):
                prompt = make(gr.Textbox, label="Hires prompt", elem_id="hires_prompt", show_label=False, lines=3,
                              placeholder="Prompt for hires fix pass.\nLeave empty to use the same prompt as in "
                                          "first pass.", elem_classes=["prompt"])
            with gr.Column(scale=80):
                negative = make(gr.Textbox, label="Hires negative prompt", elem_id="hires_neg_prompt",
                                show_label=False, lines=3,
                                placeholder="Negative prompt for hires fix pass.\nLeave empty to use the same "
                                            "negative prompt as in first pass.", elem_classes=["prompt"])

    def show_sampler_row(d: dict) -> Any:
        changed = (d.get("Hires sampler", USE_SAME_SAMPLER) != USE_SAME_SAMPLER
                   or d.get("Hires checkpoint", USE_SAME_CHECKPOINT) != USE_SAME_CHECKPOINT
                   or d.get("Hires schedule type", USE_SAME_SCHEDULER) != USE_SAME_SCHEDULER)
        return gr.update(visible=True) if changed else gr.update()

    def show_prompts_row(d: dict) -> Any:
        changed = d.get("Hires prompt", "") != "" or d.get("Hires negative prompt", "") != ""
        return gr.update(visible=True) if changed else gr.update()

    fields = [
        (denoising, "Denoising strength"),
        (enable, lambda d: "Denoising strength" in d and ("Hires upscale" in d or "Hires upscaler" in d
                                                          or "Hires resize-1" in d)),
        (scale, "Hires upscale"),
        (upscaler, "Hires upscaler"),
        (steps, "Hires steps"),
        (resize_x, "Hires resize-1"),
        (resize_y, "Hires resize-2"),
        (checkpoint, "Hires checkpoint"),
        (sampler, registry.get_hr_sampler_from_infotext),
        (scheduler, registry.get_hr_scheduler_from_infotext),
        (sampler_container, show_sampler_row),
        (prompt, "Hires prompt"),
        (negative, "Hires negative prompt"),
        (prompts_container, show_prompts_row),
    ]
    return HiresControls(enable, final_resolution, upscaler, steps, denoising, scale, resize_x, resize_y, checkpoint,
                         sampler, scheduler, prompt, negative, sampler_container, prompts_container, fields)


def connect_resolution_preview(hires: HiresControls, width: Any, height: Any) -> None:
    """Update the "from AxB to CxD" label whenever one of its inputs changes."""
    inputs = [hires.enable, width, height, hires.scale, hires.resize_x, hires.resize_y]
    for component in inputs:
        event = component.release if hasattr(component, "release") else component.change
        event(fn=resolution_text, inputs=inputs, outputs=[hires.final_resolution], show_progress="hidden",
              queue=False)
