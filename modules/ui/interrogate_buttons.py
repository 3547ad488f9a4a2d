"""img2img's 📎 Interrogate CLIP and 📦 Interrogate DeepBooru buttons: the picture of the selected mode tab is
interrogated and the answer replaces the prompt; on the Batch tab each picture of the input folder gets a
``<name>.txt`` (appended to) in the output folder, or beside it when no output folder is given (A1111's
``process_interrogate``).  The work holds the queue lock, so it waits for a running generation; a missing
model file leaves the prompt as it was and says which file to put where.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from modules.core.services import current_services
from modules.models.model_files import ModelFileMissingError
from modules.runtime.call_queue import wrap_queued_call
from modules.runtime.interrogation import clip_interrogator, deepbooru_tagger
from modules.ui.components import error_html

BATCH_MODE = 5
"""The Batch tab's index among img2img's mode tabs."""


def interrogate_clip(image: Any) -> str:
    """The CLIP interrogator's answer for ``image``."""
    return clip_interrogator(current_services()).interrogate(image.convert("RGB"))


def interrogate_deepbooru(image: Any) -> str:
    """DeepBooru's tags for ``image``."""
    return deepbooru_tagger(current_services()).tag(image)


def _single_picture(mode: int, pictures: tuple) -> Any:
    picture = pictures[mode] if 0 <= mode < len(pictures) else None
    if isinstance(picture, dict):  # an editor's value: the picture itself for inpaint, the drawing for sketches
        keys = ("background", "composite") if mode == 2 else ("composite", "background")
        picture = next((picture[k] for k in keys if picture.get(k) is not None), None)
    return picture


def _batch(interrogate: Callable[[Any], str], input_dir: str, output_dir: str) -> None:
    from PIL import Image, UnidentifiedImageError

    if getattr(current_services().cmd_opts, "hide_ui_dir_config", False):
        raise PermissionError("Launched with --hide-ui-dir-config, batch img2img disabled")
    files = sorted(os.path.join(input_dir, f) for f in os.listdir(input_dir)
                   if os.path.isfile(os.path.join(input_dir, f)))
    print(f"Will process {len(files)} images.")
    output_dir = output_dir or input_dir
    os.makedirs(output_dir, exist_ok=True)
    for path in files:
        try:
            image = Image.open(path)
        except (UnidentifiedImageError, OSError):
            continue
        name = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(output_dir, f"{name}.txt"), "a", encoding="utf-8") as f:
            print(interrogate(image), file=f)


def process_interrogate(interrogate: Callable[[Any], str], mode: Any, input_dir: str, output_dir: str,
                        *pictures: Any) -> tuple[Any, str]:
    """(new prompt or no change, message HTML) for the selected mode tab."""
    import gradio as gr

    mode = int(mode or 0)
    try:
        if mode == BATCH_MODE:
            _batch(interrogate, input_dir or "", output_dir or "")
            return gr.update(), ""
        picture = _single_picture(mode, pictures)
        if picture is None:
            return gr.update(), error_html("No picture to interrogate in this tab.")
        prompt = interrogate(picture)
    except (ModelFileMissingError, PermissionError, FileNotFoundError, ValueError) as e:
        return gr.update(), error_html(str(e))
    return (gr.update() if prompt is None else prompt), ""


def button_handler(interrogate: Callable[[Any], str]) -> Callable[..., tuple[Any, str]]:
    """The click function of a button: :func:`process_interrogate` holding the queue lock."""
    return wrap_queued_call(lambda *args: process_interrogate(interrogate, *args))


def connect_interrogate_buttons(toprow: Any, images: Any, html_log: Any) -> None:
    """Wire the two buttons of ``toprow`` (img2img's) to the mode tabs' pictures and the batch folders."""
    inputs = [images.selected_tab, images.batch_input_dir, images.batch_output_dir, *images.pictures]
    outputs = [toprow.prompt, html_log]
    for button, interrogate in ((toprow.button_interrogate, interrogate_clip),
                                (toprow.button_deepbooru, interrogate_deepbooru)):
        button.click(fn=button_handler(interrogate), inputs=inputs, outputs=outputs, show_progress="hidden")
