"""Extras jobs under ``--ray``, without a cluster: the Ray executor sends each picture's operations to a worker
(here a stand-in orchestrator that runs the worker's own chunk function in this process, one picture per chunk)
and the pictures are saved here, with the same files, names and PNG chunks as a local run."""
from __future__ import annotations

import hashlib
import os

import pytest
from PIL import Image

from modules.distributed.executor import RayExecutor
from modules.distributed.worker import run_extras_chunk
from modules.postprocess import extras_ops
from modules.processing.executors import install_executor
from modules.processing.extras_run import run_postprocessing
from tests.postprocess.test_extras import lanczos, source, with_parameters


class InProcessWorkers:
    """Runs each chunk as a worker would (``run_extras_chunk`` on a copy of its picture) and records the windows."""

    def __init__(self, services, free: int = 2) -> None:
        self.services = services
        self.free = free
        self.windows: list[list[str]] = []
        self.interrupt_after: int | None = None

    def free_workers(self, checkpoint=None) -> int:
        return self.free

    def run_chunks(self, chunks, on_progress=None, control=None):
        self.windows.append([chunk.task_id for chunk in chunks])
        results = []
        for chunk in chunks:
            if self.interrupt_after is not None and len(results) >= self.interrupt_after:
                self.services.state.interrupted = True
            if control is not None and control() == "interrupt":
                break
            results.append(run_extras_chunk(self.services, chunk, worker=f"w{chunk.index}"))
        return results


@pytest.fixture
def app(started, data_dir, restore_shared):
    extras_ops.clear_upscale_cache()
    started("--nowebui", "--skip-load-model-at-start")
    yield restore_shared
    extras_ops.clear_upscale_cache()


@pytest.fixture
def workers(app):
    from modules.core.services import current_services

    orchestrator = InProcessWorkers(current_services())
    previous = install_executor(RayExecutor(orchestrator))
    yield orchestrator
    install_executor(previous)


def digests(folder) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in sorted(os.listdir(folder))}


def batch_folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i, name in enumerate(["a.png", "b.png", "c 3.png", "d.png", "e.png"]):
        with_parameters(source(shade=40 * i), str(src / name), f"picture {i}\nSteps: 5")
    (src / "notes.txt").write_text("not a picture")
    return src


def test_a_directory_batch_runs_on_the_workers_with_the_local_files(workers, tmp_path):
    src = batch_folder(tmp_path)
    install_executor(None)
    local, local_html, _ = run_postprocessing(2, None, None, str(src), str(tmp_path / "local"), True, lanczos(2))
    install_executor(RayExecutor(workers))
    remote, remote_html, _ = run_postprocessing(2, None, None, str(src), str(tmp_path / "ray"), True, lanczos(2))
    # six files in windows as wide as the free workers; the text file of the last one is no picture
    assert [len(window) for window in workers.windows] == [2, 2, 1]
    assert remote_html == local_html
    assert [im.tobytes() for im in remote] == [im.tobytes() for im in local]
    assert digests(tmp_path / "ray") == digests(tmp_path / "local")
    assert Image.open(tmp_path / "ray" / "c 3.png").info["parameters"] == "picture 2\nSteps: 5"


def test_a_single_picture_runs_on_a_worker_and_is_saved_here(workers, app, data_dir):
    outputs, html_info, _ = run_postprocessing(0, source(), None, "", "", True, lanczos(3))
    assert workers.windows and len(workers.windows[0]) == 1
    assert outputs[0].size == (72, 48) and "upscale by: 3" in html_info
    assert os.listdir(data_dir / "outputs" / "extras-images") == ["00000.png"]


def test_an_interrupted_batch_saves_only_what_the_workers_finished(workers, tmp_path):
    src = batch_folder(tmp_path)
    workers.interrupt_after = 1
    run_postprocessing(2, None, None, str(src), str(tmp_path / "ray"), True, lanczos(2))
    assert os.listdir(tmp_path / "ray") == ["a.png"]
    assert len(workers.windows) == 1  # no window is sent after the interrupt
