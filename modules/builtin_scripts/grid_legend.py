"""Labelled grids: column titles above, row titles to the left, inactive labels struck through.

The layout is A1111's ``images.draw_grid_annotations`` (font size ``(w + h) // 25``,
left pad ``3/4`` of a cell when rows have labels, optional margins between cells),
so saved grids look the same.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageColor, ImageDraw, ImageFont

from modules.core.services import current_services

_SYSTEM_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf", "arial.ttf")


@dataclass
class GridAnnotation:
    """One label line; inactive ones (prompt matrix parts left out) are drawn in the inactive colour, crossed out."""

    text: str = ""
    is_active: bool = True
    size: tuple[int, int] = (0, 0)
    allowed_width: int = 0


def get_font(fontsize: int, font_path: str = "") -> Any:
    """Setting ``font`` when set, else a system sans font, else PIL's built-in one."""
    for path in ([font_path] if font_path else []) + list(_SYSTEM_FONTS):
        try:
            return ImageFont.truetype(path, max(fontsize, 1))
        except OSError:
            continue
    return ImageFont.load_default(max(fontsize, 1))


def _settings() -> Any:
    return current_services().opts


def _opt(key: str, default: Any) -> Any:
    opts = _settings()
    return getattr(opts, key, default) if opts is not None else default


def _wrap(drawing: ImageDraw.ImageDraw, text: str, font: Any, line_length: int) -> list[str]:
    lines = [""]
    for word in text.split():
        line = f"{lines[-1]} {word}".strip()
        if drawing.textlength(line, font=font) <= line_length:
            lines[-1] = line
        else:
            lines.append(word)
    return lines


def _measure(hor_texts: list[list[GridAnnotation]], ver_texts: list[list[GridAnnotation]], font: Any,
             width: int, pad_left: int) -> None:
    """Wrap every label to its space and record each line's size (in place)."""
    drawing = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [width] * len(hor_texts) + [pad_left] * len(ver_texts)
    for texts, allowed_width in zip(hor_texts + ver_texts, widths):
        items = list(texts)
        texts.clear()
        for line in items:
            texts += [GridAnnotation(x, line.is_active) for x in _wrap(drawing, line.text, font, allowed_width)]
        for line in texts:
            bbox = drawing.multiline_textbbox((0, 0), line.text, font=font)
            line.size = (bbox[2] - bbox[0], bbox[3] - bbox[1])
            line.allowed_width = allowed_width


def draw_grid_annotations(im: Image.Image, width: int, height: int, hor_texts: list[list[GridAnnotation]],
                          ver_texts: list[list[GridAnnotation]], margin: int = 0) -> Image.Image:
    """``im`` is a grid of ``width`` x ``height`` cells; returns it with labels and ``margin`` px between cells."""
    color_active = ImageColor.getcolor(_opt("grid_text_active_color", "#000000"), "RGB")
    color_inactive = ImageColor.getcolor(_opt("grid_text_inactive_color", "#999999"), "RGB")
    color_background = ImageColor.getcolor(_opt("grid_background_color", "#ffffff") or "#ffffff", "RGB")
    font_path = _opt("font", "") or ""

    fontsize = (width + height) // 25
    line_spacing = fontsize // 2
    font = get_font(fontsize, font_path)
    has_row_labels = any(len(line.text) for lines in ver_texts for line in lines)
    pad_left = width * 3 // 4 if has_row_labels else 0

    cols, rows = im.width // width, im.height // height
    if cols != len(hor_texts):
        raise ValueError(f"bad number of horizontal texts: {len(hor_texts)}; must be {cols}")
    if rows != len(ver_texts):
        raise ValueError(f"bad number of vertical texts: {len(ver_texts)}; must be {rows}")

    _measure(hor_texts, ver_texts, font, width, pad_left)
    hor_heights = [sum(line.size[1] + line_spacing for line in lines) - line_spacing for lines in hor_texts]
    ver_heights = [sum(line.size[1] + line_spacing for line in lines) - line_spacing * len(lines) for lines in ver_texts]
    pad_top = max(hor_heights) + line_spacing * 2 if sum(hor_heights) != 0 else 0

    result = Image.new("RGB", (im.width + pad_left + margin * (cols - 1), im.height + pad_top + margin * (rows - 1)),
                       color_background)
    for row in range(rows):
        for col in range(cols):
            cell = im.crop((width * col, height * row, width * (col + 1), height * (row + 1)))
            result.paste(cell, (pad_left + (width + margin) * col, pad_top + (height + margin) * row))

    drawing = ImageDraw.Draw(result)

    def draw_texts(x: float, y: float, lines: list[GridAnnotation]) -> None:
        for line in lines:
            size, fnt = fontsize, font
            # shrink a line that still does not fit (one long word)
            while drawing.multiline_textbbox((0, 0), line.text, font=fnt)[2] > line.allowed_width and size > 1:
                size -= 1
                fnt = get_font(size, font_path)
            drawing.multiline_text((x, y + line.size[1] / 2), line.text, font=fnt,
                                   fill=color_active if line.is_active else color_inactive, anchor="mm", align="center")
            if not line.is_active:
                half_w, mid_y = line.size[0] // 2, y + line.size[1] // 2
                drawing.line((x - half_w, mid_y, x + half_w, mid_y), fill=color_inactive, width=4)
            y += line.size[1] + line_spacing

    for col in range(cols):
        draw_texts(pad_left + (width + margin) * col + width / 2, pad_top / 2 - hor_heights[col] / 2, hor_texts[col])
    for row in range(rows):
        draw_texts(pad_left / 2, pad_top + (height + margin) * row + height / 2 - ver_heights[row] / 2, ver_texts[row])
    return result


def draw_prompt_matrix(im: Image.Image, width: int, height: int, all_prompts: list[str],
                       margin: int = 0) -> Image.Image:
    """Prompt matrix legend: the variable parts split between columns (first half) and rows (second half)."""
    prompts = all_prompts[1:]
    boundary = math.ceil(len(prompts) / 2)
    horizontal, vertical = prompts[:boundary], prompts[boundary:]
    hor_texts = [[GridAnnotation(x, is_active=pos & (1 << i) != 0) for i, x in enumerate(horizontal)]
                 for pos in range(1 << len(horizontal))]
    ver_texts = [[GridAnnotation(x, is_active=pos & (1 << i) != 0) for i, x in enumerate(vertical)]
                 for pos in range(1 << len(vertical))]
    return draw_grid_annotations(im, width, height, hor_texts, ver_texts, margin)
