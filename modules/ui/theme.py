"""The page's look: setting ``gradio_theme`` (a gradio theme, offline) and flag ``--theme light|dark``.

A1111 downloads a ``gradio_theme`` other than Default from the Hugging Face hub
and caches it as ``tmp/gradio_themes/<owner>_<name>.json``.  Nothing is
downloaded here: the hub's ``gradio/*`` themes are gradio's own built-in ones,
any other theme is read from that cache file (copy it there), and a theme that is
neither falls back to Default with a message naming the file to provide.
``--theme`` opens the page in gradio's light or dark mode (its ``__theme`` URL
parameter, as A1111's ``set_theme``).
"""
from __future__ import annotations

import json
import os
from typing import Any

from modules.core.errors import report
from modules.core.services import current_services
from modules.ui.components import opt

FONTS = {"font": ["Source Sans Pro", "ui-sans-serif", "system-ui", "sans-serif"],
         "font_mono": ["IBM Plex Mono", "ui-monospace", "Consolas", "monospace"]}
"""A1111's fonts, named as local fonts (a name alone makes gradio fetch nothing)."""

BUILTIN_HUB_THEMES = {"gradio/base": "Base", "gradio/glass": "Glass", "gradio/monochrome": "Monochrome",
                      "gradio/soft": "Soft", "gradio/default": "Default", "gradio/origin": "Origin",
                      "gradio/citrus": "Citrus", "gradio/ocean": "Ocean"}
"""Hub theme ids that gradio ships as classes."""


def theme_cache_file(name: str) -> str:
    """Where a hub theme's JSON is looked for: ``<data dir>/tmp/gradio_themes/<owner>_<name>.json``."""
    paths = current_services().paths
    root = paths.data_dir if paths is not None else "."
    return os.path.join(root, "tmp", "gradio_themes", f"{name.replace('/', '_')}.json")


def gradio_theme(name: str | None = None) -> Any:
    """The gradio theme for ``name`` (setting ``gradio_theme`` by default); Default when it cannot be had offline."""
    import gradio as gr

    name = str(name if name is not None else opt("gradio_theme", "Default") or "Default")
    if name == "Default":
        return gr.themes.Default(**FONTS)
    builtin = BUILTIN_HUB_THEMES.get(name.lower())
    if builtin is not None:
        return getattr(gr.themes, builtin)(**FONTS)
    path = theme_cache_file(name)
    if opt("gradio_themes_cache", True) and os.path.isfile(path):
        try:
            return gr.themes.ThemeClass.load(path)
        except (OSError, ValueError, KeyError, TypeError):
            report(f"Gradio theme {name}: cannot read {path}", exc_info=True)
    else:
        why = ("setting gradio_themes_cache is off, and themes are not downloaded" if os.path.isfile(path)
               else f"it is not built into gradio and {path} does not exist (themes are not downloaded)")
        report(f"Gradio theme {name} is not available: {why}; using Default")
    return gr.themes.Default(**FONTS)


def theme_head() -> str | None:
    """For ``--theme light|dark``: a ``<head>`` script that opens the page with gradio's ``__theme`` parameter
    (None without the flag)."""
    mode = getattr(current_services().cmd_opts, "theme", None)
    if mode not in ("light", "dark"):
        return None
    return ("<script>(() => { const url = new URL(window.location.href);"
            f" if (url.searchParams.get('__theme') !== {json.dumps(mode)}) {{"
            f" url.searchParams.set('__theme', {json.dumps(mode)}); window.location.replace(url.href); }} }})();"
            "</script>")
