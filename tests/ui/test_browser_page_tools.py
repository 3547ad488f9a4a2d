"""The page tools A1111 users reach for every day, in a real browser: the full-page image viewer, "Generate
forever", Ctrl+↑/↓ weight editing (and Alt+←/→) in the prompts, and the style editor."""
from __future__ import annotations

import csv
import os
import uuid

import pytest

from tests.ui.conftest import screenshot_dir, set_number

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# nothing before it changes the seed (-1) or batch count
SHARED_TAB = "layout-and-tools"

IDLE = "tab => !document.querySelector('#' + tab + '_generate_box').classList.contains('generating')"


def tiny_settings(page, tab: str, batch_count: int) -> None:
    for elem_id, number in (("steps", 1), ("width", 64), ("height", 64), ("batch_count", batch_count)):
        set_number(page, f"{tab}_{elem_id}", number)


def gallery_sources(page, tab: str) -> list[str]:
    """The pictures of the tab's gallery, in order (its grid; every picture is there once)."""
    return page.eval_on_selector_all(f"#{tab}_gallery .grid-container .thumbnail-item img",
                                     "els => els.map(e => e.src)")


def saved_pictures(server) -> list[str]:
    folder = server.data_dir / "outputs" / "txt2img-images"
    return sorted(str(p) for p in folder.rglob("*.png")) if folder.exists() else []


def lightbox_src(page) -> str:
    return page.get_attribute("#modalImage", "src")


def set_option(page, key: str, value) -> None:
    """What the page would hold had the server's setting been ``value`` (the viewer and the key editing read A1111's
    ``opts`` and the page settings at the moment they act)."""
    page.evaluate("([k, v]) => { window.webuiPageSettings.opts[k] = v; if (typeof opts === 'object') opts[k] = v; }",
                  [key, value])


# --- full-page image viewer -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_pictures(module_page):
    """txt2img run once with batch count 2: (page, errors, the gallery's pictures: grid, first, second)."""
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill("a lighthouse")
    tiny_settings(page, "txt2img", 2)
    page.click("#txt2img_generate")
    page.wait_for_function("() => document.querySelector('#html_info_txt2img').textContent.includes('a lighthouse')",
                           timeout=90000)
    page.wait_for_function(IDLE, arg="txt2img")
    sources = gallery_sources(page, "txt2img")
    assert len(sources) == 3 and len(set(sources)) == 3, "a grid and two pictures"
    return page, errors, sources


def test_the_page_is_told_the_viewer_settings(module_page):
    page, _ = module_page
    opts = page.evaluate("window.webuiPageSettings.opts")
    assert opts["js_modal_lightbox"] is True and opts["js_modal_lightbox_initially_zoomed"] is True
    assert opts["js_modal_lightbox_gamepad"] is False and opts["js_modal_lightbox_gamepad_repeat"] == 250
    assert opts["keyedit_delimiters_whitespace"] == ["Tab", "Carriage Return", "Line Feed"]


def test_clicking_a_picture_opens_the_viewer_and_the_arrows_walk_the_gallery(two_pictures):
    page, errors, sources = two_pictures
    assert not page.is_visible("#lightboxModal")
    page.click("#txt2img_gallery .grid-container .thumbnail-item >> nth=0")
    page.wait_for_selector("#lightboxModal", state="visible")
    assert lightbox_src(page) == sources[0]
    # js_modal_lightbox_initially_zoomed is on by default
    assert "modalImageFullscreen" in page.get_attribute("#modalImage", "class")
    page.screenshot(path=os.path.join(screenshot_dir(), "lightbox-open.png"))

    page.keyboard.press("ArrowRight")
    page.wait_for_function("src => document.querySelector('#modalImage').src === src", arg=sources[1])
    assert lightbox_src(page) != sources[0]
    # gradio's own selection follows, so the infotext, 💾 and "Send to" act on the picture shown
    page.wait_for_function("() => document.querySelector('#txt2img_gallery .thumbnails .thumbnail-item.selected')"
                           ".getAttribute('aria-label') === 'Thumbnail 2 of 3'")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("src => document.querySelector('#modalImage').src === src", arg=sources[2])
    # past the end: back to the first, as A1111
    page.keyboard.press("ArrowRight")
    page.wait_for_function("src => document.querySelector('#modalImage').src === src", arg=sources[0])
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("src => document.querySelector('#modalImage').src === src", arg=sources[2])
    page.click("#lightboxModal .modalPrev")
    page.wait_for_function("src => document.querySelector('#modalImage').src === src", arg=sources[1])
    page.screenshot(path=os.path.join(screenshot_dir(), "lightbox-second-picture.png"))

    page.keyboard.press("Escape")
    page.wait_for_selector("#lightboxModal", state="hidden")
    assert errors == []


