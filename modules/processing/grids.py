"""The grid picture that shows a whole batch (``grid-NNNN.png``)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from PIL import Image, ImageColor


@dataclass
class ImageGridLoopParams:
    """What ``image_grid`` callbacks get; they may reorder ``imgs`` or change ``cols``/``rows``."""

    imgs: list
    cols: int
    rows: int


GridCallback = Callable[[ImageGridLoopParams], None]


def _opt(settings: Any, key: str, default: Any) -> Any:
    return default if settings is None else getattr(settings, key, default)


def grid_rows(count: int, batch_size: int = 1, rows: int | None = None, *, settings: Any = None) -> int:
    """Rows of the grid for ``count`` pictures.

    Setting ``n_rows``: above 0 fixed, 0 the batch size, -1 automatic: the
    rounded square root, or with ``grid_prevent_empty_spots`` the largest
    divisor of ``count`` not above its square root.  Never more rows than pictures.
    """
    if rows is None:
        n_rows = _opt(settings, "n_rows", -1)
        if n_rows > 0:
            rows = n_rows
        elif n_rows == 0:
            rows = batch_size
        elif _opt(settings, "grid_prevent_empty_spots", False):
            rows = math.floor(math.sqrt(count))
            while count % rows != 0:
                rows -= 1
        else:
            rows = round(math.sqrt(count))
    return min(rows, count)


def image_grid(imgs: Sequence[Image.Image], batch_size: int = 1, rows: int | None = None, *, settings: Any = None,
               callbacks: Iterable[GridCallback] = ()) -> Image.Image:
    """Paste ``imgs`` row by row into one picture on the ``grid_background_color`` background.

    Cells are as large as the largest picture; smaller ones are centred.
    """
    rows = grid_rows(len(imgs), batch_size, rows, settings=settings)
    cols = math.ceil(len(imgs) / rows)

    params = ImageGridLoopParams(list(imgs), cols, rows)
    for callback in callbacks:
        callback(params)

    w, h = map(max, zip(*(img.size for img in imgs)))
    background = ImageColor.getcolor(_opt(settings, "grid_background_color", "#ffffff") or "#ffffff", "RGB")
    grid = Image.new("RGB", size=(params.cols * w, params.rows * h), color=background)

    for i, img in enumerate(params.imgs):
        img_w, img_h = img.size
        w_offset = 0 if img_w == w else (w - img_w) // 2
        h_offset = 0 if img_h == h else (h - img_h) // 2
        grid.paste(img, box=(i % params.cols * w + w_offset, i // params.cols * h + h_offset))

    return grid
