"""The orchestrator's dispatch without a cluster: placement, order, a dead worker's chunk re-run, a missing checkpoint.

A stand-in for the few ``ray`` calls the orchestrator makes (``wait``, ``get``, ``exceptions.RayActorError``):
each actor method call runs at once in this process and its reference holds the answer or the exception.
"""
from __future__ import annotations

import types

import pytest

from modules.distributed.job_spec import ChunkResult, make_chunks
from modules.distributed.orchestrator import NoWorkerError, Orchestrator, WorkerSlot
from modules.distributed.worker import CheckpointMissingError


class ActorDied(Exception):
    pass


class Ref:
    def __init__(self, fn, *args):
        try:
            self.value, self.error = fn(*args), None
        except Exception as e:  # kept for get(), as Ray does
            self.value, self.error = None, e


class Method:
    def __init__(self, fn):
        self.fn = fn

    def remote(self, *args):
        return Ref(self.fn, *args)


class FakeActor:
    """Runs a chunk: answers the seeds it got; ``die`` chunks raise an actor death, ``missing`` a missing file."""

    def __init__(self, name, model="tiny [1]", die=(), missing=()):
        self.name, self.model, self.die, self.missing, self.ran = name, model, set(die), set(missing), []
        self.run = Method(self._run)
        self.describe = Method(lambda: {"model": self.model, "pid": 1})
        self.progress = Method(lambda task_id, latent=False: {})
        self.interrupt = Method(lambda task_id: True)
        self.skip = Method(lambda task_id: True)

    def _run(self, chunk):
        if chunk.index in self.die:
            self.die.discard(chunk.index)
            raise ActorDied(f"{self.name} died")
        if chunk.checkpoint in self.missing:
            raise CheckpointMissingError(f"checkpoint {chunk.checkpoint} is not on node n-{self.name}")
        self.ran.append(chunk.index)
        seeds = [chunk.fields["seed"] + i for i in range(chunk.count)]
        return ChunkResult([f"img{s}" for s in seeds], [f"info{s}" for s in seeds], ["p"] * chunk.count,
                           [""] * chunk.count, seeds, seeds, {}, {}, "grid", worker=self.name)


def fake_ray():
    def wait(refs, num_returns=1, timeout=None):
        return list(refs)[:num_returns], list(refs)[num_returns:]

    def get(ref):
        if ref.error is not None:
            raise ref.error
        return ref.value

    return types.SimpleNamespace(wait=wait, get=get, exceptions=types.SimpleNamespace(RayActorError=ActorDied),
                                 nodes=lambda: [], kill=lambda actor, no_restart=True: None)


def orchestrator(*actors):
    o = Orchestrator(fake_ray(), lambda name: [])
    o._last_refresh = float("inf")  # no nodes to look at
    for actor in actors:
        o.slots.append(WorkerSlot(actor.name, "node", actor, status="ok", info={"model": actor.model}))
    return o


def chunks(parts, n_iter=4, checkpoint="tiny [1]"):
    fields = dict(prompt="a", seed=100, subseed=5, subseed_strength=0, n_iter=n_iter, batch_size=1)
    return make_chunks("txt2img", "task(x)", fields, parts, {}, checkpoint)


def test_results_come_back_in_chunk_order_with_the_one_machine_seeds():
    a, b = FakeActor("w1"), FakeActor("w2")
    results = orchestrator(a, b).run_chunks(chunks(2))
    assert [s for r in results for s in r.all_seeds] == [100, 101, 102, 103]
    assert a.ran and b.ran


def test_placement_prefers_the_worker_holding_the_checkpoint():
    other, holder = FakeActor("w1", model="big [2]"), FakeActor("w2", model="tiny [1]")
    results = orchestrator(other, holder).run_chunks(chunks(1))
    assert [r.worker for r in results] == ["w2"]


def test_a_dead_workers_chunk_runs_again_on_another_worker_once():
    a, b = FakeActor("w1", die={0}), FakeActor("w2")
    o = orchestrator(a, b)
    results = o.run_chunks(chunks(2))
    assert [s for r in results for s in r.all_seeds] == [100, 101, 102, 103]
    assert sorted(a.ran + b.ran) == [0, 1]  # each chunk's pictures made once
    assert o.slots[0].status == "restarting" and "died" in o.slots[0].reason


def test_a_worker_without_the_checkpoint_is_marked_and_skipped():
    lacking, having = FakeActor("w1", missing={"tiny [1]"}), FakeActor("w2")
    o = orchestrator(lacking, having)
    results = o.run_chunks(chunks(2))
    assert [r.worker for r in results] == ["w2", "w2"]
    assert "is not on node n-w1" in o.workers()[0]["missing_checkpoints"]["tiny [1]"]


def test_no_worker_with_the_checkpoint_is_one_error_naming_the_nodes():
    o = orchestrator(FakeActor("w1", missing={"tiny [1]"}), FakeActor("w2", missing={"tiny [1]"}))
    with pytest.raises(NoWorkerError, match="n-w1.*n-w2"):
        o.run_chunks(chunks(2))


def test_workers_on_another_node_than_this_process_are_seen():
    o = orchestrator(FakeActor("w1"), FakeActor("w2"))  # both on "node"
    o.ray.get_runtime_context = lambda: types.SimpleNamespace(get_node_id=lambda: "node")
    assert not o.workers_elsewhere()
    o.slots[1].node_id = "other-node"
    assert o.workers_elsewhere()


def test_a_worker_that_switched_checkpoint_is_preferred_for_that_checkpoint_next():
    """The checkpoint a worker holds is the last one it ran, not the one it started with."""
    a, b = FakeActor("w1", model="tiny [1]"), FakeActor("w2", model="tiny [1]")
    o = orchestrator(a, b)
    assert [r.worker for r in o.run_chunks(chunks(1, n_iter=1, checkpoint="big [2]"))] == ["w1"]
    assert o.workers()[0]["model"] == "big [2]"
    # w1 has run more chunks, but it holds the checkpoint: it gets the next job using it, w2 the one using tiny
    assert [r.worker for r in o.run_chunks(chunks(1, n_iter=1, checkpoint="big [2]"))] == ["w1"]
    assert [r.worker for r in o.run_chunks(chunks(1, n_iter=1, checkpoint="tiny [1]"))] == ["w2"]


def test_a_worker_whose_last_job_used_the_same_networks_is_preferred():
    from modules.distributed.job_spec import network_tags

    a, b = FakeActor("w1"), FakeActor("w2")
    o = orchestrator(a, b)

    def job(prompt):
        parts = chunks(1, n_iter=1)
        for chunk in parts:
            chunk.networks = network_tags([prompt])
        return parts

    assert [r.worker for r in o.run_chunks(job("a cat <lora:ink:0.8>"))] == ["w1"]
    # w1 ran more chunks, but the LoRA is applied there already
    assert [r.worker for r in o.run_chunks(job("a cow <lora:ink:1>"))] == ["w1"]
    assert [r.worker for r in o.run_chunks(job("a dog"))] == ["w2"]
    assert [r.worker for r in o.run_chunks(job("<hypernet:x:0.5> a bird <lora:ink:1>"))] == ["w2"]
    assert o.workers()[1]["networks"] == ["hypernet:x", "lora:ink"]
    # as many chunks each: the set decides (the first in the list would win a tie)
    assert [r.worker for r in o.run_chunks(job("<lora:ink:0.7>, <hypernet:x:1> a fish"))] == ["w2"]
    assert network_tags(["<lora:a:1> <LORA:b>", None, "<lyco:c:1:2> <lora:a:0.5>"]) == (("lora", "a"), ("lyco", "c"))
