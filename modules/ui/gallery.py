"""The output column of a tab: gallery, the button row under it, the infotext of the selected picture, the log.

Element ids are A1111's (``txt2img_gallery``, ``save_txt2img``, ``html_info_txt2img``,
``generation_info_txt2img``...).  The selected picture's index is kept per browser
session in :attr:`OutputPanel.selected_index`; the seed ♻️ buttons, Save and the
send buttons read it.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from modules.core.services import current_services
from modules.ui import symbols
from modules.ui.components import error_html, make, opt, plaintext_to_html, tool_button
from modules.ui.paste import ParamBinding, register_paste_params_button
from modules.ui.saving import SaveError, save_files


@dataclass
class OutputPanel:
    gallery: Any = None
    generation_info: Any = None
    infotext: Any = None
    html_log: Any = None
    button_upscale: Any = None
    selected_index: Any = None
    send_buttons: dict | None = None

    @property
    def outputs(self) -> list:
        """What a generation returns into, in :func:`modules.ui.generation.present`'s order."""
        return [self.gallery, self.generation_info, self.infotext, self.html_log, self.selected_index]


def open_folder(path: str) -> None:
    """📂: show the output folder in the server machine's file manager (never with ``--hide-ui-dir-config``)."""
    if getattr(current_services().cmd_opts, "hide_ui_dir_config", False):
        return
    if not os.path.exists(path):
        print(f'Folder "{path}" does not exist. After you create an image, the folder will be created.')
        return
    if not os.path.isdir(path):
        print(f"An open_folder request was made with an argument that is not a folder: {path}", file=sys.stderr)
        return
    path = os.path.normpath(path)
    if platform.system() == "Windows":
        os.startfile(path)  # type: ignore[attr-defined]  (Windows only)
    elif platform.system() == "Darwin":
        subprocess.Popen(["open", path])
    else:
        subprocess.Popen(["xdg-open", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def output_folder(tabname: str) -> str:
    """The folder 📂 opens for ``tabname`` (``outdir_samples`` wins), under the data dir."""
    services = current_services()
    key = {"txt2img": "outdir_txt2img_samples", "img2img": "outdir_img2img_samples"}.get(tabname,
                                                                                      "outdir_extras_samples")
    path = opt("outdir_samples", "") or opt(key, "")
    data_dir = getattr(services.paths, "data_dir", None) if services.paths is not None else None
    return os.path.join(data_dir, path) if data_dir and not os.path.isabs(path) else path


def selected_infotext(generation_info: str, html_info: str, index: int) -> tuple[str, int]:
    """The infotext HTML of gallery picture ``index`` (the shown one when the info cannot be read)."""
    try:
        info = json.loads(generation_info or "")
        infotexts = info["infotexts"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return html_info, index
    if 0 <= index < len(infotexts):
        return plaintext_to_html(infotexts[index]), index
    return html_info, index


def update_generation_info(generation_info: str, html_info: str, img_index: int) -> tuple[str, Any]:
    """The infotext HTML of picture ``img_index`` of a job's generation info JSON (A1111's
    ``ui_common.update_generation_info``)."""
    try:
        json.loads(generation_info)
    except (TypeError, ValueError):
        return html_info, None
    return selected_infotext(generation_info, html_info, int(img_index))[0], None


def create_output_panel(tabname: str, outdir: str | None = None, toprow: Any = None) -> OutputPanel:
    """Build the output column of ``tabname`` (txt2img, img2img or extras); ``outdir`` and ``toprow`` are A1111's
    arguments and unused (the output folder comes from the settings)."""
    import gradio as gr

    res = OutputPanel()
    services = current_services()
    hide_dirs = bool(getattr(services.cmd_opts, "hide_ui_dir_config", False))
    with gr.Column(elem_id=f"{tabname}_results"):
        with gr.Column(variant="panel", elem_id=f"{tabname}_results_panel"):
            with gr.Group(elem_id=f"{tabname}_gallery_container"):
                res.gallery = make(gr.Gallery, label="Output", show_label=False, elem_id=f"{tabname}_gallery",
                                   columns=4, preview=True, height=opt("gallery_height", "") or None,
                                   format="png", type="filepath", interactive=False, object_fit="contain",
                                   buttons=["download", "fullscreen"])
            res.selected_index = gr.State(-1)
            with gr.Row(elem_id=f"image_buttons_{tabname}", elem_classes=["image-buttons"]):
                open_button = tool_button(symbols.folder_symbol, elem_id=f"{tabname}_open_folder",
                                          visible=not hide_dirs, tooltip="Open images output directory.")
                if tabname != "extras":
                    save = tool_button(symbols.save_symbol, elem_id=f"save_{tabname}",
                                       tooltip=f"Save the image to a dedicated directory ({opt('outdir_save', '')}).")
                    save_zip = tool_button(symbols.zip_symbol, elem_id=f"save_zip_{tabname}",
                                           tooltip=f"Save zip archive with images to a dedicated directory "
                                                   f"({opt('outdir_save', '')})")
                res.send_buttons = {
                    "img2img": tool_button(symbols.send_img2img_symbol, elem_id=f"{tabname}_send_to_img2img",
                                           tooltip="Send image and generation parameters to img2img tab."),
                    "inpaint": tool_button(symbols.send_inpaint_symbol, elem_id=f"{tabname}_send_to_inpaint",
                                           tooltip="Send image and generation parameters to img2img inpaint tab."),
                    "extras": tool_button(symbols.send_extras_symbol, elem_id=f"{tabname}_send_to_extras",
                                          tooltip="Send image and generation parameters to extras tab."),
                }
                if tabname == "txt2img":
                    res.button_upscale = tool_button(symbols.upscale_symbol, elem_id=f"{tabname}_upscale",
                                                     tooltip="Create an upscaled version of the current image using "
                                                             "hires fix settings.")
            open_button.click(fn=lambda: open_folder(output_folder(tabname)), inputs=[], outputs=[],
                              show_progress="hidden")
            if tabname != "extras":
                download_files = gr.File(None, file_count="multiple", interactive=False, show_label=False,
                                         visible=False, elem_id=f"download_files_{tabname}")
                with gr.Group():
                    res.infotext = gr.HTML(elem_id=f"html_info_{tabname}", elem_classes=["infotext"])
                    res.html_log = gr.HTML(elem_id=f"html_log_{tabname}", elem_classes=["html-log"])
                    res.generation_info = make(gr.Textbox, visible=False, elem_id=f"generation_info_{tabname}")
                _connect_save(save, save_zip, res, download_files)
                res.gallery.select(fn=with_select_data(_on_select), inputs=[res.generation_info, res.infotext],
                                   outputs=[res.infotext, res.selected_index], show_progress="hidden")
            else:
                res.generation_info = gr.HTML(elem_id=f"html_info_x_{tabname}")
                res.infotext = gr.HTML(elem_id=f"html_info_{tabname}", elem_classes=["infotext"])
                res.html_log = gr.HTML(elem_id=f"html_log_{tabname}")
                res.gallery.select(fn=with_select_data(_event_index), inputs=[], outputs=[res.selected_index],
                                   show_progress="hidden")

    runner = services.scripts_txt2img if tabname == "txt2img" else services.scripts_img2img if tabname == "img2img" \
        else None
    names = list(getattr(runner, "paste_field_names", None) or [])
    for target, button in res.send_buttons.items():
        register_paste_params_button(ParamBinding(
            paste_button=button, tabname=target, source_tabname="txt2img" if tabname == "txt2img" else None,
            source_image_component=res.gallery, paste_field_names=names, source_index_component=res.selected_index))
    return res


def with_select_data(fn: Any) -> Any:
    """Mark ``fn``'s ``evt`` argument as gradio's ``SelectData`` (gradio fills arguments by their annotation)."""
    import gradio as gr

    fn.__annotations__["evt"] = gr.SelectData
    return fn


def _event_index(evt: Any = None) -> int:
    index = getattr(evt, "index", 0)
    return int(index[0] if isinstance(index, (list, tuple)) else index or 0)


def _on_select(generation_info: str, html_info: str, evt: Any = None) -> tuple[str, int]:
    return selected_infotext(generation_info, html_info, _event_index(evt))


def _connect_save(save: Any, save_zip: Any, res: OutputPanel, download_files: Any) -> None:
    import gradio as gr

    def on_save(js_data: str, gallery: list, index: int, make_zip: bool) -> tuple[Any, str]:
        try:
            files, message = save_files(js_data, gallery, make_zip, index)
        except SaveError as e:
            return gr.update(), error_html(str(e))
        except OSError as e:
            return gr.update(), error_html(f"Could not save: {e}")
        return gr.update(value=files, visible=True), plaintext_to_html(message)

    save.click(fn=lambda info, gallery, index: on_save(info, gallery, index, False),
               inputs=[res.generation_info, res.gallery, res.selected_index], outputs=[download_files, res.html_log],
               show_progress="hidden")
    save_zip.click(fn=lambda info, gallery, index: on_save(info, gallery, index, True),
                   inputs=[res.generation_info, res.gallery, res.selected_index],
                   outputs=[download_files, res.html_log], show_progress="hidden")
