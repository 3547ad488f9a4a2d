"""Disk the suite writes outside its own test folders: the folders a run shares, their clean-up after a killed run,
and a free-space check before a large file is written.

The suite writes ~7 GB of full-size checkpoints besides pytest's per-test folders. A run that is killed (a
session's end, Ctrl-C twice) never reaches its clean-up, so every such folder records the process that owns it;
the next run removes the folders whose owner is gone, instead of letting them fill the disk run after run (a CI
run on a machine with such leftovers failed a thousand tests with "No space left on device").
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from modules.core.processes import process_alive

OWNER_FILE = ".owner-pid"
RUN_FOLDER_PREFIXES = ("webui-test-run-", "fullsize-checkpoints-")
"""Temporary folders the suite makes (tests/parallel.py, tests/fullsize/conftest.py)."""


def make_run_folder(prefix: str) -> Path:
    """A new temporary folder owned by this process (removed by a later run if this one dies without removing it)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / OWNER_FILE).write_text(str(os.getpid()))
    return folder


def remove_abandoned_run_folders(temp_root: Path | None = None) -> list[Path]:
    """Remove the suite's temporary folders whose owning process has ended; returns what was removed.

    A folder without an owner file is left alone (it may belong to a run of an older version of the suite that is
    still going)."""
    root = Path(temp_root or tempfile.gettempdir())
    removed = []
    for folder in root.iterdir():
        if not folder.is_dir() or not folder.name.startswith(RUN_FOLDER_PREFIXES):
            continue
        try:
            pid = int((folder / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not process_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class NotEnoughDisk(RuntimeError):
    """Raised before writing a file that the disk cannot hold (with the numbers), instead of failing midway."""


def require_free_disk(folder: Path, need_bytes: int, what: str, reserve_bytes: int = 2 << 30) -> None:
    """Raise :class:`NotEnoughDisk` unless ``folder``'s file system has ``need_bytes`` free plus a reserve for the
    rest of the suite's files."""
    free = shutil.disk_usage(folder).free
    if free < need_bytes + reserve_bytes:
        raise NotEnoughDisk(
            f"{what} needs about {need_bytes / 2**30:.1f} GB on {folder} (plus {reserve_bytes / 2**30:.0f} GB for the "
            f"rest of the suite); {free / 2**30:.1f} GB are free. Free some disk (old runs' folders under "
            f"{tempfile.gettempdir()}) or point TMPDIR at a larger disk.")
