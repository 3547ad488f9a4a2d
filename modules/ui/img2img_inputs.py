"""img2img's picture area: the six mode tabs, "Copy image to", Resize mode, and the inpaint controls."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modules.core.services import current_services
from modules.ui import form_components as forms
from modules.ui.components import make, opt
from modules.ui.img2img_batch import PNG_INFO_PROPS

COPY_TARGETS = [("img2img", "img2img"), ("sketch", "sketch"), ("inpaint", "inpaint"), ("inpaint sketch", "inpaint_sketch")]
"""(button title, editor name) of the "Copy image to" buttons."""

MODE_TAB_IDS = ["img2img", "img2img_sketch", "inpaint", "inpaint_sketch", "inpaint_upload", "batch"]
"""Ids of the mode tabs, in the order of their mode number."""

RESIZE_MODES = ["Just resize", "Crop and resize", "Resize and fill", "Just resize (latent upscale)"]


@dataclass
class ImageInputs:
    mode_tabs: Any = None
    selected_tab: Any = None
    init_img: Any = None
    sketch: Any = None
    init_img_with_mask: Any = None
    inpaint_color_sketch: Any = None
    init_img_inpaint: Any = None
    init_mask_inpaint: Any = None
    batch_source: Any = None
    batch_upload: Any = None
    batch_input_dir: Any = None
    batch_output_dir: Any = None
    batch_inpaint_mask_dir: Any = None
    batch_use_png_info: Any = None
    batch_png_info_dir: Any = None
    batch_png_info_props: Any = None
    resize_mode: Any = None
    tabs: list = field(default_factory=list)
    copy_buttons: list = field(default_factory=list)
    editors: dict = field(default_factory=dict)

    @property
    def pictures(self) -> list:
        """The five single-picture inputs, in mode order."""
        return [self.init_img, self.sketch, self.init_img_with_mask, self.inpaint_color_sketch, self.init_img_inpaint]


@dataclass
class InpaintControls:
    group: Any
    mask_blur: Any
    mask_alpha: Any
    inpainting_mask_invert: Any
    inpainting_fill: Any
    inpaint_full_res: Any
    inpaint_full_res_padding: Any


def _editor(label: str, elem_id: str, color: str, *, fixed: bool, image_mode: str) -> Any:
    import gradio as gr

    brush = gr.Brush(colors=[color], default_color=color, color_mode="fixed" if fixed else "defaults")
    return make(gr.ImageEditor, label=label, elem_id=elem_id, show_label=False, type="pil", image_mode=image_mode,
                height=opt("img2img_editor_height", 720), sources=["upload", "clipboard"], brush=brush,
                layers=False, transforms=(), format="png", interactive=True)


def _copy_controls(inputs: ImageInputs, tab_name: str, element: Any) -> None:
    import gradio as gr

    with gr.Row(variant="compact", elem_id=f"img2img_copy_to_{tab_name}"):
        gr.HTML("Copy image to: ", elem_id=f"img2img_label_copy_to_{tab_name}")
        for title, name in COPY_TARGETS:
            if name == tab_name:
                gr.Button(title, interactive=False)
                inputs.editors[name] = element
                continue
            inputs.copy_buttons.append((gr.Button(title), name, element))


def create_image_inputs() -> ImageInputs:
    """The mode tabs (A1111's "image" category) and Resize mode."""
    import gradio as gr

    res = ImageInputs()
    hide_dirs = {"visible": not getattr(current_services().cmd_opts, "hide_ui_dir_config", False)}
    res.selected_tab = gr.Number(value=0, visible=False)
    with gr.Tabs(elem_id="mode_img2img") as res.mode_tabs:
        with gr.Tab("img2img", id="img2img", elem_id="img2img_img2img_tab") as tab_img2img:
            res.init_img = make(gr.Image, label="Image for img2img", elem_id="img2img_image", show_label=False,
                                sources=["upload", "clipboard"], interactive=True, type="pil", image_mode="RGBA",
                                height=opt("img2img_editor_height", 720), format="png")
            _copy_controls(res, "img2img", res.init_img)
        with gr.Tab("Sketch", id="img2img_sketch", elem_id="img2img_img2img_sketch_tab") as tab_sketch:
            res.sketch = _editor("Image for img2img", "img2img_sketch", opt("img2img_sketch_default_brush_color",
                                                                            "#ffffff"), fixed=False, image_mode="RGB")
            _copy_controls(res, "sketch", res.sketch)
        with gr.Tab("Inpaint", id="inpaint", elem_id="img2img_inpaint_tab") as tab_inpaint:
            res.init_img_with_mask = _editor("Image for inpainting with mask", "img2maskimg",
                                             opt("img2img_inpaint_mask_brush_color", "#ffffff"), fixed=True,
                                             image_mode="RGBA")
            _copy_controls(res, "inpaint", res.init_img_with_mask)
        with gr.Tab("Inpaint sketch", id="inpaint_sketch", elem_id="img2img_inpaint_sketch_tab") as tab_inpaint_color:
            # RGBA: in RGB mode gradio flattens the stroke layer to opaque, and the mask (where the layer was
            # painted) would cover the whole picture
            res.inpaint_color_sketch = _editor("Color sketch inpainting", "inpaint_sketch",
                                               opt("img2img_inpaint_sketch_default_brush_color", "#ffffff"),
                                               fixed=False, image_mode="RGBA")
            _copy_controls(res, "inpaint_sketch", res.inpaint_color_sketch)
        with gr.Tab("Inpaint upload", id="inpaint_upload", elem_id="img2img_inpaint_upload_tab") as tab_upload:
            res.init_img_inpaint = make(gr.Image, label="Image for img2img", show_label=False,
                                        sources=["upload", "clipboard"], interactive=True, type="pil",
                                        elem_id="img_inpaint_base", format="png")
            res.init_mask_inpaint = make(gr.Image, label="Mask", sources=["upload", "clipboard"], interactive=True,
                                         type="pil", image_mode="RGBA", elem_id="img_inpaint_mask", format="png")
        with gr.Tab("Batch", id="batch", elem_id="img2img_batch_tab") as tab_batch:
            res.batch_source = gr.Textbox(visible=False, value="upload")
            with gr.Tabs(elem_id="img2img_batch_source"):
                with gr.Tab("Upload", id="batch_upload", elem_id="img2img_batch_upload_tab") as tab_batch_upload:
                    res.batch_upload = make(gr.Files, label="Files", interactive=True, elem_id="img2img_batch_upload")
                with gr.Tab("From directory", id="batch_from_dir", elem_id="img2img_batch_from_dir_tab") as tab_dir:
                    hidden = "<br>Disabled when launched with --hide-ui-dir-config." if not hide_dirs["visible"] else ""
                    gr.HTML("<p style='padding-bottom: 1em;' class=\"text-gray-500\">Process images in a directory on "
                            "the same machine where the server is running.<br>Use an empty output directory to save "
                            "pictures normally instead of writing to the output directory.<br>Add inpaint batch mask "
                            f"directory to enable inpaint batch processing.{hidden}</p>")
                    res.batch_input_dir = make(gr.Textbox, label="Input directory", elem_id="img2img_batch_input_dir",
                                               **hide_dirs)
                    res.batch_output_dir = make(gr.Textbox, label="Output directory",
                                                elem_id="img2img_batch_output_dir", **hide_dirs)
                    res.batch_inpaint_mask_dir = make(gr.Textbox, label="Inpaint batch mask directory (required for "
                                                      "inpaint batch processing only)",
                                                      elem_id="img2img_batch_inpaint_mask_dir", **hide_dirs)
            tab_batch_upload.select(fn=lambda: "upload", inputs=[], outputs=[res.batch_source], queue=False)
            tab_dir.select(fn=lambda: "from dir", inputs=[], outputs=[res.batch_source], queue=False)
            with gr.Accordion("PNG info", open=False):
                res.batch_use_png_info = make(gr.Checkbox, label="Append png info to prompts",
                                              elem_id="img2img_batch_use_png_info")
                res.batch_png_info_dir = make(gr.Textbox, label="PNG info directory", elem_id="img2img_batch_png_info_dir",
                                              placeholder="Leave empty to use input directory", **hide_dirs)
                res.batch_png_info_props = make(gr.CheckboxGroup, choices=PNG_INFO_PROPS,
                                                label="Parameters to take from png info",
                                                info="Prompts from png info will be appended to prompts set in ui.")
    res.tabs = [tab_img2img, tab_sketch, tab_inpaint, tab_inpaint_color, tab_upload, tab_batch]
    for i, tab in enumerate(res.tabs):
        tab.select(fn=lambda i=i: i, inputs=[], outputs=[res.selected_tab], queue=False, show_progress="hidden")
    _connect_copy_buttons(res)
    with forms.FormRow():
        res.resize_mode = make(gr.Radio, label="Resize mode", elem_id="resize_mode", choices=RESIZE_MODES,
                               type="index", value=RESIZE_MODES[0])
    return res


def editor_picture(value: Any) -> Any:
    """The picture an editor or image component holds (the composite of an editor with strokes)."""
    if isinstance(value, dict):
        return value.get("composite") or value.get("background")
    return value


def _connect_copy_buttons(res: ImageInputs) -> None:
    for button, name, source in res.copy_buttons:
        target = res.editors[name]
        tab_id = MODE_TAB_IDS[[n for _, n in COPY_TARGETS].index(name)]
        button.click(fn=editor_picture, inputs=[source], outputs=[target], show_progress="hidden")
        button.click(fn=None, js=f"() => webuiSwitchImg2imgMode('{tab_id}')")


def create_inpaint_controls() -> InpaintControls:
    """Mask blur / transparency / mode, Masked content, Inpaint area and padding (hidden outside inpaint modes)."""
    import gradio as gr

    with forms.FormGroup(elem_id="inpaint_controls", visible=False) as group:
        with forms.FormRow():
            mask_blur = make(gr.Slider, label="Mask blur", minimum=0, maximum=64, step=1, value=4,
                             elem_id="img2img_mask_blur")
            mask_alpha = make(gr.Slider, label="Mask transparency", visible=False, elem_id="img2img_mask_alpha")
        with forms.FormRow():
            invert = make(gr.Radio, label="Mask mode", choices=["Inpaint masked", "Inpaint not masked"],
                          value="Inpaint masked", type="index", elem_id="img2img_mask_mode")
        with forms.FormRow():
            fill = make(gr.Radio, label="Masked content", choices=["fill", "original", "latent noise", "latent nothing"],
                        value="original", type="index", elem_id="img2img_inpainting_fill")
        with forms.FormRow():
            with gr.Column():
                full_res = make(gr.Radio, label="Inpaint area", choices=["Whole picture", "Only masked"], type="index",
                                value="Whole picture", elem_id="img2img_inpaint_full_res")
            with gr.Column(scale=4):
                padding = make(gr.Slider, label="Only masked padding, pixels", minimum=0, maximum=256, step=4, value=32,
                               elem_id="img2img_inpaint_full_res_padding")
    return InpaintControls(group, mask_blur, mask_alpha, invert, fill, full_res, padding)


def connect_mode_visibility(inputs: ImageInputs, inpaint: InpaintControls) -> None:
    """Inpaint controls show for the three inpaint modes; Mask transparency for Inpaint sketch only."""
    import gradio as gr

    for i, tab in enumerate(inputs.tabs):
        tab.select(fn=lambda i=i: (gr.update(visible=i in (2, 3, 4)), gr.update(visible=i == 3)), inputs=[],
                   outputs=[inpaint.group, inpaint.mask_alpha], queue=False, show_progress="hidden")


def current_picture_size(mode: Any, *pictures: Any) -> tuple[int, int] | None:
    """(width, height) of the picture in the selected mode tab, or None."""
    try:
        index = int(mode or 0)
    except (TypeError, ValueError):
        index = 0
    if not 0 <= index < len(pictures):
        return None
    picture = pictures[index]
    if isinstance(picture, dict):
        picture = picture.get("background") or picture.get("composite")
    return (picture.width, picture.height) if picture is not None else None


def resize_from_to_html(size: tuple[int, int] | None, scale_by: float) -> str:
    """"resize: from AxB to CxD" under the Resize by slider."""
    if size is None:
        return "no image selected"
    width, height = size
    target_w, target_h = int(width * scale_by), int(height * scale_by)
    if not target_w or not target_h:
        return "no image selected"
    return (f"resize: from <span class='resolution'>{width}x{height}</span> to "
            f"<span class='resolution'>{target_w}x{target_h}</span>")
