"""Extras operation "Split oversized images": a picture much longer than the target shape becomes several
overlapping pictures of the target size (the target comes from the Upscale operation's size)."""
from __future__ import annotations

import math
from typing import Any, Iterator

from PIL import Image

from modules import scripts_postprocessing


def split_pic(image: Image.Image, inverse_xy: bool, width: int, height: int, overlap_ratio: float
              ) -> Iterator[Image.Image]:
    """Scale ``image`` so its short side fits the target, then cut ``width`` x ``height`` pieces along the long side.

    ``inverse_xy`` means the long side is the width.  Neighbouring pieces overlap
    by about ``overlap_ratio`` of a piece; the first and last touch the picture's ends.
    """
    if inverse_xy:
        from_w, from_h = image.height, image.width
        to_w, to_h = height, width
    else:
        from_w, from_h = image.width, image.height
        to_w, to_h = width, height
    h = from_h * to_w // from_w
    image = image.resize((h, to_w) if inverse_xy else (to_w, h))

    split_count = math.ceil((h - to_h * overlap_ratio) / (to_h * (1.0 - overlap_ratio)))
    y_step = (h - to_h) / (split_count - 1) if split_count > 1 else 0
    for i in range(split_count):
        y = int(y_step * i)
        yield image.crop((y, 0, y + to_h, to_w) if inverse_xy else (0, y, to_w, y + to_h))


class ScriptPostprocessingSplitOversized(scripts_postprocessing.ScriptPostprocessing):
    """Split when the picture's aspect ratio, compared with the target's, is below ``split_threshold``."""

    name = "Split oversized images"
    order = 4000

    def ui(self) -> dict:
        import gradio as gr

        from modules import ui_components

        with ui_components.InputAccordion(False, label="Split oversized images") as enable:
            with gr.Row():
                split_threshold = gr.Slider(label="Threshold", value=0.5, minimum=0.0, maximum=1.0, step=0.05,
                                            elem_id="postprocess_split_threshold")
                overlap_ratio = gr.Slider(label="Overlap ratio", value=0.2, minimum=0.0, maximum=0.9, step=0.05,
                                          elem_id="postprocess_overlap_ratio")
        return {"enable": enable, "split_threshold": split_threshold, "overlap_ratio": overlap_ratio}

    def process(self, pp: scripts_postprocessing.PostprocessedImage, enable: bool = False,
                split_threshold: float = 0.5, overlap_ratio: float = 0.2, **_: Any) -> None:
        if not enable:
            return
        width, height = pp.shared.target_width, pp.shared.target_height
        if not width or not height:
            return  # no target size: the Upscale operation sets it ("Scale to", or the size "Scale by" gives)

        if pp.image.height > pp.image.width:
            ratio = (pp.image.width * height) / (pp.image.height * width)
            inverse_xy = False
        else:
            ratio = (pp.image.height * width) / (pp.image.width * height)
            inverse_xy = True
        if ratio >= 1.0 or ratio > split_threshold:
            return

        result, *others = split_pic(pp.image, inverse_xy, int(width), int(height), float(overlap_ratio))
        pp.image = result
        pp.extra_images = [pp.create_copy(x) for x in others]
