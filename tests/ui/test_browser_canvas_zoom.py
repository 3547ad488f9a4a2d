"""The built-in canvas-zoom-and-pan extension on the Inpaint editor, driven with the mouse and keyboard as a person
would: Alt+wheel zooms around the pointer, Ctrl+wheel and Q/W change the brush size, holding F pans, S fits the
canvas to the window, R resets; O (Overlap) is off by default, and keys typed into a prompt are left alone."""
from __future__ import annotations

import pytest
from PIL import Image

pytestmark = pytest.mark.browser
# the first module of its group's tab on the second main-kind server (tests/parallel.py); it leaves the editor empty
# and unzoomed
SHARED_TAB = "second-server"
EDITOR = "#img2maskimg"


def canvas_rect(page) -> dict:
    return page.evaluate(f"() => {{ const r = document.querySelector('{EDITOR} canvas').getBoundingClientRect();"
                         " return {left: r.left, top: r.top, width: r.width, height: r.height}; }")


def brush_size(page) -> int:
    """The value of the editor's brush size slider (its popup opened and closed again)."""
    button = page.locator(f"{EDITOR} button[aria-label='Brush Size']")
    button.click()
    value = int(page.locator(f"{EDITOR} .size_picker input[type=range]").input_value())
    button.click()
    return value


def test_zoom_pan_brush_fullscreen_and_reset(module_page, tmp_path):
    page, errors = module_page
    picture = tmp_path / "zoom-me.png"
    Image.new("RGB", (300, 200), (30, 120, 200)).save(picture)
    page.click("#tab_img2img-button")
    page.click("#img2img_inpaint_tab-button")
    page.wait_for_selector(EDITOR, state="visible")
    page.set_input_files(f"{EDITOR} input[type=file]", str(picture))
    page.wait_for_selector(f"{EDITOR} canvas", state="visible")
    page.locator(f"{EDITOR} canvas").first.scroll_into_view_if_needed()
    try:
        tooltip = page.locator(f"{EDITOR} .canvas-tooltip")
        tooltip.wait_for(state="attached", timeout=30000)
        assert "Alt + wheel - Zoom canvas" in tooltip.evaluate("t => t.textContent")
        assert "Overlap" not in tooltip.evaluate("t => t.textContent")  # disabled by default

        before = canvas_rect(page)
        mouse_x, mouse_y = before["left"] + 150, before["top"] + 200
        page.mouse.move(mouse_x, mouse_y)
        page.keyboard.down("Alt")
        page.mouse.wheel(0, -100)
        page.mouse.wheel(0, -100)
        page.keyboard.up("Alt")
        assert page.get_attribute(EDITOR, "data-canvas-zoom") == "1.4"
        after = canvas_rect(page)
        assert after["width"] == pytest.approx(before["width"] * 1.4, abs=1)
        # the point under the pointer stayed there
        assert (mouse_x - after["left"]) / 1.4 == pytest.approx(mouse_x - before["left"], abs=1)
        assert (mouse_y - after["top"]) / 1.4 == pytest.approx(mouse_y - before["top"], abs=1)

        # each pointer move over the zoomed canvas costs a redraw (seconds on a busy machine): few of them
        size = brush_size(page)
        page.mouse.move(mouse_x, mouse_y)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.keyboard.press("w")
        page.keyboard.press("w")
        page.keyboard.press("q")
        assert brush_size(page) == size + 5
        page.mouse.move(mouse_x, mouse_y)
        page.keyboard.down("Control")
        page.mouse.wheel(0, 100)
        page.keyboard.up("Control")
        assert brush_size(page) == size
        assert page.get_attribute(EDITOR, "data-canvas-zoom") == "1.4"  # Ctrl+wheel did not zoom

        page.mouse.move(mouse_x, mouse_y)
        start = canvas_rect(page)
        page.keyboard.down("f")
        page.mouse.move(mouse_x + 40, mouse_y + 20)
        page.keyboard.up("f")
        moved = canvas_rect(page)
        assert moved["left"] - start["left"] == pytest.approx(40, abs=2)
        assert moved["top"] - start["top"] == pytest.approx(20, abs=2)

        page.keyboard.press("s")
        full = canvas_rect(page)
        window = page.evaluate("() => [window.innerWidth, window.innerHeight]")
        scale = min(window[0] / before["width"], window[1] / before["height"])
        assert full["width"] == pytest.approx(before["width"] * scale, abs=2)
        assert full["left"] + full["width"] / 2 == pytest.approx(window[0] / 2, abs=2)
        assert full["top"] + full["height"] / 2 == pytest.approx(window[1] / 2, abs=2)
        assert "canvas-zoom-overlap" in page.get_attribute(EDITOR, "class")

        page.keyboard.press("r")
        assert canvas_rect(page) == pytest.approx(before, abs=1)
        assert page.get_attribute(EDITOR, "data-canvas-zoom") == "1"
        page.keyboard.press("o")  # Overlap is in canvas_disabled_functions by default
        assert "canvas-zoom-overlap" not in page.get_attribute(EDITOR, "class")

        # typing into a prompt with the pointer over the canvas types, and nothing else
        prompt = page.locator("#img2img_prompt textarea")
        prompt.fill("")
        prompt.focus()
        page.mouse.move(mouse_x, mouse_y)
        page.keyboard.type("sr")
        assert prompt.input_value() == "sr" and page.get_attribute(EDITOR, "data-canvas-zoom") == "1"
        assert page.eval_on_selector(f"{EDITOR} .pixi-target", "t => t.style.transform") == ""
        prompt.fill("")
        assert errors == []
    finally:  # the inpainting tests after this one draw on an empty, unzoomed editor
        page.keyboard.up("f")
        page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
        page.locator(f"{EDITOR} canvas").first.hover()
        page.keyboard.press("r")
        page.click(f"{EDITOR} button[aria-label='Clear canvas']")
