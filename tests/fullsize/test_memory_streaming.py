"""The memory manager on the full-size SD1.5 checkpoint, loaded as the server loads it, with the CPU standing
in for a small device (real copies): ``--lowvram`` streaming block by block, ``--medvram`` swapping the three
parts, and the automatic policy with a budget that keeps part of the UNet resident and streams the rest, each
give outputs bit-identical to the resident model and leave every weight back on its home tensor.

The tiny-model tests (tests/models/test_memory_placement.py) cover the decisions and the bookkeeping; this one
proves the unit split and the hooks on the real module tree (every block of the real UNet, the real text
encoder and VAE), where a missed submodule or a tensor shared between units would show.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from modules.models.memory.placement import MemoryManager
from modules.models.memory.policy import DeviceBudget, Mode, Place
from modules.models.memory.units import part_sizes
from tests.fullsize.conftest import free_memory
from tests.fullsize.test_parity_networks import load_through_manager

pytestmark = pytest.mark.slow
FAMILIES_USED = ("sd15",)


def run(model) -> tuple[torch.Tensor, ...]:
    """What a job does with each part: encode a prompt, two UNet calls (CFG batch of 2), decode."""
    with torch.no_grad():
        cond = model.get_learned_conditioning(["a photo of a cat", ""])
        gen = torch.Generator().manual_seed(7)
        x = torch.randn(2, 4, 8, 8, generator=gen)
        eps = model.apply_model(x, torch.tensor([900, 900]), {"c_crossattn": [cond]})
        eps2 = model.apply_model(x - 0.1 * eps, torch.tensor([500, 500]), {"c_crossattn": [cond]})
        return cond, eps, eps2, model.decode_first_stage(eps2[:1])


def home_pointers(model) -> dict[str, int]:
    return {name: t.data_ptr() for name, t in model.state_dict(keep_vars=True).items()}


def test_sd15_streamed_and_swapped_equal_resident(fullsize, tmp_path):
    fullsize.require_memory("sd15")
    model = load_through_manager(fullsize, "sd15", tmp_path)
    try:
        reference = run(model)
        home = home_pointers(model)
        sizes = part_sizes(model)
        # room for the UNet's core, a third of its blocks and the largest streamed part: a mixed plan
        streaming = max(sizes.text_encoder, sizes.vae, 2 * max(sizes.blocks.values()))
        budgets = {Mode.LOWVRAM: None, Mode.MEDVRAM: None,
                   Mode.AUTO: DeviceBudget(free=sizes.unet_core + sizes.unet // 3 + streaming, total=0)}
        for mode, budget in budgets.items():
            memory = MemoryManager("cpu", opts=SimpleNamespace(memory_reserve_mb=0), log=lambda line: None)
            memory.configure(mode=mode, budget=budget or DeviceBudget(free=2 ** 40, total=2 ** 40), copy_on_cpu=True)
            plan = memory.attach(model)
            if mode is Mode.AUTO:
                places = set(plan.places.values())
                assert {Place.STREAMED, Place.RESIDENT} <= places, plan.places
            if mode is Mode.LOWVRAM:
                # every input, middle and output block of the real UNet is its own streamed unit
                assert sum(1 for name in plan.places if name.startswith(("input_blocks.", "output_blocks."))) == 24
            outputs = run(model)
            for got, want in zip(outputs, reference):
                assert torch.equal(got, want), mode
            assert memory.moves > 0, mode
            memory.rest()
            memory.detach(model)
            assert home_pointers(model) == home, f"{mode}: a weight did not come back to its home tensor"
            del memory, plan  # this mode's copy buffers go before the next mode makes its own
    finally:
        model.to("meta")  # frees the weights whoever still refers to the model (its manager, the prompt hijack)
        del model
        free_memory()
