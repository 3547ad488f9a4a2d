"""The page's own scripts and styles: ``script.js``, ``javascript/*.js`` and ``style.css`` of the install root,
then those of each active extension (``javascript/*.js``, ``style.css``), then the user's ``user.css`` in the
data dir.

They reach the page through one script the page runs when it loads (gradio's
``Blocks.load(js=...)``), which adds them to ``<head>``: classic scripts
run in the global scope, as A1111's do.
"""
from __future__ import annotations

import json
import os

from modules.core import localization
from modules.core.paths import INSTALL_DIR
from modules.core.services import current_services
from modules.ui.components import opt, tooltips


def _read(path: str) -> str:
    with open(path, encoding="utf8") as f:
        return f.read()


def script_files() -> list[str]:
    """Every script file, in load order (``script.js`` first: the others use its helpers)."""
    folders = [os.path.join(INSTALL_DIR, "javascript")]
    folders += [os.path.join(ext.path, "javascript") for ext in current_services().extensions or [] if ext.enabled]
    files = [os.path.join(INSTALL_DIR, "script.js")]
    for folder in folders:
        if os.path.isdir(folder):
            files += [os.path.join(folder, name) for name in sorted(os.listdir(folder)) if name.endswith(".js")]
    return files


def style_files() -> list[str]:
    """``style.css`` of the root and of each active extension, then ``user.css`` of the data dir."""
    services = current_services()
    candidates = [os.path.join(INSTALL_DIR, "style.css")]
    candidates += [os.path.join(ext.path, "style.css") for ext in services.extensions or [] if ext.enabled]
    data_dir = getattr(services.paths, "data_dir", None) if services.paths is not None else None
    if data_dir:
        candidates.append(os.path.join(data_dir, "user.css"))
    return [f for f in candidates if os.path.isfile(f)]


def page_settings() -> dict:
    """What the page scripts need from the server before any request: a few settings and the tooltips."""
    keys = ("live_preview_refresh_period", "live_previews_enable", "show_progressbar", "show_progress_in_title", "interrupt_after_current",
            "js_live_preview_in_modal_lightbox", "keyedit_precision_attention", "keyedit_precision_extra",
            "keyedit_delimiters", "keyedit_move", "extra_networks_add_text_separator", "disable_token_counters",
            "notification_audio", "notification_volume", "prevent_screen_sleep_during_generation",
            # javascript/edit-attention.js and the full-page image viewer (javascript/imageviewer.js)
            "keyedit_delimiters_whitespace", "js_modal_lightbox", "js_modal_lightbox_initially_zoomed",
            "js_modal_lightbox_gamepad", "js_modal_lightbox_gamepad_repeat", "sd_webui_modal_lightbox_icon_opacity",
            "sd_webui_modal_lightbox_toolbar_opacity")
    return {"opts": {k: opt(k) for k in keys}, "tooltips": dict(tooltips),
            "notification_sound": notification_sound_file() is not None}


def notification_sound_file() -> str | None:
    """``notification.mp3`` of the data dir, else of the install dir (A1111's place), when it exists."""
    paths = current_services().paths
    folders = [getattr(paths, "data_dir", None) if paths is not None else None, INSTALL_DIR]
    for folder in folders:
        if folder and os.path.isfile(os.path.join(folder, "notification.mp3")):
            return os.path.join(folder, "notification.mp3")
    return None


def _localization() -> dict:
    return localization.localization_data(getattr(current_services().opts, "localization", "None"))


def loader_js() -> str:
    """The load-time script adding every style and script to the page (once)."""
    styles = [_read(f) for f in style_files()]
    scripts = [(os.path.basename(f), _read(f)) for f in script_files()]
    return ("() => {\n"
            "  if (window.webuiAssetsLoaded) { return; }\n"
            "  window.webuiAssetsLoaded = true;\n"
            f"  window.webuiPageSettings = {json.dumps(page_settings())};\n"
            f"  window.localization = {json.dumps(_localization())};\n"
            f"  for (const css of {json.dumps(styles)}) {{\n"
            "    const el = document.createElement('style'); el.textContent = css; document.head.appendChild(el);\n"
            "  }\n"
            f"  for (const [name, code] of {json.dumps(scripts)}) {{\n"
            "    const el = document.createElement('script');\n"
            "    el.textContent = code + '\\n//# sourceURL=webui/' + name;\n"
            "    document.head.appendChild(el);\n"
            "  }\n"
            "  if (typeof webuiPageLoaded === 'function') { webuiPageLoaded(); }\n"
            "}")