def test_viewer_buttons_zoom_tile_save_and_close(two_pictures, server):
    page, errors, sources = two_pictures
    # the big preview picture of gradio's gallery opens the viewer too (instead of gradio's own reaction)
    if not page.is_visible("#txt2img_gallery .media-button"):
        # the grid shows until a picture is chosen (choosing one opens the viewer too)
        page.click("#txt2img_gallery .grid-container .thumbnail-item >> nth=1")
        page.keyboard.press("Escape")
    page.click("#txt2img_gallery .media-button")
    page.wait_for_selector("#lightboxModal", state="visible")
    shown = lightbox_src(page)
    assert shown in sources

    page.click("#lightboxModal .modalZoom")
    assert "modalImageFullscreen" not in (page.get_attribute("#modalImage", "class") or "")
    page.click("#lightboxModal .modalZoom")
    assert "modalImageFullscreen" in page.get_attribute("#modalImage", "class")

    page.click("#lightboxModal .modalTileImage")
    assert not page.is_visible("#modalImage")
    background = page.evaluate("getComputedStyle(document.querySelector('#lightboxModal')).backgroundImage")
    assert shown in background
    page.screenshot(path=os.path.join(screenshot_dir(), "lightbox-tiled.png"))
    page.click("#lightboxModal .modalTileImage")
    assert page.is_visible("#modalImage")

    # 🖫 saves through the tab's 💾 (into log/images), the viewer staying open
    assert page.is_visible("#modal_save")
    page.click("#modal_save")
    page.wait_for_function("() => document.querySelector('#html_log_txt2img').textContent.includes('Saved:')")
    assert page.is_visible("#lightboxModal")
    assert any(name.endswith(".png") for name in os.listdir(server.data_dir / "log" / "images"))

    page.click("#lightboxModal .modalClose")
    page.wait_for_selector("#lightboxModal", state="hidden")
    # a click on the picture itself also closes it
    page.click("#txt2img_gallery .media-button")
    page.wait_for_selector("#lightboxModal", state="visible")
    page.click("#modalImage")
    page.wait_for_selector("#lightboxModal", state="hidden")
    assert errors == []


def test_with_the_setting_off_gradio_shows_its_own_preview(two_pictures):
    page, errors, sources = two_pictures
    set_option(page, "js_modal_lightbox", False)
    try:
        if not page.is_visible("#txt2img_gallery .media-button"):
            page.click("#txt2img_gallery .grid-container .thumbnail-item >> nth=0")
        page.click("#txt2img_gallery .media-button")
        page.wait_for_timeout(300)  # room for a viewer that should not open
        assert not page.is_visible("#lightboxModal")
    finally:
        set_option(page, "js_modal_lightbox", True)
    assert errors == []


# --- Generate forever -------------------------------------------------------------------------------------------

def right_click_generate_box(page, tab: str, entry: str) -> None:
    """Right-click whichever of Generate / Interrupt shows now (they swap while a job runs), choose ``entry``."""
    for _ in range(20):
        target = "#%s_interrupt" % tab if page.is_visible(f"#{tab}_interrupt") else "#%s_generate" % tab
        try:
            page.click(target, button="right", timeout=2000)
            page.click(f"#context-menu a:text-is('{entry}')", timeout=2000)
            return
        except Exception:  # noqa: BLE001 - the button swapped under the mouse; try the other one
            page.evaluate("webuiRemoveContextMenu()")
    raise AssertionError(f"could not choose {entry!r}")


