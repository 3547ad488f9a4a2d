"""How the Ray executor cuts a job, without a cluster: a stand-in orchestrator records the chunks it is given."""
from __future__ import annotations

import sys
import types

import pytest
import torch
from safetensors.torch import save_file

from modules.distributed.executor import SEQUENTIAL_SETTINGS, RayExecutor


class Recorded(Exception):
    """Stops the job once its chunks are seen."""


class RecordingOrchestrator:
    def __init__(self, free: int, elsewhere: bool = False) -> None:
        self.free = free
        self.elsewhere = elsewhere
        self.chunks: list = []
        self.ray = types.SimpleNamespace(put=lambda data: ("ref", len(data)))

    def free_workers(self, checkpoint=None) -> int:
        return self.free

    def workers_elsewhere(self) -> bool:
        return self.elsewhere

    def run_chunks(self, chunks, on_progress=None, control=None):
        self.chunks = list(chunks)
        raise Recorded


@pytest.fixture
def tiny(app):
    return app("sd1")


def chunks_of(free: int, elsewhere: bool = False, **fields) -> list:
    from modules.processing.txt2img import StableDiffusionProcessingTxt2Img

    orchestrator = RecordingOrchestrator(free, elsewhere)
    fields = {"prompt": "a cat", **fields}
    p = StableDiffusionProcessingTxt2Img(steps=2, width=64, height=64, seed=7, n_iter=4, **fields)
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


def test_network_files_go_with_the_chunks_only_for_workers_on_another_node(tiny, data_dir):
    """Workers on this node read its folders: nothing is listed or hashed; for workers elsewhere every chunk carries
    the job's LoRA with its hash and object-store reference."""
    lora = data_dir / "models" / "Lora" / "inky.safetensors"
    lora.parent.mkdir(parents=True, exist_ok=True)
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.ones(1, 4)}, str(lora))
    sys.modules["networks"].list_available_networks()
    assert all(chunk.files == [] for chunk in chunks_of(2, prompt="a cat <lora:inky:1>"))
    chunks = chunks_of(2, elsewhere=True, prompt="a cat <lora:inky:1>")
    assert len(chunks) == 2
    for chunk in chunks:
        (item,) = chunk.files
        assert (item.role, item.relative, item.data) == ("lora", "inky.safetensors", ("ref", lora.stat().st_size))
