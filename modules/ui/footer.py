"""The page footer: API / Github / Gradio / Startup profile / Reload UI links and the version line (SPEC 13.1)."""
from __future__ import annotations

import html
import importlib.metadata
import sys

from modules.core.services import current_services
from modules.processing.processed import VERSION

GITHUB = "https://github.com/AUTOMATIC1111/stable-diffusion-webui"
SEPARATOR = "&#x2000;•&#x2000;"


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "N/A"


def versions_html() -> str:
    """``version • python • torch • xformers • gradio • checkpoint`` (the checkpoint hash is filled in by the page)."""
    python_version = ".".join(str(x) for x in sys.version_info[0:3])
    parts = [
        f"version: <a href=\"{GITHUB}\">{VERSION}</a>",
        f"python: <span title=\"{html.escape(sys.version)}\">{python_version}</span>",
        f"torch: {_package_version('torch')}",
        f"xformers: {_package_version('xformers')}",
        f"gradio: {_package_version('gradio')}",
        "checkpoint: <a id=\"sd_checkpoint_hash\">N/A</a>",
    ]
    return SEPARATOR.join(parts)


def footer_html() -> str:
    api_docs = "/docs" if getattr(current_services().cmd_opts, "api", False) else f"{GITHUB}/wiki/API"
    links = [
        f"<a href=\"{api_docs}\">API</a>",
        f"<a href=\"{GITHUB}\">Github</a>",
        "<a href=\"https://gradio.app\">Gradio</a>",
        "<a href=\"#\" onclick=\"webuiShowProfile('./internal/profile-startup'); return false;\">Startup profile</a>",
        "<a href=\"/\" onclick=\"webuiReloadUi(); return false\">Reload UI</a>",
    ]
    return f"<div>{' • '.join(links)}</div><br /><div class=\"versions\">{versions_html()}</div>"