def wait_for_pictures(page, server, count: int) -> list[str]:
    for _ in range(600):
        found = saved_pictures(server)
        if len(found) >= count:
            return found
        page.wait_for_timeout(200)
    raise AssertionError(f"expected {count} saved pictures, found {len(saved_pictures(server))}")


def test_generate_forever_repeats_until_cancelled(module_page, server):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill("a windmill")
    tiny_settings(page, "txt2img", 1)
    page.wait_for_function(IDLE, arg="txt2img")
    before = len(saved_pictures(server))

    page.click("#txt2img_generate", button="right")
    entries = page.eval_on_selector_all("#context-menu a", "els => els.map(e => e.textContent)")
    assert entries == ["Generate forever", "Cancel generate forever"]
    page.click("#context-menu a:text-is('Generate forever')")
    try:
        assert not page.is_visible("#context-menu")
        # at least three jobs one after the other, with nobody pressing Generate
        pictures = wait_for_pictures(page, server, before + 3)
        seeds = {os.path.basename(p).split("-")[1] for p in pictures[before:]}
        assert len(seeds) >= 3, "each job is a new one (random seed)"

        # the next job is held at its sampling step, so Interrupt stays in place for the right-click (on a busy
        # machine one-step jobs swap Generate and Interrupt faster than a click and its menu)
        with server.sampling_held():
            page.wait_for_selector("#txt2img_interrupt", state="visible", timeout=60000)
            right_click_generate_box(page, "txt2img", "Cancel generate forever")
        page.wait_for_function(IDLE, arg="txt2img", timeout=60000)
        after_cancel = len(saved_pictures(server))
        # Generate forever re-clicks every 500 ms; several periods pass without a new job
        page.wait_for_timeout(2500)
        assert page.evaluate(IDLE, "txt2img")
        assert len(saved_pictures(server)) == after_cancel
    finally:
        # whatever failed above, the shared tab must not go on generating for the rest of the run (it kept a core
        # and the server busy for every later browser test)
        page.evaluate("webuiCancelGenerateForever()")
    assert errors == []


def test_right_click_elsewhere_shows_the_browser_menu_and_extensions_can_add_entries(module_page):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.click("#txt2img_prompt textarea", button="right")
    assert not page.is_visible("#context-menu")
    uid = page.evaluate("appendContextMenuOption('#txt2img_prompt textarea', 'Shout', "
                        "() => { window.shouted = (window.shouted || 0) + 1; })")
    page.click("#txt2img_prompt textarea", button="right")
    page.click("#context-menu a:text-is('Shout')")
    assert page.evaluate("window.shouted") == 1
    page.evaluate("uid => removeContextMenuOption(uid)", uid)
    page.click("#txt2img_prompt textarea", button="right")
    assert not page.is_visible("#context-menu")
    assert errors == []


# --- Ctrl+↑/↓ and Alt+←/→ in the prompts -----------------------------------------------------------------

# (text, selection start, selection end, key, expected text, expected selection) as A1111 1.10 edits them
EDIT_CASES = [
    ("a cat", 3, 3, "Control+ArrowUp", "a (cat:1.1)", (3, 6)),
    ("a cat", 3, 3, "Control+ArrowDown", "a (cat:0.9)", (3, 6)),
    ("a (cat:1.1)", 5, 5, "Control+ArrowDown", "a cat", (2, 5)),
    ("(cat:0.9)", 2, 2, "Control+ArrowUp", "cat", (0, 3)),
    ("(cat:1.1)", 2, 2, "Control+ArrowUp", "(cat:1.2)", (1, 4)),
    ("a red hat, b", 2, 9, "Control+ArrowUp", "a (red hat:1.1), b", (3, 10)),
    ("cat ", 0, 4, "Control+ArrowUp", "(cat:1.1) ", (1, 4)),
    ("<lora:x:1>", 6, 6, "Control+ArrowUp", "<lora:x:1.05>", (1, 7)),
    ("<lora:x:1>", 6, 6, "Control+ArrowDown", "<lora:x:0.95>", (1, 7)),
    ("((cat))", 4, 4, "Control+ArrowUp", "(cat:1.3)", (1, 4)),
    ("((cat))", 4, 4, "Control+ArrowDown", "(cat:1.1)", (1, 4)),
    ("[cat]", 2, 2, "Control+ArrowUp", "cat", (0, 3)),
    ("[cat]", 2, 2, "Control+ArrowDown", "(cat:0.8)", (1, 4)),
    ("(a (b:1.2):1.1)", 4, 4, "Control+ArrowUp", "(a (b:1.3):1.1)", (4, 5)),
    # the caret on `a` is not directly inside a block (one opens after it): A1111 changes nothing
    ("(a (b:1.2):1.1)", 1, 1, "Control+ArrowUp", "(a (b:1.2):1.1)", (1, 2)),
    ("dog.cat", 5, 5, "Control+ArrowUp", "dog.(cat:1.1)", (5, 8)),
    ("a, b, c", 4, 4, "Alt+ArrowLeft", " b,a, c", (0, 2)),
    ("a, b, c", 4, 4, "Alt+ArrowRight", "a, c, b", (5, 7)),
    ("a, b, c", 1, 1, "Alt+ArrowLeft", "a, b, c", (1, 1)),
]


