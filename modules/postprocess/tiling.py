"""Running an image-to-image network over a picture, whole or in overlapping tiles.

The ESRGAN family (ESRGAN, Real-ESRGAN, DAT, HAT) uses A1111's approach: the
picture is cut into a PIL grid of overlapping tiles, each tile is upscaled, and
the tiles are pasted back with a linear blend across each overlap.  Two things
differ from A1111, both so that tiled and untiled results agree:

- tiles are shrunk to the smallest size that still covers the picture with the
  same number of tiles (never larger than the setting), so little is computed
  twice and no tile is padded with black;
- a picture that fits in one tile is upscaled whole.

Pictures go to the network as BGR in [0, 1], as A1111 feeds these models.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PIL import Image

TileRow = tuple[int, int, list[tuple[int, int, Image.Image]]]
"""(y, height, [(x, width, tile), ...])"""


@dataclass
class Grid:
    """Tiles of a picture: rows of (x, width, tile) with each row's (y, height) (A1111's ``images.Grid``)."""

    tiles: list[TileRow] = field(default_factory=list)
    tile_w: int = 0
    tile_h: int = 0
    image_w: int = 0
    image_h: int = 0
    overlap: int = 0

    @property
    def tile_count(self) -> int:
        return sum(len(row[2]) for row in self.tiles)


def _axis(length: int, tile: int, overlap: int) -> tuple[int, list[int]]:
    """The tile size along one axis and each tile's start, covering ``length`` with at most ``tile`` pixels a tile."""
    if length <= tile:
        return length, [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    size = min(tile, math.ceil((length + (count - 1) * overlap) / count))
    step = (length - size) / (count - 1)
    starts = [min(int(i * step), length - size) for i in range(count)]
    return size, starts


def split_grid(image: Image.Image, tile_w: int, tile_h: int, overlap: int) -> Grid:
    """Cut ``image`` into overlapping tiles no larger than ``tile_w`` x ``tile_h``."""
    overlap = max(0, min(overlap, tile_w // 2, tile_h // 2))  # a larger overlap would never advance
    w, h = image.size
    size_w, xs = _axis(w, tile_w, overlap)
    size_h, ys = _axis(h, tile_h, overlap)
    grid = Grid([], size_w, size_h, w, h, overlap)
    for y in ys:
        row = [(x, size_w, image.crop((x, y, x + size_w, y + size_h))) for x in xs]
        grid.tiles.append((y, size_h, row))
    return grid


def _ramp(length: int, across: int, horizontal: bool) -> Image.Image:
    """A linear 0..255 mask ``length`` pixels long in the blend direction, ``across`` pixels wide."""
    values = (np.arange(length, dtype=np.float32) * 255 / length).astype(np.uint8)
    mask = np.repeat(values[None, :], across, axis=0) if horizontal else np.repeat(values[:, None], across, axis=1)
    return Image.fromarray(mask, "L")


def combine_grid(grid: Grid) -> Image.Image:
    """Paste the tiles back, each blended linearly over ``overlap`` pixels into its left and upper neighbour."""
    combined = Image.new("RGB", (grid.image_w, grid.image_h))
    overlap = grid.overlap
    for y, h, row in grid.tiles:
        combined_row = Image.new("RGB", (grid.image_w, h))
        for x, w, tile in row:
            if x == 0 or overlap == 0:
                combined_row.paste(tile, (x, 0))
                continue
            combined_row.paste(tile.crop((0, 0, overlap, h)), (x, 0), mask=_ramp(overlap, h, True))
            combined_row.paste(tile.crop((overlap, 0, w, h)), (x + overlap, 0))
        if y == 0 or overlap == 0:
            combined.paste(combined_row, (0, y))
            continue
        combined.paste(combined_row.crop((0, 0, grid.image_w, overlap)), (0, y), mask=_ramp(overlap, grid.image_w, False))
        combined.paste(combined_row.crop((0, overlap, grid.image_w, h)), (0, y + overlap))
    return combined


def pil_to_bgr_tensor(img: Image.Image) -> Any:
    """HWC RGB uint8 picture -> 1x3xHxW BGR float tensor in [0, 1]."""
    import torch

    arr = np.asarray(img.convert("RGB"))[:, :, ::-1].transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(0).float().div_(255)


def bgr_tensor_to_pil(tensor: Any) -> Image.Image:
    """1x3xHxW (or 3xHxW) BGR tensor in [0, 1] -> RGB picture (values truncated to uint8 as A1111 does)."""
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"{tuple(tensor.shape)} is not a batch of one picture")
        tensor = tensor[0]
    arr = tensor.float().cpu().clamp_(0, 1).mul_(255).numpy()
    arr = np.moveaxis(arr, 0, 2).astype(np.uint8)[:, :, ::-1]
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


def _model_place(model: Any) -> tuple[Any, Any]:
    device = getattr(model, "device", None)
    dtype = getattr(model, "dtype", None)
    if device is None or dtype is None:
        param = next(model.parameters())
        device, dtype = param.device, param.dtype
    return device, dtype


def upscale_pil_patch(model: Callable[[Any], Any], img: Image.Image) -> Image.Image:
    """One untiled pass of ``model`` (a spandrel descriptor or a module) over ``img``."""
    import torch

    device, dtype = _model_place(model)
    with torch.inference_mode():
        tensor = pil_to_bgr_tensor(img).to(device=device, dtype=dtype)
        return bgr_tensor_to_pil(model(tensor))


def upscale_with_model(model: Callable[[Any], Any], img: Image.Image, *, tile_size: int, tile_overlap: int = 0,
                       interrupted: Callable[[], bool] | None = None,
                       progress: Callable[[int, int], None] | None = None) -> Image.Image:
    """Upscale ``img`` with ``model``, in tiles of ``tile_size`` (0 = whole) overlapping by ``tile_overlap``.

    ``interrupted`` is asked before each tile (an interrupted job returns ``img``
    unchanged, as A1111); ``progress(done, total)`` is told after each tile.
    """
    img = img.convert("RGB")
    if tile_size <= 0 or (img.width <= tile_size and img.height <= tile_size):
        return upscale_pil_patch(model, img)

    grid = split_grid(img, tile_size, tile_size, tile_overlap)
    total = grid.tile_count
    done = 0
    scale = 1
    new_rows: list[TileRow] = []
    for y, h, row in grid.tiles:
        new_row = []
        for x, w, tile in row:
            if interrupted is not None and interrupted():
                return img
            output = upscale_pil_patch(model, tile)
            scale = output.width // tile.width
            new_row.append((x * scale, w * scale, output))
            done += 1
            if progress is not None:
                progress(done, total)
        new_rows.append((y * scale, h * scale, new_row))
    return combine_grid(Grid(new_rows, grid.tile_w * scale, grid.tile_h * scale, grid.image_w * scale,
                             grid.image_h * scale, grid.overlap * scale))


def tiled_upscale_tensor(img: Any, model: Callable[[Any], Any], *, tile_size: int, tile_overlap: int,
                         scale: int) -> Any:
    """Tensor-space tiling that averages overlaps (A1111's ``tiled_upscale_2``, used by SwinIR and ScuNET)."""
    import torch

    _, _, h, w = img.shape
    tile_size = min(tile_size, h, w)
    if tile_size <= 0:
        return model(img)
    # at least 1 (an overlap of a whole tile would never advance) and at most a tile (a negative overlap would leave
    # gaps with no tile at all, whose weight 0 turns A1111's division into 0 / 0)
    stride = min(tile_size, max(1, tile_size - tile_overlap))
    h_starts = list(range(0, h - tile_size, stride)) + [h - tile_size]
    w_starts = list(range(0, w - tile_size, stride)) + [w - tile_size]
    result = torch.zeros(img.shape[0], img.shape[1], h * scale, w * scale, device=img.device, dtype=img.dtype)
    weights = torch.zeros_like(result)
    for hs in h_starts:
        for ws in w_starts:
            out = model(img[..., hs:hs + tile_size, ws:ws + tile_size])
            region = (..., slice(hs * scale, (hs + tile_size) * scale), slice(ws * scale, (ws + tile_size) * scale))
            result[region].add_(out)
            weights[region].add_(1)
    return result.div_(weights)
