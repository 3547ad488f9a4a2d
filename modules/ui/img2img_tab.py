"""The img2img tab: the mode tabs and inpaint controls, then the txt2img-like settings, in A1111's order."""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.ui import generation_controls as gc
from modules.ui import symbols
from modules.ui import generation
from modules.ui import form_components as forms
from modules.ui.components import make, opt, tool_button
from modules.ui.generation_img2img import img2img
from modules.ui.interrogate_buttons import connect_interrogate_buttons
from modules.ui.generation_tab import (GenerationTab, build_settings_column, build_tab_frame, connect_generate,
                                       register_paste)
from modules.ui.img2img_inputs import (
    connect_mode_visibility,
    create_image_inputs,
    create_inpaint_controls,
    current_picture_size,
    resize_from_to_html,
)


def _runner() -> Any:
    return current_services().scripts_img2img


def _create_dimensions(tab: GenerationTab) -> None:
    """"Resize to" (Width / Height, ⇅, 📐) and "Resize by" (Scale), with Batch count / size beside them."""
    import gradio as gr

    c = tab.controls
    with forms.FormRow():
        with gr.Column(elem_id="img2img_column_size", scale=4):
            c["selected_scale_tab"] = gr.Number(value=0, visible=False)
            with gr.Tabs(elem_id="img2img_tabs_resize"):
                with gr.Tab(label="Resize to", id="to", elem_id="img2img_tab_resize_to") as tab_scale_to:
                    with forms.FormRow():
                        with gr.Column(elem_id="img2img_column_size", scale=4):
                            c["width"] = make(gr.Slider, minimum=64, maximum=2048, step=8, label="Width", value=512,
                                              elem_id="img2img_width")
                            c["height"] = make(gr.Slider, minimum=64, maximum=2048, step=8, label="Height", value=512,
                                               elem_id="img2img_height")
                        with gr.Column(elem_id="img2img_dimensions_row", scale=1, elem_classes=["dimensions-tools"]):
                            c["res_switch_btn"] = tool_button(symbols.switch_values_symbol,
                                                              elem_id="img2img_res_switch_btn",
                                                              tooltip="Switch width/height")
                            c["detect_image_size_btn"] = tool_button(symbols.detect_image_size_symbol,
                                                                     elem_id="img2img_detect_image_size_btn",
                                                                     tooltip="Auto detect size from img2img")
                with gr.Tab(label="Resize by", id="by", elem_id="img2img_tab_resize_by") as tab_scale_by:
                    c["scale_by"] = make(gr.Slider, minimum=0.05, maximum=4.0, step=0.05, label="Scale", value=1.0,
                                         elem_id="img2img_scale")
                    with forms.FormRow():
                        c["scale_by_html"] = forms.FormHTML("no image selected",
                                                            elem_id="img2img_scale_resolution_preview")
        tab_scale_to.select(fn=lambda: 0, inputs=[], outputs=[c["selected_scale_tab"]], queue=False)
        tab_scale_by.select(fn=lambda: 1, inputs=[], outputs=[c["selected_scale_tab"]], queue=False)

        if opt("dimensions_and_batch_together", True):
            c["n_iter"], c["batch_size"] = gc.create_batch_controls("img2img")


def _settings_column(tab: GenerationTab, runner: Any) -> None:
    """The shared settings column with img2img's own blocks: image modes, inpaint controls, "Resize to / by",
    Image CFG Scale beside CFG, denoising."""
    import gradio as gr

    c = tab.controls

    def image() -> None:
        c["images"] = create_image_inputs()

    def inpaint() -> None:
        c["inpaint"] = create_inpaint_controls()

    def image_cfg_scale() -> None:
        c["image_cfg_scale"] = make(gr.Slider, minimum=0, maximum=3.0, step=0.05, label="Image CFG Scale",
                                    value=1.5, elem_id="img2img_image_cfg_scale", visible=False)

    def denoising() -> None:
        c["denoising_strength"] = make(gr.Slider, minimum=0.0, maximum=1.0, step=0.01, label="Denoising strength",
                                       value=0.75, elem_id="img2img_denoising_strength")

    own = {"image": image, "inpaint": inpaint, "dimensions": lambda: _create_dimensions(tab), "denoising": denoising}
    build_settings_column(tab, runner, own, beside_cfg=image_cfg_scale)