def edit_prompt(page, selector: str, text: str, start: int, end: int, key: str) -> tuple[str, tuple[int, int]]:
    box = page.locator(selector)
    box.fill(text)
    box.evaluate("(el, [s, e]) => { el.focus(); el.setSelectionRange(s, e); }", [start, end])
    box.press(key)
    return box.input_value(), tuple(box.evaluate("el => [el.selectionStart, el.selectionEnd]"))


@pytest.mark.parametrize("text, start, end, key, expected, selection", EDIT_CASES)
def test_keyboard_prompt_editing(module_page, text, start, end, key, expected, selection):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    assert edit_prompt(page, "#txt2img_prompt textarea", text, start, end, key) == (expected, selection)
    assert errors == []


def test_keyboard_editing_follows_the_settings_and_gradio_sees_the_text(module_page):
    page, errors = module_page
    page.click("#tab_img2img-button")
    try:
        set_option(page, "keyedit_move", False)
        assert edit_prompt(page, "#img2img_prompt textarea", "a, b", 4, 4, "Alt+ArrowLeft")[0] == "a, b"
        set_option(page, "keyedit_precision_attention", 0.05)
        set_option(page, "keyedit_precision_extra", 0.2)
        assert edit_prompt(page, "#img2img_neg_prompt textarea", "ugly", 2, 2, "Control+ArrowUp")[0] == "(ugly:1.05)"
        assert edit_prompt(page, "#img2img_prompt textarea", "<lora:x:1>", 6, 6, "Control+ArrowDown")[0] == \
            "<lora:x:0.8>"
    finally:
        set_option(page, "keyedit_precision_attention", 0.1)
        set_option(page, "keyedit_precision_extra", 0.05)
        set_option(page, "keyedit_move", True)
    # gradio got the input event: the server reads the edited prompt (📝 copies it into the style editor)
    page.click("#tab_img2img-button")
    page.click("#img2img_styles_edit_button")
    page.wait_for_selector("#img2img_styles_dialog", state="visible")
    page.click("#img2img_style_copy")
    page.wait_for_function("() => document.querySelector('#img2img_edit_style_prompt textarea').value === "
                           "'<lora:x:0.8>'")
    assert page.input_value("#img2img_edit_style_neg_prompt textarea") == "(ugly:1.05)"
    page.click("#img2img_edit_style_close")
    page.wait_for_selector("#img2img_styles_dialog", state="hidden")
    assert errors == []


# --- the style editor ---------------------------------------------------------------------------------------------

def dropdown_choices(page, elem_id: str) -> list[str]:
    """Open the dropdown, read its choices, close it."""
    page.click(f"#{elem_id} input")
    # an empty list is there but has no size
    page.wait_for_selector(f"#{elem_id} [role=listbox]", state="attached")
    names = page.eval_on_selector_all(f"#{elem_id} [role=option]", "els => els.map(e => e.getAttribute('aria-label'))")
    page.keyboard.press("Escape")
    return [n for n in names if n]


