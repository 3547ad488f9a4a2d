"""Cutting a job into chunks: each chunk's seeds and prompts are those its pictures have in the one-process run.

The reference is the pipeline's own seed and prompt code (``_fix_seeds``, ``setup_prompts``) run on the whole job:
the chunks, each run through the same code, must give its slices.  No Ray needed.
"""
from __future__ import annotations

import types

import pytest

from modules.distributed.job_spec import ChunkResult, chunk_fields, merge, split_iterations
from modules.processing.pipeline import _fix_seeds


def one_process(fields: dict) -> tuple[list, list, list]:
    """(all_prompts, all_seeds, all_subseeds) as process_images computes them for ``fields``."""
    count = fields["n_iter"] * fields["batch_size"]
    prompt = fields["prompt"]
    p = types.SimpleNamespace(seed=fields["seed"], subseed=fields["subseed"],
                              subseed_strength=fields["subseed_strength"],
                              all_prompts=list(prompt) if isinstance(prompt, list) else [prompt] * count)
    _fix_seeds(p)
    return p.all_prompts, p.all_seeds, p.all_subseeds


@pytest.mark.parametrize("n_iter,parts", [(4, 2), (5, 2), (3, 3), (7, 3), (2, 5), (1, 1)])
def test_split_covers_every_iteration_once_in_order(n_iter, parts):
    runs = split_iterations(n_iter, parts)
    assert [i for first, count in runs for i in range(first, first + count)] == list(range(n_iter))
    assert len(runs) == min(n_iter, parts) and max(c for _, c in runs) - min(c for _, c in runs) <= 1


@pytest.mark.parametrize("batch_size,subseed_strength,prompt_list", [(1, 0, False), (3, 0, False), (2, 0.4, False),
                                                                     (2, 0, True)])
def test_chunks_carry_the_one_process_seeds_and_prompts(batch_size, subseed_strength, prompt_list):
    n_iter = 5
    prompt = [f"p{i}" for i in range(n_iter * batch_size)] if prompt_list else "a cat"
    fields = dict(prompt=prompt, negative_prompt="", seed=1000, subseed=77, subseed_strength=subseed_strength,
                  n_iter=n_iter, batch_size=batch_size)
    want_prompts, want_seeds, want_subseeds = one_process(fields)
    got_prompts, got_seeds, got_subseeds = [], [], []
    for first, count in split_iterations(n_iter, 2):
        part = chunk_fields(fields, first, count)
        assert part["n_iter"] == count and part["do_not_save_samples"] and part["do_not_save_grid"]
        prompts, seeds, subseeds = one_process(part)
        got_prompts += prompts
        got_seeds += seeds
        got_subseeds += subseeds
    assert (got_prompts, got_seeds, got_subseeds) == (want_prompts, want_seeds, want_subseeds)


def test_merge_keeps_chunk_order_and_the_first_chunks_notes():
    def result(i: int, worker: str) -> ChunkResult:
        return ChunkResult([f"img{i}"], [f"info{i}"], [f"p{i}"], ["n"], [i], [i], {"sd_model_hash": f"h{i}"},
                           {f"c{i}": 1}, f"grid{i}", worker=worker)

    merged = merge([result(0, "w1"), result(1, "w2")])
    assert merged.images == ["img0", "img1"] and merged.infotexts == ["info0", "info1"]
    assert merged.all_seeds == [0, 1] and merged.grid_text == "grid0" and merged.workers == ["w1", "w2"]
    assert merged.attributes == {"sd_model_hash": "h0"} and list(merged.comments) == ["c0", "c1"]


@pytest.mark.parametrize("batch_size,subseed_strength", [(1, 0), (3, 0), (2, 0.5)])
def test_first_batch_seeds_are_the_ones_init_sees_in_one_process(batch_size, subseed_strength):
    from modules.distributed.job_spec import first_batch_seeds

    fields = dict(prompt="a", seed=40, subseed=9, subseed_strength=subseed_strength, n_iter=3, batch_size=batch_size)
    assert first_batch_seeds(fields) == one_process(fields)[1][:batch_size]


def test_chunks_carry_the_jobs_first_seeds_and_their_own_range():
    from modules.distributed.job_spec import make_chunks

    fields = dict(prompt="a", seed=10, subseed=1, subseed_strength=0, n_iter=5, batch_size=2)
    chunks = make_chunks("txt2img", "task(t)", fields, 2, {"k": 1}, "tiny [1]")
    assert [(c.first, c.count, c.task_id) for c in chunks] == [(0, 3, "task(t)#0"), (3, 2, "task(t)#1")]
    assert all(c.job_seeds == [10, 11] and c.scripts == [] and c.checkpoint == "tiny [1]" for c in chunks)
