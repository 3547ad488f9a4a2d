"""Extras operation "Auto-sized crop": centre-crop to the largest (or best-fitting) size, in steps of 64,
within dimension and area bounds whose aspect ratio is close enough to the picture's."""
from __future__ import annotations

from typing import Any

from PIL import Image

from modules import scripts_postprocessing


def center_crop(image: Image.Image, w: int, h: int) -> Image.Image:
    """The middle of ``image`` with the aspect ratio of ``w`` x ``h``, resized to exactly that (Lanczos)."""
    iw, ih = image.size
    if ih / h < iw / w:
        sw = w * ih / h
        box = ((iw - sw) / 2, 0, iw - (iw - sw) / 2, ih)
    else:
        sh = h * iw / w
        box = (0, (ih - sh) / 2, iw, ih - (ih - sh) / 2)
    return image.resize((w, h), Image.Resampling.LANCZOS, box)


def aspect_error(iw: int, ih: int, w: int, h: int) -> float:
    """0 when ``w`` x ``h`` has the picture's aspect ratio, towards 1 the further apart they are."""
    ratio = (iw / ih) / (w / h)
    return 1 - (ratio if ratio < 1 else 1 / ratio)


def choose_size(iw: int, ih: int, mindim: int, maxdim: int, minarea: int, maxarea: int, objective: str,
                threshold: float) -> tuple[int, int] | None:
    """The size (sides from ``mindim`` in steps of 64 up to ``maxdim``) the objective prefers, or None.

    "Maximize area" takes the largest area (the smaller error among equals);
    "Minimize error" the smallest aspect error (the larger area among equals).
    """
    candidates = [(w, h) for w in range(mindim, maxdim + 1, 64) for h in range(mindim, maxdim + 1, 64)
                  if minarea <= w * h <= maxarea and aspect_error(iw, ih, w, h) <= threshold]
    if not candidates:
        return None
    if objective == "Maximize area":
        return max(candidates, key=lambda wh: (wh[0] * wh[1], -aspect_error(iw, ih, *wh)))
    return max(candidates, key=lambda wh: (-aspect_error(iw, ih, *wh), wh[0] * wh[1]))


def multicrop_pic(image: Image.Image, mindim: int, maxdim: int, minarea: int, maxarea: int, objective: str,
                  threshold: float) -> Image.Image | None:
    size = choose_size(image.width, image.height, mindim, maxdim, minarea, maxarea, objective, threshold)
    return center_crop(image, *size) if size else None


class ScriptPostprocessingAutosizedCrop(scripts_postprocessing.ScriptPostprocessing):
    """Each picture is centre-cropped with an automatically chosen width and height."""

    name = "Auto-sized crop"
    order = 4020

    def ui(self) -> dict:
        import gradio as gr

        from modules import ui_components

        with ui_components.InputAccordion(False, label="Auto-sized crop") as enable:
            gr.Markdown("Each image is center-cropped with an automatically chosen width and height.")
            with gr.Row():
                mindim = gr.Slider(minimum=64, maximum=2048, step=8, label="Dimension lower bound", value=384,
                                   elem_id="postprocess_multicrop_mindim")
                maxdim = gr.Slider(minimum=64, maximum=2048, step=8, label="Dimension upper bound", value=768,
                                   elem_id="postprocess_multicrop_maxdim")
            with gr.Row():
                minarea = gr.Slider(minimum=64 * 64, maximum=2048 * 2048, step=1, label="Area lower bound",
                                    value=64 * 64, elem_id="postprocess_multicrop_minarea")
                maxarea = gr.Slider(minimum=64 * 64, maximum=2048 * 2048, step=1, label="Area upper bound",
                                    value=640 * 640, elem_id="postprocess_multicrop_maxarea")
            with gr.Row():
                objective = gr.Radio(["Maximize area", "Minimize error"], value="Maximize area",
                                     label="Resizing objective", elem_id="postprocess_multicrop_objective")
                threshold = gr.Slider(minimum=0, maximum=1, step=0.01, label="Error threshold", value=0.1,
                                      elem_id="postprocess_multicrop_threshold")
        return {"enable": enable, "mindim": mindim, "maxdim": maxdim, "minarea": minarea, "maxarea": maxarea,
                "objective": objective, "threshold": threshold}

    def process(self, pp: scripts_postprocessing.PostprocessedImage, enable: bool = False, mindim: int = 384,
                maxdim: int = 768, minarea: int = 64 * 64, maxarea: int = 640 * 640, objective: str = "Maximize area",
                threshold: float = 0.1, **_: Any) -> None:
        if not enable:
            return
        cropped = multicrop_pic(pp.image, int(mindim), int(maxdim), int(minarea), int(maxarea), objective,
                                float(threshold))
        if cropped is not None:
            pp.image = cropped
        else:
            print(f"skipped {pp.image.width}x{pp.image.height} image (can't find suitable size within error threshold)")
