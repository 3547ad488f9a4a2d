"""A browser logs in through the login page (``--gradio-auth`` and ``--api-auth`` set) and the whole page
works: generation through gradio's queue, progress polling, the page's own fetches, nothing refused."""
from __future__ import annotations

import pytest

from tests.ui.conftest import chromium_context, running_webui, set_number

pytestmark = pytest.mark.browser


def test_a_browser_logs_in_through_the_login_page_and_uses_the_page(pw_driver, tmp_path):
    from modules.models.tiny_factory import make_tiny_checkpoint

    data_dir = tmp_path / "data"
    make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name="tiny-login", seed=0)
    flags = ("--api", "--gradio-auth", "ui:ui-pw", "--api-auth", "api:api-pw")
    with running_webui(data_dir, *flags) as server, chromium_context(pw_driver) as context:
        page = context.new_page()
        errors: list[str] = []
        refused: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # the web app manifest is fetched without cookies (the browser's rule): it stays behind the login
        page.on("response", lambda r: refused.append(f"{r.status} {r.request.method} {r.url}")
                if r.status in (401, 403, 415) and r.url.startswith(server.url)
                and not r.url.endswith("/manifest.json") else None)
        page.goto(server.url)
        page.wait_for_selector("#login_form")
        assert "tiny-login" not in page.content() and "gradio_api_info" not in page.content()
        page.fill("#username", "ui")
        page.fill("#password", "wrong")
        page.click("#login_button")
        page.wait_for_function("() => document.getElementById('login_error').textContent.length > 0")
        refused.clear()  # the wrong password's answer is the one expected refusal
        page.fill("#password", "ui-pw")
        page.click("#login_button")
        page.wait_for_selector("#txt2img_prompt textarea", timeout=180000)
        page.wait_for_function("() => window.webuiAssetsLoaded === true", timeout=120000)

        page.locator("#txt2img_prompt textarea").fill("a logged in cat", timeout=120000)
        for elem_id, number in (("txt2img_steps", 2), ("txt2img_width", 64), ("txt2img_height", 64)):
            set_number(page, elem_id, number)
        page.click("#txt2img_generate")
        page.wait_for_function("() => document.querySelector('#html_info_txt2img').innerText.trim()"
                               ".startsWith('a logged in cat')", timeout=120000)
        progress = page.evaluate("() => fetch('./internal/progress', {method: 'POST', headers: {'Content-Type': "
                                 "'application/json'}, body: JSON.stringify({id_task: 'task(x)'})}).then(r => r.status)")
        assert progress == 200
        # one login for every route: the session also opens the API (extensions' page scripts call it)
        assert page.evaluate("() => fetch('./sdapi/v1/sd-models').then(r => r.status)") == 200
        assert refused == [] and errors == []
