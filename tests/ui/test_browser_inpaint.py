"""Inpainting with a mask drawn in the browser: upload a picture into the editor, paint a stroke with the mouse,
Generate, and read the saved picture: outside the stroke it is the input pixel for pixel (A1111 pastes the original
back through the mask overlay), inside it changed."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from tests.ui.conftest import screenshot_dir, set_number

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# each test empties its editor and sets what it uses
SHARED_TAB = "prompts-and-generation"

SIZE = 64
CORNER = 4
"""Side of the corner squares that the stroke never reaches (the brush is round, the stroke horizontal)."""


def noisy_picture(path, seed: int) -> np.ndarray:
    """A picture where every pixel differs from its neighbours, so an unchanged pixel means a pasted-back one."""
    pixels = np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels.astype(int)


def outputs(server) -> set[str]:
    folder = server.data_dir / "outputs" / "img2img-images"
    return {os.path.join(root, f) for root, _, files in os.walk(folder) for f in files if f.endswith(".png")}


EMPTY_EDITOR = "ed => document.getElementById(ed).innerText.includes('Upload an image')"
"""The editor shows gradio's "Upload an image or select the draw tool to start": no picture, no stroke."""


def clear_editor(page, editor: str) -> None:
    """Empty ``editor`` with its 🗑 (Clear canvas): the tests of this module share one tab, and a picture or stroke
    an earlier test left must not reach the next one."""
    if not page.evaluate(EMPTY_EDITOR, editor):
        page.click(f"#{editor} button[aria-label='Clear canvas']")
        page.wait_for_function(EMPTY_EDITOR, arg=editor)


def draw_stroke(page, editor: str) -> None:
    """Press the mouse left of the canvas centre, drag right across it, release (the editor's brush is active)."""
    canvas = page.locator(f"#{editor} canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 60, y)
    page.mouse.down()
    # the brush draws straight segments between the pointer's positions, and each move costs the browser a
    # redraw of the zoomed canvas (about a second on a busy two-core machine): a few moves make the same stroke
    for dx in (-30, 0, 30, 60):
        page.mouse.move(x + dx, y)
    page.mouse.up()


def generate_with_stroke(page, server, tmp_path, mode_tab: str, editor: str, seed: int, *,
                         only_masked: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """Upload a noisy picture into ``editor``, paint over its middle and generate; returns (input, output, infotext)."""
    source = tmp_path / f"input-{seed}.png"
    pixels = noisy_picture(source, seed)
    page.click("#tab_img2img-button")
    page.click(f"#{mode_tab}-button")
    page.wait_for_selector(f"#{editor}", state="visible")
    clear_editor(page, editor)
    page.set_input_files(f"#{editor} input[type=file]", str(source))
    page.wait_for_selector(f"#{editor} canvas", state="visible")
    page.wait_for_timeout(500)  # the editor puts the picture on its canvas after the upload answers
    draw_stroke(page, editor)
    page.locator("#img2img_prompt textarea").fill(f"inpaint {mode_tab} {seed}")
    for elem_id, number in (("img2img_mask_blur", 0), ("img2img_steps", 3), ("img2img_width", SIZE),
                            ("img2img_height", SIZE)):
        set_number(page, elem_id, number)
    area = "Only masked" if only_masked else "Whole picture"
    page.locator("#img2img_inpaint_full_res label", has_text=area).click()
    before = outputs(server)
    page.click("#img2img_generate")
    page.wait_for_function(f"() => document.querySelector('#html_info_img2img').innerText.startsWith("
                           f"'inpaint {mode_tab} {seed}')", timeout=90000)
    page.screenshot(path=os.path.join(screenshot_dir(), f"inpaint-{mode_tab}-{seed}.png"), full_page=True)
    new = sorted(outputs(server) - before)
    assert len(new) == 1, new
    result = np.asarray(Image.open(new[0]).convert("RGB")).astype(int)
    return pixels, result, page.inner_text("#html_info_img2img")


def assert_only_the_stroke_changed(pixels: np.ndarray, result: np.ndarray) -> None:
    assert result.shape == pixels.shape
    corners = [(slice(0, CORNER), slice(0, CORNER)), (slice(0, CORNER), slice(-CORNER, None)),
               (slice(-CORNER, None), slice(0, CORNER)), (slice(-CORNER, None), slice(-CORNER, None))]
    for rows, cols in corners:
        assert np.array_equal(result[rows, cols], pixels[rows, cols]), "a pixel far from the stroke changed"
    middle = slice(SIZE // 2 - 3, SIZE // 2 + 3)
    changed = (np.abs(result[middle, middle] - pixels[middle, middle]).sum(-1) > 0).mean()
    assert changed > 0.9, f"only {changed:.0%} of the stroke's pixels changed"
    # the painted area is a blob around the stroke, not the whole picture
    assert 0.05 < (np.abs(result - pixels).sum(-1) > 0).mean() < 0.95


@pytest.mark.parametrize("only_masked", [False, True], ids=["whole-picture", "only-masked"])
def test_inpaint_changes_only_the_painted_stroke(module_page, server, tmp_path, only_masked):
    page, errors = module_page
    pixels, result, info = generate_with_stroke(page, server, tmp_path, "img2img_inpaint_tab", "img2maskimg",
                                                seed=11 + only_masked, only_masked=only_masked)
    assert_only_the_stroke_changed(pixels, result)
    assert "Mask blur: 0" in info
    assert ("Inpaint area: Only masked" in info) == only_masked
    assert errors == []


def test_inpaint_sketch_colour_stroke_changes_only_the_stroke(module_page, server, tmp_path):
    page, errors = module_page
    pixels, result, info = generate_with_stroke(page, server, tmp_path, "img2img_inpaint_sketch_tab",
                                                "inpaint_sketch", seed=21)
    assert_only_the_stroke_changed(pixels, result)
    assert "Mask blur: 0" in info
    assert errors == []


def test_inpaint_without_a_stroke_says_so(module_page, tmp_path):
    page, errors = module_page
    source = tmp_path / "plain.png"
    noisy_picture(source, 3)
    page.click("#tab_img2img-button")
    page.click("#img2img_inpaint_tab-button")
    page.wait_for_selector("#img2maskimg", state="visible")
    clear_editor(page, "img2maskimg")  # the stroke of an earlier test is gone
    page.set_input_files("#img2maskimg input[type=file]", str(source))
    page.wait_for_selector("#img2maskimg canvas", state="visible")
    page.click("#img2img_generate")
    page.wait_for_selector("#html_log_img2img .error", timeout=60000)
    assert "paint the area" in page.inner_text("#html_log_img2img")
    assert errors == []
