"""Compiled sampling on the full-size generated SD1.5 and SDXL checkpoints, loaded as the server loads them.

The UNet is compiled through :mod:`modules.models.compiled_unet` with a backend that counts dynamo's
graphs and runs each captured FX graph as is: one graph for a forward means the whole full-size UNet is
captured without a graph break (what CUDA graphs need), and its output must equal the eager one.
Inductor's code generation is left to the tiny-model check (tests/models/test_compiled_unet.py) and to
``bench/gpu.sh``: on this 2-core CPU it takes minutes for a full-size UNet.  SDXL (~14 GB in fp32) is
in the heavy tier; run it under ``flock /tmp/bigmem.lock``.
"""
from __future__ import annotations

from typing import Any

import pytest
import torch

from modules.models import compiled_unet as cu
from tests.fullsize.conftest import free_memory, heavy
from tests.fullsize.test_parity_networks import load_through_manager, rel_err

pytestmark = pytest.mark.slow
FAMILIES_USED = ("sd15",)
HEAVY_FAMILIES_USED = ("sdxl",)


class GraphCounter:
    """A dynamo backend that counts the graphs it is handed and runs them uncompiled."""

    def __init__(self) -> None:
        self.graphs = 0

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list) -> Any:
        self.graphs += 1
        return gm.forward


def check_family(fullsize: Any, family: str, data_dir: Any, context_dim: int) -> None:
    fullsize.require_memory(family)
    torch._dynamo.reset()
    model = load_through_manager(fullsize, family, data_dir)
    try:
        unet = cu.unet_of(model)
        gen = torch.Generator().manual_seed(16)
        x, context = torch.randn(2, 4, 8, 8, generator=gen), torch.randn(2, 77, context_dim, generator=gen)
        y = torch.randn(2, unet.adm_in_channels, generator=gen) if unet.adm_in_channels else None
        t = torch.full((2,), 500.0)
        counter = GraphCounter()
        with torch.no_grad():
            want = unet(x, t, context=context, y=y)
            wrapper = cu.enable(model, cu.CompileConfig(backend="aot_eager"),
                                lambda fn, **kw: torch.compile(fn, **{**kw, "backend": counter}))
            got = unet(x, t, context=context, y=y)
            again = unet(x, t, context=context, y=y)
        assert wrapper.failure is None, wrapper.failure
        assert counter.graphs == 1, f"{counter.graphs} graphs: the full-size UNet has graph breaks"
        assert rel_err(got, want) < 1e-5 and torch.equal(got, again)
        assert cu.disable(model, release=True) and cu.compiled_unet(model) is None
    finally:
        model.to("meta")  # frees the weights whoever still refers to the model (its manager)
        del model
        torch._dynamo.reset()
        free_memory()


@heavy
def test_sd15_unet_compiles_as_one_graph_equal_to_eager(fullsize, tmp_path):
    check_family(fullsize, "sd15", tmp_path, 768)


@heavy
def test_sdxl_unet_compiles_as_one_graph_equal_to_eager(fullsize, tmp_path):
    check_family(fullsize, "sdxl", tmp_path, 2048)
