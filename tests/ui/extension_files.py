"""Extensions the browser tests put into their servers' data dirs.

``write_extensions_server_data`` lays out the data dir of the one server that the extension tests share
(test_browser_a1111_js, test_browser_extensions, test_browser_reload_ui): an A1111-style extension with page
script, style, always-visible script and setting; a page-API probe with its own localization, chosen in
config.json. ``SAMPLING_GATE`` is the extension of the main browser server that lets a test hold sampling.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

ACCEPT_EXTENSION = "sd-accept-ext"
"""The A1111-style extension of test_browser_extensions (it unticks this one and applies)."""

ACCEPT_EXTENSION_FILES = {
    "javascript/accept.js": """
        window.sdAcceptExtLoaded = true;
        onUiLoaded(function() {
            const marker = document.createElement("div");
            marker.id = "sd_accept_ext_marker";
            marker.textContent = "accept ext is here";
            document.body.appendChild(marker);
        });
    """,
    "style.css": "#sd_accept_ext_marker { color: rgb(1, 2, 3); }\n",
    "scripts/accept.py": """
        import modules.scripts as scripts
        from modules import script_callbacks, shared


        class AcceptExt(scripts.Script):
            def title(self):
                return "Accept ext"

            def show(self, is_img2img):
                return scripts.AlwaysVisible

            def ui(self, is_img2img):
                import gradio as gr

                return [gr.Checkbox(label="Accept ext enabled", value=False, elem_id=self.elem_id("enabled"))]


        def on_settings():
            shared.opts.add_option("accept_ext_option", shared.OptionInfo(
                "hello", "Accept ext option", section=("accept_ext", "Accept ext")))


        script_callbacks.on_ui_settings(on_settings)
    """,
}

PROBE_JS = """
window.probe = {loaded: 0, updates: 0, after: 0, tabs: [], options: []};
onUiLoaded(function() {
    window.probe.loaded += 1;
    window.probe.byId = !!gradioApp().getElementById("txt2img_prompt");
    const content = get_uiCurrentTabContent();
    window.probe.content = content ? content.id : null;
});
onUiUpdate(function(mutations) { if (Array.isArray(mutations)) window.probe.updates += 1; });
onAfterUiUpdate(function() { window.probe.after += 1; });
onUiTabChange(function() { window.probe.tabs.push(uiCurrentTab ? uiCurrentTab.textContent.trim() : null); });
onOptionsChanged(function() { window.probe.options.push(opts.samples_format); });
"""
"""test_browser_a1111_js: a page script written for A1111 that records what the page's callbacks gave it."""

PROBE_LOCALIZATION = {"Generate": "Erzeugen", "Sampling steps": "Schritte"}
"""The probe extension's ``localizations/xx.json``, chosen in config.json (only these two texts change)."""


def write_extensions_server_data(data_dir: Path) -> None:
    """Both extensions and config.json (localization ``xx``, samples_format png) in ``data_dir``."""
    for rel, text in ACCEPT_EXTENSION_FILES.items():
        path = data_dir / "extensions" / ACCEPT_EXTENSION / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    probe = data_dir / "extensions" / "a1111-style"
    (probe / "javascript").mkdir(parents=True)
    (probe / "javascript" / "probe.js").write_text(PROBE_JS)
    (probe / "localizations").mkdir()
    (probe / "localizations" / "xx.json").write_text(json.dumps(PROBE_LOCALIZATION))
    (data_dir / "config.json").write_text(json.dumps({"localization": "xx", "samples_format": "png"}))


SAMPLING_GATE = '''
"""Test-only: while the file HOLD exists, every sampling step waits for it to go (at most five minutes), so a
browser test holds a job running for exactly as long as it needs instead of guessing a step count that outlasts
its clicks on a busy machine. Skip or Interrupt ends the hold: the gate deletes HOLD, which tells the test that
the server has seen the button."""
import contextlib
import os
import time

from modules import script_callbacks, shared

HOLD = {hold!r}


def wait_while_held(params):
    deadline = time.monotonic() + 300
    while os.path.exists(HOLD) and time.monotonic() < deadline:
        if shared.state.skipped or shared.state.interrupted:
            with contextlib.suppress(FileNotFoundError):
                os.remove(HOLD)
            return
        time.sleep(0.05)


script_callbacks.on_cfg_denoiser(wait_while_held, name="test sampling gate")
'''


def write_sampling_gate(data_dir: Path, hold: Path) -> None:
    """The gate extension in ``data_dir``, holding while ``hold`` exists."""
    folder = data_dir / "extensions" / "test-sampling-gate" / "scripts"
    folder.mkdir(parents=True)
    (folder / "gate.py").write_text(SAMPLING_GATE.format(hold=str(hold)))
