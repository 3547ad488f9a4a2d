"""Extras operation "Caption": a caption from DeepBooru and/or BLIP, saved next to the picture as ``<name>.txt``
(merged with an existing caption as ``postprocessing_existing_caption_action`` says).

As in A1111, "Deepbooru" adds ``deepbooru.model.tag(image)`` and "BLIP" adds the BLIP caption alone
(``shared.interrogator.generate_caption``), joined with ", " after any caption the picture already has.
A model file that is not in its folder is said in one line (which file, where) and that captioner is
left out; the other operations still run.
"""
from __future__ import annotations

from typing import Any, Callable

from modules import deepbooru, scripts_postprocessing, shared
from modules.core.services import current_services
from modules.models.model_files import ModelFileMissingError
from modules.runtime import interrogation

CAPTIONERS = ("Deepbooru", "BLIP")


def missing_files() -> list[str]:
    """One line per captioner whose model files are not on disk yet."""
    services = current_services()
    checks: dict[str, tuple[Callable[[Any], str], ...]] = {
        "Deepbooru": (interrogation.deepbooru_file,),
        "BLIP": (interrogation.blip_file, interrogation.bert_vocab_file)}
    notes = []
    for name, finders in checks.items():
        for find in finders:
            try:
                find(services)
            except ModelFileMissingError as e:
                notes.append(f"{name} needs {e.path}")
    return notes


def _caption(name: str, image: Any) -> str | None:
    try:
        if name == "Deepbooru":
            return deepbooru.model.tag(image)
        return shared.interrogator.generate_caption(image.convert("RGB"))
    except ModelFileMissingError as e:
        print(f"Caption: no {name} caption: {e}")
        return None


class ScriptPostprocessingCeption(scripts_postprocessing.ScriptPostprocessing):
    """Join the chosen captioners' captions (after any caption the picture already has) with ", "."""

    name = "Caption"
    order = 4040

    def ui(self) -> dict:
        import gradio as gr

        from modules import ui_components

        with ui_components.InputAccordion(False, label="Caption") as enable:
            option = gr.CheckboxGroup(value=["Deepbooru"], choices=list(CAPTIONERS), show_label=False)
            notes = missing_files()
            if notes:
                gr.Markdown("Model files to add before captioning: " + "; ".join(notes),
                            elem_id="postprocess_caption_unavailable")
        return {"enable": enable, "option": option}

    def process(self, pp: scripts_postprocessing.PostprocessedImage, enable: bool = False,
                option: list[str] | None = None, **_: Any) -> None:
        if not enable:
            return
        chosen = list(option or [])
        captions = [pp.caption]
        for name in CAPTIONERS:
            if name in chosen:
                captions.append(_caption(name, pp.image))
        pp.caption = ", ".join([x for x in captions if x])