def styles_in_csv(server) -> dict[str, tuple[str, str]]:
    path = server.data_dir / "styles.csv"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        return {row["name"]: (row["prompt"], row["negative_prompt"]) for row in csv.DictReader(f)}


def test_style_editor_saves_applies_and_deletes_a_style(module_page, server):
    page, errors = module_page
    style = "Moody " + uuid.uuid4().hex[:6]
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill("a castle")
    page.locator("#txt2img_neg_prompt textarea").fill("")
    assert not page.is_visible("#txt2img_styles_dialog")
    page.click("#txt2img_styles_edit_button")
    page.wait_for_selector("#txt2img_styles_dialog", state="visible")
    page.screenshot(path=os.path.join(screenshot_dir(), "styles-editor-open.png"))

    name = page.locator("#txt2img_styles_edit_select input")
    name.fill(style)
    name.press("Enter")
    page.wait_for_selector("#txt2img_edit_style_save", state="visible")
    assert not page.is_visible("#txt2img_edit_style_delete"), "a new name: nothing to delete yet"
    page.locator("#txt2img_edit_style_prompt textarea").fill("{prompt}, at dusk, moody")
    page.locator("#txt2img_edit_style_neg_prompt textarea").fill("sunny")
    page.click("#txt2img_edit_style_save")
    page.wait_for_selector("#txt2img_edit_style_delete", state="visible")
    assert styles_in_csv(server).get(style) == ("{prompt}, at dusk, moody", "sunny")

    page.click("#txt2img_edit_style_close")
    page.wait_for_selector("#txt2img_styles_dialog", state="hidden")
    assert style in dropdown_choices(page, "txt2img_styles")
    page.click("#tab_img2img-button")
    assert style in dropdown_choices(page, "img2img_styles"), "img2img's list is refreshed too"

    # choose it in txt2img and apply it with 📋
    page.click("#tab_txt2img-button")
    page.click("#txt2img_styles input")
    page.click("#txt2img_styles [role=option][aria-label='%s']" % style)
    page.keyboard.press("Escape")
    page.click("#txt2img_style_apply")
    page.wait_for_function("() => document.querySelector('#txt2img_prompt textarea').value === "
                           "'a castle, at dusk, moody'")
    assert page.input_value("#txt2img_neg_prompt textarea") == "sunny"

    # choose it again: the editor opens on it
    page.click("#txt2img_styles input")
    page.click("#txt2img_styles [role=option][aria-label='%s']" % style)
    page.keyboard.press("Escape")
    page.click("#txt2img_styles_edit_button")
    page.wait_for_function("() => document.querySelector('#txt2img_edit_style_prompt textarea').value === "
                           "'{prompt}, at dusk, moody'")
    assert page.input_value("#txt2img_styles_edit_select input") == style

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#txt2img_edit_style_delete")
    page.wait_for_selector("#txt2img_edit_style_delete", state="hidden")
    assert style not in styles_in_csv(server)
    assert page.input_value("#txt2img_edit_style_prompt textarea") == ""
    page.click("#txt2img_edit_style_close")
    page.wait_for_function("s => !document.querySelector('#txt2img_styles').textContent.includes(s)", arg=style)
    assert style not in dropdown_choices(page, "txt2img_styles")
    page.click("#tab_img2img-button")
    assert style not in dropdown_choices(page, "img2img_styles")
    assert errors == []


def test_style_editor_delete_asks_first(module_page, server):
    page, errors = module_page
    page.click("#tab_img2img-button")
    page.click("#img2img_styles_edit_button")
    page.wait_for_selector("#img2img_styles_dialog", state="visible")
    name = page.locator("#img2img_styles_edit_select input")
    name.fill("Keep me")
    name.press("Enter")
    page.locator("#img2img_edit_style_prompt textarea").fill("kept")
    page.click("#img2img_edit_style_save")
    page.wait_for_selector("#img2img_edit_style_delete", state="visible")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#img2img_edit_style_delete")
    page.wait_for_timeout(500)  # room for a delete that should not happen
    assert "Keep me" in styles_in_csv(server)
    # a click on the dimmed page closes the editor
    page.mouse.click(5, 5)
    page.wait_for_selector("#img2img_styles_dialog", state="hidden")
    assert errors == []
