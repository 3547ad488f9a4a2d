"""Where a selectable script saves the pictures it assembles itself (grids, recombined tiles)."""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.processing.image_saving import output_dir


def ensure_output_dirs(p: Any) -> None:
    """Fill ``p.outpath_samples`` / ``p.outpath_grids`` from the tab's settings when unset.

    ``process_images`` does this on the copies a script runs, not on the ``p`` the
    script holds, yet the script saves its own grid into ``p.outpath_grids``.
    """
    services = getattr(p, "services", None) or current_services()
    tab = getattr(p, "tab", "txt2img")
    opts, data_dir = services.opts, services.paths.data_dir
    if p.outpath_samples is None:
        p.outpath_samples = output_dir(opts, tab, grid=False, data_dir=data_dir)
    if p.outpath_grids is None:
        p.outpath_grids = output_dir(opts, tab, grid=True, data_dir=data_dir)
