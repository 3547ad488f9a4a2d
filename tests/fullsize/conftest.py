"""Full-size checkpoints for the tests: real key layouts, seeded random weights, each written once per run.

The generator and the key lists live in ``../shared/tools`` (not copied into the project). The full-size
tests run last in a one-process run (under ``./run_tests.sh``'s two xdist workers, ``tests/parallel.py``
places them); their modules name the families they use (``FAMILIES_USED``) and those files are written
in a background thread from collection on, while the rest of the suite runs, into a temporary folder
removed at the end of the run (under xdist: one folder the controller makes and removes, written by one
worker under file locks, read by either);
set ``WEBUI_FULLSIZE_CACHE=/some/dir`` to keep them between runs while developing. Families that need more
memory than the machine has free are skipped with the reason.
"""
from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import parallel
from tests.disk_space import NotEnoughDisk, make_run_folder, require_free_disk

SHARED_DIR = Path(os.environ.get("WEBUI_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))
TOOLS = SHARED_DIR / "tools"
GOLDENS = SHARED_DIR / "a1111-goldens"


@dataclass(frozen=True)
class Family:
    """One full-size checkpoint family: its key list, the file name users would have, the RAM a load needs."""

    keys: str
    stem: str
    ram_gb: float
    """Free memory a server with this checkpoint loaded in fp32 needs (measured, with headroom)."""
    disk_gb: float
    """The size of the written file (fp16)."""
    yaml: str | None = None
    """A config to put beside the checkpoint, as A1111 users do for v-prediction models."""


FAMILIES = {
    "sd15": Family("sd15_keys.json", "random-sd15", 6, 2.0),
    "sd15-inpainting": Family("sd15_inpaint_keys.json", "random-sd15-inpainting", 6, 2.0),
    "sd2v": Family("sd2v_keys.json", "random-sd2v", 7, 2.5, yaml="sd2v-next-to-checkpoint.yaml"),
    "sdxl": Family("sdxl_keys.json", "random-sdxl", 16, 6.5),
    "sdxl-refiner": Family("sdxl_refiner_keys.json", "random-sdxl-refiner", 14, 5.7),
}


def available_ram_gb() -> float:
    """MemAvailable from /proc/meminfo (inf where it cannot be read)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024 ** 2
    return float("inf")


def free_memory() -> None:
    """Let go of a finished server's model before the next family loads."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


GOLDENS_METADATA_ORDER = ("note", "format")
"""The order of the generator's two metadata keys in the file A1111's answers were made on."""


def put_metadata_in_goldens_order(path: Path) -> None:
    """Rewrite the header's ``__metadata__`` map in :data:`GOLDENS_METADATA_ORDER`, in place.

    safetensors writes that map in an order that changes from run to run, so the same generator command
    gives one of two files with the same weights (sha256 3c27811e0e... or 835c22d323...). The short hash
    is part of every infotext (``Model hash``), so the goldens need the first one. Same keys, same
    length: only the bytes of the header change.
    """
    with open(path, "r+b") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        raw = f.read(length)
        header = json.loads(raw)
        metadata = header.get("__metadata__")
        if not metadata or set(metadata) != set(GOLDENS_METADATA_ORDER):
            return
        ordered = {key: metadata[key] for key in GOLDENS_METADATA_ORDER}
        old = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode()
        new = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
        rewritten = raw.replace(b'"__metadata__":' + old, b'"__metadata__":' + new, 1)
        if rewritten != raw and len(rewritten) == len(raw):
            f.seek(8)
            f.write(rewritten)


@contextlib.contextmanager
def file_lock(path: Path, blocking: bool = True):
    """An exclusive ``flock`` on ``path`` (the processes of one xdist run write each file once); yields whether it
    was taken (always, when blocking)."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class FullsizeCheckpoints:
    """Writes each family's checkpoint once (in the background when asked ahead) and hands out its path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._locks = {family: threading.Lock() for family in FAMILIES}
        self._failures: dict[str, BaseException] = {}

    def prefetch(self, families: list[str]) -> None:
        """Write these families' files one after another in a background thread, while other tests run.

        The generator is mostly one core of random numbers and file writes, so the suite's other tests
        (which run meanwhile) lose little, and the full-size tests find their files ready.
        """
        if not families or not (TOOLS / "make_random_ckpt.py").exists():
            return

        def work() -> None:
            # one writer per folder: the other workers of an xdist run wait for the files in path()
            with file_lock(self.root / ".prefetch.lock", blocking=False) as writer:
                if not writer:
                    return
                for family in families:
                    try:
                        self._write(family)
                    except (OSError, subprocess.CalledProcessError, NotEnoughDisk) as e:
                        self._failures[family] = e

        threading.Thread(target=work, name="fullsize-checkpoints", daemon=True).start()

    def _write(self, family: str) -> Path:
        spec = FAMILIES[family]
        out = self.root / f"{spec.stem}.safetensors"
        with self._locks[family], file_lock(self.root / f".{family}.lock"):
            if not out.exists():
                require_free_disk(self.root, int(spec.disk_gb * 2**30), f"writing the full-size {family} checkpoint")
                # a name of this process's own: two runs sharing WEBUI_FULLSIZE_CACHE must not write one file together
                partial = out.with_name(f"{out.stem}.{os.getpid()}.partial")
                try:
                    subprocess.run([sys.executable, str(TOOLS / "make_random_ckpt.py"), str(TOOLS / "keys" / spec.keys),
                                    str(partial)], cwd=SHARED_DIR, check=True, stdout=subprocess.DEVNULL)
                    put_metadata_in_goldens_order(partial)
                    partial.rename(out)
                finally:
                    partial.unlink(missing_ok=True)
        return out

    def path(self, family: str) -> Path:
        """The checkpoint file of ``family`` (written now, or waited for, if not yet); skips without the tools."""
        if not (TOOLS / "make_random_ckpt.py").exists():
            pytest.skip(f"the checkpoint generator is not at {TOOLS} (set WEBUI_SHARED_DIR)")
        if family in self._failures:
            failure = self._failures[family]
            raise RuntimeError(f"writing the {family} checkpoint failed: {failure}") from failure
        return self._write(family)

    def install(self, family: str, data_dir: Path) -> Path:
        """Link the checkpoint (and its YAML) into ``data_dir/models/Stable-diffusion``; returns the link."""
        spec = FAMILIES[family]
        source = self.path(family)
        folder = data_dir / "models" / "Stable-diffusion"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / source.name
        if not target.exists():
            os.symlink(source, target)
        if spec.yaml:
            shutil.copyfile(TOOLS / spec.yaml, folder / f"{spec.stem}.yaml")
        return target

    def require_memory(self, family: str) -> None:
        """Skip, with the numbers, when the machine lacks the free memory this family needs."""
        free_memory()
        need, have = FAMILIES[family].ram_gb, available_ram_gb()
        if have < need:
            pytest.skip(f"{family} at full size needs about {need:g} GB of free memory in fp32; {have:.1f} GB are free")


HEAVY_ENABLED = os.environ.get("WEBUI_TEST_FULLSIZE_ALL", "") not in ("", "0")
heavy = pytest.mark.skipif(not HEAVY_ENABLED, reason=(
    "heavy full-size check (SDXL: ~23 GB peak in a process of its own, two 6-7 GB files whose generator needs ~14 GB "
    "each; or minutes of CPU): run with WEBUI_TEST_FULLSIZE_ALL=1 (./run_tests.sh tests/fullsize) on an otherwise "
    "idle machine; left out of the default run, where the second test worker shares the 24 GB"))
"""Marks the full-size checks that need the whole machine: SDXL base/refiner end to end and its network parity
(measured alone: 120 s and 23.1 GB maximum resident for base + refiner), the full-size compile and token-merging
checks, DPM adaptive at full size (4-5 minutes of CPU)."""

FULLSIZE_KEY = pytest.StashKey[FullsizeCheckpoints]()


def _families_used(items: list[pytest.Item]) -> list[str]:
    """The families the collected full-size tests name (``FAMILIES_USED`` of each module), in FAMILIES' order."""
    wanted: set[str] = set()
    for item in items:
        module = getattr(item, "module", None)
        wanted.update(getattr(module, "FAMILIES_USED", ()))
        if HEAVY_ENABLED:
            wanted.update(getattr(module, "HEAVY_FAMILIES_USED", ()))
    return [family for family in FAMILIES if family in wanted]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the full-size tests last (one process; under xdist tests/parallel.py orders the units) and start writing
    their checkpoints now, in the background."""
    here = Path(__file__).parent
    fullsize_items = [item for item in items if here in Path(str(item.path)).parents]
    if not fullsize_items or config.option.collectonly:
        return
    if not parallel.is_worker(config):  # under xdist, tests/parallel.py orders the work units
        items[:] = [item for item in items if item not in fullsize_items] + fullsize_items
    checkpoints = FullsizeCheckpoints(checkpoint_root())
    config.stash[FULLSIZE_KEY] = checkpoints
    checkpoints.prefetch(_families_used(fullsize_items))


def checkpoint_root() -> Path:
    """``WEBUI_FULLSIZE_CACHE``, else the folder the workers of an xdist run share (removed by its controller),
    else a temporary folder of this process (removed at its end)."""
    cache = os.environ.get("WEBUI_FULLSIZE_CACHE")
    if cache:
        return Path(cache)
    shared = parallel.shared_run_dir()
    if shared is not None:
        return shared / "fullsize-checkpoints"
    return make_run_folder("fullsize-checkpoints-")


def pytest_sessionfinish(session: pytest.Session) -> None:
    checkpoints = session.config.stash.get(FULLSIZE_KEY, None)
    if checkpoints is not None and not os.environ.get("WEBUI_FULLSIZE_CACHE") and parallel.shared_run_dir() is None:
        shutil.rmtree(checkpoints.root, ignore_errors=True)


@pytest.fixture(scope="session")
def fullsize(request) -> FullsizeCheckpoints:
    """The run's :class:`FullsizeCheckpoints` (files deleted at the end unless ``WEBUI_FULLSIZE_CACHE`` is set)."""
    checkpoints = request.config.stash.get(FULLSIZE_KEY, None)
    if checkpoints is None:  # collected some other way: write on first use
        checkpoints = FullsizeCheckpoints(checkpoint_root())
        request.config.stash[FULLSIZE_KEY] = checkpoints
    return checkpoints


@contextlib.contextmanager
def fullsize_server(fullsize: FullsizeCheckpoints, families: tuple[str, ...], data_dir: Path, *flags: str):
    """The API app started the way ``webui.py --nowebui --use-cpu all --no-half`` starts it, on full-size files.

    The first family is loaded at start; the others are only in the checkpoint list (the refiner, the
    hires checkpoint). Yields a TestClient; on leaving, the model is unloaded and ``modules.shared``
    restored, so the next family has the memory.
    """
    from fastapi.testclient import TestClient

    from tests.api.conftest import preserved_shared

    fullsize.require_memory(families[0])
    installed = [fullsize.install(family, data_dir) for family in families]
    with preserved_shared() as shared:
        from modules.app_server import create_app
        from modules.runtime.bootstrap import initialize

        try:
            # --ckpt names the one to load: the list order alone would pick "random-sdxl-refiner" before "random-sdxl"
            initialize(["--data-dir", str(data_dir), "--nowebui", "--use-cpu", "all", "--no-half",
                        "--ckpt", str(installed[0]), *flags])
            assert shared.sd_model is not None, "the full-size checkpoint did not load"
            with TestClient(create_app(shared.cmd_opts, with_ui=False)) as client:
                yield client
        finally:
            manager = getattr(shared, "model_manager", None)
            if manager is not None:
                manager.release_all()  # unload() would keep the weights in RAM for the rest of the test session
            shared.sd_model = None
    free_memory()
