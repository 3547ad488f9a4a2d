"""Extras operation "Caption": a caption from the DeepBooru and/or BLIP interrogators, saved next to the picture
as ``<name>.txt`` (merged with an existing caption as ``postprocessing_existing_caption_action`` says).

This build ships neither interrogator: the operation says so in its UI and, when
run, prints that no caption was made and leaves the picture's caption as it was.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from modules import scripts_postprocessing, shared

UNAVAILABLE_NOTE = ("Captioning needs the DeepBooru and BLIP interrogators, which this build does not include: "
                    "no caption is written.")


def _deepbooru_tagger() -> Callable[[Any], str] | None:
    """``modules.deepbooru.model.tag`` when a DeepBooru module is installed, else None."""
    try:
        deepbooru = importlib.import_module("modules.deepbooru")
    except ImportError:
        return None
    model = getattr(deepbooru, "model", None)
    return getattr(model, "tag", None)


def _blip_interrogator() -> Callable[[Any], str] | None:
    """``shared.interrogator.interrogate`` when an interrogator is installed, else None."""
    interrogator = getattr(shared, "interrogator", None)
    return getattr(interrogator, "interrogate", None)


def available_captioners() -> dict[str, Callable[[Any], str]]:
    """The captioners that can run here, by the option's names (``Deepbooru``, ``BLIP``)."""
    found = {"Deepbooru": _deepbooru_tagger(), "BLIP": _blip_interrogator()}
    return {name: fn for name, fn in found.items() if fn is not None}


class ScriptPostprocessingCeption(scripts_postprocessing.ScriptPostprocessing):
    """Join the chosen interrogators' captions (after any caption the picture already has) with ", "."""

    name = "Caption"
    order = 4040

    def ui(self) -> dict:
        import gradio as gr

        from modules import ui_components

        with ui_components.InputAccordion(False, label="Caption") as enable:
            option = gr.CheckboxGroup(value=["Deepbooru"], choices=["Deepbooru", "BLIP"], show_label=False)
            missing = [name for name in ("Deepbooru", "BLIP") if name not in available_captioners()]
            if missing:
                gr.Markdown(UNAVAILABLE_NOTE if len(missing) == 2 else f"{missing[0]} is not available in this build.",
                            elem_id="postprocess_caption_unavailable")
        return {"enable": enable, "option": option}

    def process(self, pp: scripts_postprocessing.PostprocessedImage, enable: bool = False,
                option: list[str] | None = None, **_: Any) -> None:
        if not enable:
            return
        captioners = available_captioners()
        chosen = list(option or [])
        missing = [name for name in chosen if name not in captioners]
        if missing:
            print(f"Caption: {', '.join(missing)} not available in this build; no caption from "
                  f"{'it' if len(missing) == 1 else 'them'}.")

        captions = [pp.caption]
        if "Deepbooru" in chosen and "Deepbooru" in captioners:
            captions.append(captioners["Deepbooru"](pp.image))
        if "BLIP" in chosen and "BLIP" in captioners:
            captions.append(captioners["BLIP"](pp.image.convert("RGB")))
        pp.caption = ", ".join([x for x in captions if x]) or pp.caption
