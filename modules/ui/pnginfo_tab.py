"""The PNG Info tab: the text chunks of a picture (``parameters`` first) and "Send to" buttons (SPEC 13.6)."""
from __future__ import annotations

import html
from typing import Any

from PIL import Image

from modules.processing.image_saving_info import read_info_from_image
from modules.ui import form_components as forms
from modules.ui.components import make, plaintext_to_html
from modules.ui.paste import ParamBinding, create_buttons, register_paste_params_button

NOTHING_FOUND = "Nothing found in the image."


def run_pnginfo(image_path: Any) -> tuple[str, str, str]:
    """(unused HTML, infotext, HTML list of every chunk) for an uploaded picture."""
    if not image_path:
        return "", "", ""
    try:
        image = Image.open(image_path)
    except OSError:
        return "", "", f"<div><p>{NOTHING_FOUND}</p></div>"
    geninfo, items = read_info_from_image(image)
    chunks = {"parameters": geninfo, **items} if geninfo else dict(items)
    info = "".join(f"<div><p><b>{html.escape(str(key))}</b></p>{plaintext_to_html(str(text))}</div>\n"
                   for key, text in chunks.items() if text is not None)
    if not info:
        info = f"<div><p>{NOTHING_FOUND}</p></div>"
    return "", geninfo or "", info


def create_pnginfo_tab() -> None:
    """Build the tab in the current gradio context."""
    import gradio as gr

    with forms.ResizeHandleRow(equal_height=False):
        with gr.Column(variant="panel"):
            # a file path keeps every chunk exactly as written (no re-encoding by the browser or gradio)
            image = make(gr.Image, elem_id="pnginfo_image", label="Source", sources=["upload", "clipboard"],
                         interactive=True, type="filepath")
        with gr.Column(variant="panel"):
            info_html = gr.HTML(elem_id="pnginfo_html")
            generation_info = gr.Textbox(visible=False, elem_id="pnginfo_generation_info")
            chunks_html = gr.HTML(elem_id="pnginfo_html2")
            with gr.Row():
                buttons = create_buttons(["txt2img", "img2img", "inpaint", "extras"])
    for tabname, button in buttons.items():
        register_paste_params_button(ParamBinding(paste_button=button, tabname=tabname,
                                                  source_text_component=generation_info, source_image_component=image))
    image.change(fn=run_pnginfo, inputs=[image], outputs=[info_html, generation_info, chunks_html], show_progress="hidden")
