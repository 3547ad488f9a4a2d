"""Skip while a batch count of 3 runs: the image in progress ends early (and, as in A1111 with setting
``save_incomplete_images`` off, is shown but not saved); the next two are made in full and the job ends normally."""
from __future__ import annotations

import os

import pytest

from tests.ui.conftest import screenshot_dir, set_number

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# it sets every field it reads
SHARED_TAB = "layout-and-tools"

PROMPT = "skipped then two more"


def saved_pictures(server) -> set[str]:
    folder = server.data_dir / "outputs" / "txt2img-images"
    return {os.path.join(root, f) for root, _, files in os.walk(folder) for f in files if f.endswith(".png")}


def progress(page) -> dict:
    task_id = page.evaluate("() => webuiCurrentTask('txt2img')")
    return page.evaluate("(id) => fetch('./internal/progress', {method: 'POST', headers: {'Content-Type': "
                         "'application/json'}, body: JSON.stringify({id_task: id, id_live_preview: -1})})"
                         ".then(r => r.json())", task_id)


def test_skip_ends_the_current_image_and_the_batch_goes_on(module_page, server):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.locator("#txt2img_prompt textarea").fill(PROMPT)
    for elem_id, number in (("txt2img_steps", 4), ("txt2img_width", 64), ("txt2img_height", 64),
                            ("txt2img_batch_count", 3)):
        set_number(page, elem_id, number)
    page.locator("#txt2img_seed input").fill("4321")
    before = saved_pictures(server)

    # the first image is held at its first step: still sampling when Skip is pressed
    with server.sampling_held():
        page.click("#txt2img_generate")
        page.wait_for_selector("#txt2img_gallery_container .progressDiv.active", timeout=60000)
        assert page.locator("#txt2img_skip").is_visible()
        page.click("#txt2img_skip")
        server.wait_for_release()
    page.wait_for_function(f"() => document.querySelector('#html_info_txt2img').innerText.startsWith('{PROMPT}')",
                           timeout=240000)
    page.wait_for_selector("#txt2img_gallery_container .progressDiv", state="detached", timeout=30000)
    page.screenshot(path=os.path.join(screenshot_dir(), "txt2img-after-skip.png"), full_page=True)

    assert page.locator("#txt2img_generate").is_visible(), "the job ended and Generate is back"
    assert "Interrupted" not in page.inner_text("#html_log_txt2img")
    # the gallery: the grid, then the three pictures (the skipped one included, as A1111 shows it)
    assert page.locator("#txt2img_gallery .thumbnail-item").count() == 4
    new = sorted(saved_pictures(server) - before)
    # the two pictures not skipped were sampled in full and saved; the skipped one was not saved
    pictures = [f for f in new if "grid" not in os.path.basename(f)]
    assert len(pictures) == 2, new
    seeds = {os.path.basename(f).split("-")[1].split(".")[0] for f in pictures}
    assert len(seeds) == 2 and seeds <= {"4321", "4322", "4323"}
    answer = progress(page)
    assert answer["completed"] is True
    assert errors == []
