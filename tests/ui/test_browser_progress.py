"""Two browser tabs generating at once: each follows only its own job's progress, and gets its own pictures."""
from __future__ import annotations

import json
import os

import pytest

from tests.ui.conftest import screenshot_dir, set_number

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# each test sets prompt, steps and size
SHARED_TAB = "layout-and-tools"


def watch_progress_requests(page) -> list[str]:
    """The task ids this page asks ``/internal/progress`` about."""
    asked: list[str] = []

    def on_request(request) -> None:
        if request.url.endswith("/internal/progress") and request.method == "POST":
            asked.append(json.loads(request.post_data or "{}").get("id_task"))

    page.on("request", on_request)
    return asked


def test_two_tabs_each_follow_their_own_job(module_page, open_page, server):
    first, errors_first = module_page
    second, errors_second = open_page()
    asked_first, asked_second = watch_progress_requests(first), watch_progress_requests(second)
    for page, prompt, steps in ((first, "first job", 4), (second, "second job", 3)):
        page.locator("#txt2img_prompt textarea").fill(prompt)
        for elem_id, number in (("txt2img_steps", steps), ("txt2img_width", 64), ("txt2img_height", 64)):
            set_number(page, elem_id, number)

    # the first job is held at its first step until the second one waits behind it
    with server.sampling_held():
        first.click("#txt2img_generate")
        first.wait_for_selector("#txt2img_gallery_container .progressDiv.active", timeout=60000)
        assert first.locator("#txt2img_interrupt").is_visible() and not first.locator("#txt2img_generate").is_visible()
        second.click("#txt2img_generate")
        second.wait_for_function("() => { const d = document.querySelector('#txt2img_gallery_container .progressDiv');"
                                 " return d && /In queue|Waiting/.test(d.textContent); }", timeout=30000)
        first.screenshot(path=os.path.join(screenshot_dir(), "progress-first-tab.png"))
        second.screenshot(path=os.path.join(screenshot_dir(), "progress-second-tab.png"))

    for page, prompt in ((first, "first job"), (second, "second job")):
        page.wait_for_function(f"() => document.querySelector('#html_info_txt2img').innerText.trim()"
                               f".startsWith('{prompt}')", timeout=120000)
        page.wait_for_selector("#txt2img_gallery_container .progressDiv", state="detached", timeout=30000)
        assert page.locator("#txt2img_generate").is_visible()

    id_first = first.evaluate("() => webuiCurrentTask('txt2img')")
    id_second = second.evaluate("() => webuiCurrentTask('txt2img')")
    assert id_first != id_second and id_first.startswith("task(") and id_second.startswith("task(")
    assert asked_first and set(asked_first) == {id_first}
    assert asked_second and set(asked_second) == {id_second}
    assert errors_first == [] and errors_second == []


def test_interrupt_stops_this_tabs_job_and_shows_what_it_made(module_page, server):
    page, errors = module_page
    page.locator("#txt2img_prompt textarea").fill("to be interrupted")
    for elem_id, number in (("txt2img_steps", 150), ("txt2img_width", 128), ("txt2img_height", 128)):
        set_number(page, elem_id, number)
    # held at its first step: still running when Interrupt is pressed, however slow the page is
    with server.sampling_held():
        page.click("#txt2img_generate")
        page.wait_for_selector("#txt2img_gallery_container .progressDiv.active", timeout=60000)
        page.click("#txt2img_interrupt")
        server.wait_for_release()
    page.wait_for_function("() => document.querySelector('#html_info_txt2img').innerText.includes('to be interrupted')",
                           timeout=60000)
    assert page.locator("#txt2img_generate").is_visible()
    task_id = page.evaluate("() => webuiCurrentTask('txt2img')")
    answer = page.evaluate("(id) => fetch('./internal/progress', {method: 'POST', headers: {'Content-Type': "
                           "'application/json'}, body: JSON.stringify({id_task: id, id_live_preview: -1})})"
                           ".then(r => r.json())", task_id)
    assert answer["completed"] is True
    assert errors == []


def test_reloading_the_page_offers_to_restore_a_running_job(module_page, server):
    page, errors = module_page
    page.locator("#txt2img_prompt textarea").fill("survives a reload")
    for elem_id, number in (("txt2img_steps", 4), ("txt2img_width", 64), ("txt2img_height", 64)):
        set_number(page, elem_id, number)
    # held at its first step: still running after the reload and the restore, however fast the job or slow the
    # page (unheld, a short job could end between two progress polls and never show as active)
    with server.sampling_held():
        page.click("#txt2img_generate")
        page.wait_for_selector("#txt2img_gallery_container .progressDiv.active", timeout=60000)
        page.reload()
        page.wait_for_selector("#txt2img_prompt textarea", timeout=120000)
        restore = page.locator("#txt2img_restore_progress")
        restore.wait_for(state="visible", timeout=60000)
        restore.click()
        page.wait_for_selector("#txt2img_gallery_container .progressDiv.active", timeout=60000)
    page.wait_for_function("() => document.querySelector('#html_info_txt2img').innerText.includes('survives a reload')",
                           timeout=120000)
    page.wait_for_function("() => !document.querySelector('#txt2img_tools').classList.contains('can-restore')")
    assert errors == []
