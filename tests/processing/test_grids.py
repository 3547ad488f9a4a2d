"""Grid layout: row rules, sizes, background, callbacks."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from PIL import Image

from modules.processing.grids import ImageGridLoopParams, grid_rows, image_grid


def settings(n_rows=-1, prevent=False, background="#ffffff") -> SimpleNamespace:
    return SimpleNamespace(n_rows=n_rows, grid_prevent_empty_spots=prevent, grid_background_color=background)


def tiles(n: int, size=(16, 8)) -> list[Image.Image]:
    return [Image.new("RGB", size, (i * 20, 0, 0)) for i in range(n)]


@pytest.mark.parametrize("count,n_rows,prevent,batch,expected", [
    (4, -1, False, 1, 2),
    (5, -1, False, 1, 2),
    (6, -1, False, 1, 2),
    (7, -1, False, 1, 3),
    (6, -1, True, 1, 2),
    (7, -1, True, 1, 1),
    (8, -1, True, 1, 2),
    (9, -1, True, 1, 3),
    (6, 0, False, 3, 3),
    (6, 4, False, 1, 4),
    (2, 5, False, 1, 2),
])
def test_rows(count, n_rows, prevent, batch, expected):
    assert grid_rows(count, batch, settings=settings(n_rows, prevent)) == expected


def test_grid_size_and_placement():
    imgs = tiles(5)
    grid = image_grid(imgs, settings=settings())
    assert grid.size == (3 * 16, 2 * 8)
    assert grid.getpixel((16 + 1, 1)) == (20, 0, 0)
    assert grid.getpixel((16 + 1, 8 + 1)) == (80, 0, 0)
    assert grid.getpixel((32 + 1, 8 + 1)) == (255, 255, 255)  # the empty spot shows the background


def test_explicit_rows_and_background_and_mixed_sizes():
    imgs = [Image.new("RGB", (16, 16), (0, 0, 255)), Image.new("RGB", (8, 8), (0, 255, 0))]
    grid = image_grid(imgs, rows=1, settings=settings(background="#102030"))
    assert grid.size == (32, 16)
    assert grid.getpixel((16 + 4, 4)) == (0, 255, 0)  # the smaller one is centred
    assert grid.getpixel((16, 0)) == (16, 32, 48)


def test_callbacks_may_change_the_layout():
    def one_column(params: ImageGridLoopParams) -> None:
        params.cols, params.rows = 1, len(params.imgs)

    grid = image_grid(tiles(3), settings=settings(), callbacks=[one_column])
    assert grid.size == (16, 24)
