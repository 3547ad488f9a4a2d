"""An A1111-style extension in a real browser: its javascript, style.css, an always-visible script's checkbox in
txt2img and its on_ui_settings setting in Settings; then the Extensions tab: install from a local git
repository (Install from URL, and a row of a file:// index under Available), untick an extension and Apply:
config.json gets the disabled list and the reloaded page no longer has the extension."""
from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from tests.ui.conftest import screenshot_dir

pytestmark = pytest.mark.browser

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PATH": "/usr/bin:/bin"}


def make_git_extension(folder, script_title: str) -> str:
    """A git repository holding an extension with one always-visible script; returns its path."""
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "main.py").write_text(textwrap.dedent(f"""
        import modules.scripts as scripts


        class Installed(scripts.Script):
            def title(self):
                return "{script_title}"

            def show(self, is_img2img):
                return False
    """))
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, env={**GIT_ENV, "HOME": str(folder)})
    return str(folder)


@pytest.fixture
def ext_server(extensions_server):
    """The session's extensions server (tests/ui/conftest.py): sd-accept-ext of tests/ui/extension_files.py and a
    tiny checkpoint in its data dir."""
    return extensions_server


@pytest.fixture
def ext_page(extensions_page):
    """The session's tab on that server; (page, errors seen in its console)."""
    return extensions_page


def fill(page, elem_id: str, value: str) -> None:
    page.locator(f"#{elem_id} textarea, #{elem_id} input").first.fill(value)


def open_extensions(page, subtab: str) -> None:
    page.click("#tab_extensions-button")
    page.locator("#tabs_extensions").get_by_role("tab", name=subtab).click()


def test_extension_javascript_css_script_and_setting_are_in_the_page(ext_page):
    page, errors = ext_page
    assert page.evaluate("() => window.sdAcceptExtLoaded") is True
    page.wait_for_selector("#sd_accept_ext_marker", state="attached")
    color = page.evaluate("() => getComputedStyle(document.getElementById('sd_accept_ext_marker')).color")
    assert color == "rgb(1, 2, 3)"
    checkbox = page.locator("#script_txt2img_accept_ext_enabled input[type=checkbox]")
    assert checkbox.count() == 1 and not checkbox.is_checked()

    page.click("#tab_settings-button")
    page.click("#settings_nav .settings-nav-item[data-page='settings_accept_ext']")
    setting = page.locator("#setting_accept_ext_option")
    setting.wait_for(state="visible")
    assert "Accept ext option" in setting.inner_text()
    assert setting.locator("textarea, input").first.input_value() == "hello"
    assert errors == []


def test_install_from_url_and_from_an_index_lists_the_new_extensions(ext_page, ext_server, tmp_path):
    page, errors = ext_page
    repo = make_git_extension(tmp_path / "src" / "sd-installed-ext", "Installed ext")
    open_extensions(page, "Install from URL")
    fill(page, "extensions_install_url", repo)
    page.click("#extensions_install_button")
    page.wait_for_function("() => document.querySelector('#extension_install_result').textContent"
                           ".includes('Use Installed tab to restart')", timeout=60000)
    assert (ext_server.data_dir / "extensions" / "sd-installed-ext" / "scripts" / "main.py").exists()
    open_extensions(page, "Installed")
    row = page.locator("#extensions input[name='enable_sd-installed-ext']")
    assert row.count() == 1 and row.is_checked()

    # installing the same URL again is refused with a message
    open_extensions(page, "Install from URL")
    page.click("#extensions_install_button")
    page.wait_for_function("() => document.querySelector('#extension_install_result').textContent"
                           ".includes('already exists')", timeout=60000)

    other = make_git_extension(tmp_path / "src" / "sd-indexed-ext", "Indexed ext")
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"tags": {"script": "a script"}, "extensions": [
        {"name": "Indexed ext", "url": other, "description": "from the index", "tags": ["script"], "added": "2024-01-01"},
        {"name": "Installed one", "url": repo, "description": "already here", "added": "2024-02-01"},
    ]}))
    open_extensions(page, "Available")
    fill(page, "extensions_index_url", index.as_uri())
    page.click("#extensions_load_available")
    button = page.locator("#available_extensions .extension-install-button", has_text="Install")
    button.first.wait_for(timeout=60000)
    assert page.locator("#available_extensions").inner_text().count("Installed one") == 0  # hidden: "installed" tag
    assert "Extension hidden: 1" in page.inner_text("#extensions_available_html")
    button.first.click()
    page.wait_for_function("() => document.querySelector('#extensions_available_result').textContent"
                           ".includes('Use Installed tab to restart')", timeout=60000)
    assert (ext_server.data_dir / "extensions" / "sd-indexed-ext").is_dir()
    page.screenshot(path=os.path.join(screenshot_dir(), "extensions-available.png"), full_page=True)

    # Check for updates: both clones are at their remote's head
    open_extensions(page, "Installed")
    page.click("#extensions_check_button")
    page.wait_for_function("() => document.querySelectorAll('#extensions .extension_status').length === 2 && "
                           "Array.from(document.querySelectorAll('#extensions .extension_status'))"
                           ".every(td => td.textContent.trim() === 'latest')", timeout=60000)
    assert errors == []


def test_untick_and_apply_saves_the_disabled_list_and_reloads_without_it(ext_page, ext_server):
    page, errors = ext_page
    open_extensions(page, "Installed")
    box = page.locator("#extensions input[name='enable_sd-accept-ext']")
    box.uncheck()
    assert page.locator("#extensions_apply_button").inner_text() == "Apply and restart UI"
    page.screenshot(path=os.path.join(screenshot_dir(), "extensions-installed.png"), full_page=True)
    with page.expect_navigation(timeout=300000):
        page.click("#extensions_apply_button")
    page.wait_for_function("() => window.webuiAssetsLoaded === true", timeout=240000)
    saved = json.loads((ext_server.data_dir / "config.json").read_text())
    assert saved["disabled_extensions"] == ["sd-accept-ext"] and saved["disable_all_extensions"] == "none"
    assert ext_server.proc.poll() is None, "Reload UI keeps the same process"
    assert page.evaluate("() => window.sdAcceptExtLoaded") is None
    assert page.locator("#sd_accept_ext_marker").count() == 0
    assert page.locator("#script_txt2img_accept_ext_enabled").count() == 0
    open_extensions(page, "Installed")
    assert not page.locator("#extensions input[name='enable_sd-accept-ext']").is_checked()
    assert page.locator("#extensions input[name='enable_sd-installed-ext']").is_checked()
    assert errors == []
