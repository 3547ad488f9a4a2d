"""The memory manager on a tiny model, with the CPU standing in for a small GPU (real copies): streamed and
swapped models give bit-identical outputs, units move in and out when used, the patcher's bookkeeping
survives the moves, an out-of-memory job is reported and cleaned up, and the CUDA prefetch path is
checked through a fake of ``torch.cuda``."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from modules.models.loader import load_model
from modules.models.memory.placement import MemoryManager, OutOfDeviceMemory
from modules.models.memory.policy import DeviceBudget, Mode, Place
from modules.models.memory.transfer import CudaPrefetch
from modules.models.memory.units import WeightUnit, part_sizes
from modules.models.patcher import PatchSet, WeightPatch, patcher_for
from modules.models.tiny_factory import make_tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return make_tiny_checkpoint("sd1", tmp_path_factory.mktemp("tiny-memory"))


def aligned(model):
    """The model with every tensor copied to a fresh (64-byte aligned) allocation.

    Safetensors' tensors sit at unaligned offsets of the file, and the CPU kernels round differently on
    unaligned data (1e-6 on this UNet): any copy, streamed or not, computes like an aligned one.  The
    reference is therefore the resident model on aligned weights; two aligned copies agree bit for bit.
    """
    for tensor in model.state_dict(keep_vars=True).values():
        tensor.data = tensor.data.clone()
    return model


def run(model):
    """Text encoder, one UNet call and a VAE decode: the three parts a job uses."""
    with torch.no_grad():
        cond = model.get_learned_conditioning(["a cat"])
        torch.manual_seed(0)
        x = torch.randn(1, 4, 8, 8)
        eps = model.apply_model(x, torch.tensor([500]), {"c_crossattn": [cond]})
        return cond, eps, model.decode_first_stage(eps)


def manager(mode, budget=None):
    memory = MemoryManager("cpu", opts=SimpleNamespace(memory_reserve_mb=0), log=lambda line: None)
    memory.configure(mode=mode, budget=budget or DeviceBudget(free=2 ** 40, total=2 ** 40), copy_on_cpu=True)
    return memory


def ptrs(model):
    return {name: t.data_ptr() for name, t in model.state_dict(keep_vars=True).items()}


@pytest.mark.parametrize("mode", [Mode.MEDVRAM, Mode.LOWVRAM, Mode.AUTO])
def test_outputs_bit_identical_and_weights_home_after_use(checkpoint, mode):
    model = aligned(load_model(checkpoint))
    reference = run(model)
    before = ptrs(model)
    sizes = part_sizes(model)
    # AUTO with room for the core, a third of the blocks and the streaming: some blocks resident, the rest streamed
    streaming = max(sizes.text_encoder, sizes.vae, 2 * max(sizes.blocks.values()))
    budget = DeviceBudget(free=sizes.unet_core + sizes.unet // 3 + streaming, total=0)
    memory = manager(mode, budget)
    plan = memory.attach(model)
    if mode is Mode.AUTO:
        assert Place.STREAMED in plan.places.values() and Place.RESIDENT in plan.places.values()
    outputs = run(model)
    for got, want in zip(outputs, reference):
        assert torch.equal(got, want)
    assert memory.moves > 0 and memory.bytes_moved > 0
    memory.rest()
    assert ptrs(model) == before  # every tensor back on its home object
    memory.detach(model)
    for got, want in zip(run(model), reference):
        assert torch.equal(got, want)


def test_lowvram_streams_one_block_at_a_time(checkpoint):
    model = load_model(checkpoint)
    memory = manager(Mode.LOWVRAM)
    memory.attach(model)
    seen = []
    unet = model.model.diffusion_model
    for block in [*unet.input_blocks, unet.middle_block, *unet.output_blocks]:
        block.register_forward_pre_hook(lambda m, a: seen.append(sum(u.on_device for u in memory._loaded.values())))
    run(model)
    assert seen and max(seen) == 1  # the running block only: the text encoder left when the UNet started
    report = memory.report()["models"][0]
    assert report["mode"] == "lowvram"
    assert report["units"]["input_blocks.0"] == {"place": "streamed", "bytes": report["units"]["input_blocks.0"]["bytes"],
                                                 "on_device": False}


def test_medvram_keeps_one_part_on_the_device(checkpoint):
    model = load_model(checkpoint)
    memory = manager(Mode.MEDVRAM)
    memory.attach(model)
    run(model)
    on_device = [u.name for u in memory._loaded.values() if u.on_device]
    assert on_device == ["vae"]  # the last used; the text encoder and the UNet went out as the next came in
    assert memory.moves == 3


def test_patcher_sees_no_outside_change_after_moves(checkpoint):
    model = load_model(checkpoint)
    memory = manager(Mode.LOWVRAM)
    memory.attach(model)
    key = "model.diffusion_model.input_blocks.1.0.in_layers.2:weight"
    module = model.get_submodule("model.diffusion_model.input_blocks.1.0.in_layers.2")
    original = module.weight.detach().clone()
    patcher = patcher_for(model)
    patcher.apply("lora", PatchSet("a", {key: (WeightPatch(lambda w: w * 2, source="test"),)}))
    run(model)
    patcher.apply("lora", PatchSet("b", {key: (WeightPatch(lambda w: w * 3, source="test"),)}))
    assert torch.equal(module.weight, original * 3)  # merged on the original, not on the doubled weight
    run(model)
    patcher.unpatch()
    assert torch.equal(module.weight, original)


def test_out_of_memory_job_names_the_setting_frees_and_the_next_job_works(checkpoint):
    model = aligned(load_model(checkpoint))
    reference = run(model)
    memory = manager(Mode.AUTO, DeviceBudget(free=part_sizes(model).total * 2, total=0))
    memory.attach(model)
    failing = {"left": 1}

    def fake_oom(_module, _args):
        if failing["left"]:
            failing["left"] -= 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    handle = model.model.diffusion_model.middle_block.register_forward_pre_hook(fake_oom)
    memory.configure(mode=Mode.MEDVRAM)
    memory.attach(model)
    with pytest.raises(OutOfDeviceMemory, match="--lowvram") as info:
        with memory.guard():
            run(model)
    assert "medvram" in str(info.value)
    assert not memory._loaded  # what the job held is out
    with memory.guard():
        outputs = run(model)
    handle.remove()
    for got, want in zip(outputs, reference):
        assert torch.equal(got, want)


def test_auto_oom_message_names_the_reserve_setting(checkpoint):
    memory = manager(Mode.AUTO)
    memory.attach(load_model(checkpoint))
    with pytest.raises(OutOfDeviceMemory, match="memory_reserve_mb"):
        with memory.guard():
            raise torch.OutOfMemoryError("out of memory")


class FakeCuda:
    """Records the stream calls the prefetch makes; copies stay on the CPU."""

    def __init__(self):
        self.calls = []
        fake = self

        class Stream:
            def __init__(self, device=None):
                self.name = "side"

            def wait_event(self, event):
                fake.calls.append(("wait", event.unit))

        class Event:
            def record(self, stream):
                fake.calls.append(("record", stream.name))
                self.unit = fake.current_unit

        self.Stream, self.Event = Stream, Event
        self.compute = Stream()
        self.compute.name = "compute"
        self.current_unit = None

    def stream(self, stream):
        fake = self

        class Ctx:
            def __enter__(self):
                fake.calls.append(("enter", stream.name))

            def __exit__(self, *exc):
                fake.calls.append(("exit", stream.name))
        return Ctx()

    def current_stream(self, device=None):
        return self.compute


def test_cuda_prefetch_copies_on_the_side_stream_and_the_compute_stream_waits():
    cuda = FakeCuda()
    transfer = CudaPrefetch(torch.device("cpu"), cuda)
    unit = WeightUnit("b", [torch.nn.Linear(2, 2)])
    cuda.current_unit = "b"
    recorded = []
    transfer.start(unit)
    assert unit.on_device and unit.pending is not None
    assert cuda.calls == [("enter", "side"), ("record", "side"), ("exit", "side")]
    original = torch.Tensor.record_stream
    try:
        torch.Tensor.record_stream = lambda self, stream: recorded.append(stream.name)  # the fake's stream is no CUDA stream
        transfer.ready(unit)
    finally:
        torch.Tensor.record_stream = original
    assert cuda.calls[-1] == ("wait", "b")
    assert recorded == ["compute", "compute"] and unit.pending is None


def test_cpu_stand_in_reuses_its_copy_buffers(checkpoint):
    """The stand-in's copies come from a pool (as a GPU's caching allocator keeps freed blocks): after the
    first job nothing new is allocated, the copies are real (not the home tensors) and clearing the pool
    lets the buffers go."""
    model = load_model(checkpoint)
    memory = manager(Mode.LOWVRAM)
    memory.attach(model)
    block = model.model.diffusion_model.input_blocks[1]
    seen = []
    block.register_forward_pre_hook(lambda m, a: seen.append(next(m.parameters()).data_ptr()))
    run(model)
    allocated = memory.copy_pool.allocated
    assert allocated > 0
    run(model)
    run(model)
    assert memory.copy_pool.allocated == allocated
    home = next(block.parameters()).data_ptr()
    assert home not in seen  # the block ran on copies
    memory.detach(model)
    memory.copy_pool.clear()
    assert memory.copy_pool.allocated == 0
