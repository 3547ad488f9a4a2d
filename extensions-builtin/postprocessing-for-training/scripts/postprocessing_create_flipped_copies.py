"""Extras operation "Create flipped copies": mirrored copies of the picture as extra outputs."""
from __future__ import annotations

from typing import Any

from PIL import Image, ImageOps

from modules import scripts_postprocessing


class ScriptPostprocessingCreateFlippedCopies(scripts_postprocessing.ScriptPostprocessing):
    """Adds a left-right ("Horizontal"), top-bottom ("Vertical") and both-ways ("Both") copy, as chosen."""

    name = "Create flipped copies"
    order = 4030

    def ui(self) -> dict:
        import gradio as gr

        from modules import ui_components

        with ui_components.InputAccordion(False, label="Create flipped copies") as enable:
            with gr.Row():
                option = gr.CheckboxGroup(value=["Horizontal"], choices=["Horizontal", "Vertical", "Both"],
                                          show_label=False)
        return {"enable": enable, "option": option}

    def process(self, pp: scripts_postprocessing.PostprocessedImage, enable: bool = False,
                option: list[str] | None = None, **_: Any) -> None:
        if not enable:
            return
        option = option or []
        if "Horizontal" in option:
            pp.extra_images.append(ImageOps.mirror(pp.image))
        if "Vertical" in option:
            pp.extra_images.append(pp.image.transpose(Image.Transpose.FLIP_TOP_BOTTOM))
        if "Both" in option:
            pp.extra_images.append(pp.image.transpose(Image.Transpose.ROTATE_180))
