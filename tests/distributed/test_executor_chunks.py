"""How the Ray executor cuts a job, without a cluster: a stand-in orchestrator records the chunks it is given."""
from __future__ import annotations

import pytest

from modules.distributed.executor import SEQUENTIAL_SETTINGS, RayExecutor


class Recorded(Exception):
    """Stops the job once its chunks are seen."""


class RecordingOrchestrator:
    def __init__(self, free: int) -> None:
        self.free = free
        self.chunks: list = []

    def free_workers(self, checkpoint=None) -> int:
        return self.free

    def workers_elsewhere(self) -> bool:
        return False

    def run_chunks(self, chunks, on_progress=None, control=None):
        self.chunks = list(chunks)
        raise Recorded


@pytest.fixture
def tiny(app):
    return app("sd1")


def chunks_of(free: int, **fields) -> list:
    from modules.processing.txt2img import StableDiffusionProcessingTxt2Img

    orchestrator = RecordingOrchestrator(free)
    p = StableDiffusionProcessingTxt2Img(prompt="a cat", steps=2, width=64, height=64, seed=7, n_iter=4, **fields)
    with pytest.raises(Recorded):
        RayExecutor(orchestrator).run(p)
    return orchestrator.chunks


def test_a_batch_count_is_cut_over_the_free_workers(tiny):
    chunks = chunks_of(2)
    assert [(c.first, c.count) for c in chunks] == [(0, 2), (2, 2)]


@pytest.mark.parametrize("setting", SEQUENTIAL_SETTINGS)
def test_a_job_with_hypertile_runs_whole_on_one_worker(tiny, setting):
    """Hypertile's tile counts come from one random sequence through every batch: a worker starting at batch 2
    would draw other tiles than one machine does there."""
    chunks = chunks_of(2, override_settings={setting: True})
    assert [(c.first, c.count) for c in chunks] == [(0, 4)]


def test_hypertile_on_in_the_settings_keeps_the_job_whole(tiny):
    tiny.opts.data["hypertile_enable_unet"] = True
    try:
        assert len(chunks_of(2)) == 1
        assert len(chunks_of(2, override_settings={"hypertile_enable_unet": False})) == 2
    finally:
        tiny.opts.data["hypertile_enable_unet"] = False