def create_img2img_tab() -> GenerationTab:
    """Build the tab's contents in the current gradio context."""
    import gradio as gr

    runner = _runner()
    tab = build_tab_frame("img2img", runner, _settings_column)
    toprow = tab.toprow
    c, panel = tab.controls, tab.output_panel
    images, inpaint = c["images"], c["inpaint"]
    connect_mode_visibility(images, inpaint)
    c.update(mode=images.selected_tab,
             init_img=images.init_img, sketch=images.sketch, init_img_with_mask=images.init_img_with_mask,
             inpaint_color_sketch=images.inpaint_color_sketch, init_img_inpaint=images.init_img_inpaint,
             init_mask_inpaint=images.init_mask_inpaint, mask_blur=inpaint.mask_blur, mask_alpha=inpaint.mask_alpha,
             inpainting_fill=inpaint.inpainting_fill, resize_mode=images.resize_mode,
             inpaint_full_res=inpaint.inpaint_full_res, inpaint_full_res_padding=inpaint.inpaint_full_res_padding,
             inpainting_mask_invert=inpaint.inpainting_mask_invert, batch_source=images.batch_source,
             batch_upload=images.batch_upload, batch_input_dir=images.batch_input_dir,
             batch_output_dir=images.batch_output_dir, batch_inpaint_mask_dir=images.batch_inpaint_mask_dir,
             batch_use_png_info=images.batch_use_png_info, batch_png_info_props=images.batch_png_info_props,
             batch_png_info_dir=images.batch_png_info_dir)
    connect_generate(tab, img2img, generation.IMG2IMG_FIELDS)

    c["res_switch_btn"].click(fn=lambda w, h: (h, w), inputs=[c["width"], c["height"]],
                              outputs=[c["width"], c["height"]], show_progress="hidden", queue=False)

    def detect_size(mode: Any, *pictures: Any) -> tuple[Any, Any]:
        size = current_picture_size(mode, *pictures)
        return (size[0], size[1]) if size else (gr.update(), gr.update())

    c["detect_image_size_btn"].click(fn=detect_size, inputs=[images.selected_tab, *images.pictures],
                                     outputs=[c["width"], c["height"]], show_progress="hidden")

    def preview_scale(mode: Any, scale: float, *pictures: Any) -> str:
        return resize_from_to_html(current_picture_size(mode, *pictures), float(scale or 1))

    preview_inputs = [images.selected_tab, c["scale_by"], *images.pictures]
    c["scale_by"].release(fn=preview_scale, inputs=preview_inputs, outputs=[c["scale_by_html"]],
                          show_progress="hidden")
    for picture in (images.init_img, images.sketch):
        picture.change(fn=preview_scale, inputs=preview_inputs, outputs=[c["scale_by_html"]], show_progress="hidden",
                       trigger_mode="always_last")
    connect_interrogate_buttons(toprow, images, panel.html_log)

    own_fields = [(c["image_cfg_scale"], "Image CFG scale"), (c["denoising_strength"], "Denoising strength"),
                  (inpaint.mask_blur, "Mask blur"), (inpaint.inpainting_mask_invert, "Mask mode"),
                  (inpaint.inpainting_fill, "Masked content"), (inpaint.inpaint_full_res, "Inpaint area"),
                  (inpaint.inpaint_full_res_padding, "Masked area padding")]
    register_paste(tab, runner, own_fields, [("img2img", images.init_img), ("inpaint", images.init_img_with_mask)])
    return tab
