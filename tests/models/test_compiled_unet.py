"""Compiled sampling (models/compiled_unet.py): per-instance torch.compile of the UNet, cached per shape.

The numeric checks compile with backend ``aot_eager`` (dynamo + AOTAutograd tracing, run as ATen ops):
inductor on this 2-core machine spends about a minute per tiny UNet in its C++ compiler, so it has one
check of its own, marked ``slow``.  CUDA graphs (mode ``reduce-overhead``) need a GPU: their wiring is
checked through a fake compiler here and measured by ``bench/gpu.sh`` on a CUDA machine.
"""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from modules.models import compiled_unet as cu
from modules.models.config_registry import build_from_config
from modules.models.tiny_factory import tiny_config

AOT = cu.CompileConfig(backend="aot_eager")


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def tiny_model(family: str = "sd1", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_from_config(tiny_config(family), f"tiny {family}").eval()


def inputs(model, side: int = 8, batch: int = 2, seed: int = 1) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    unet = cu.unet_of(model)
    x = torch.randn(batch, unet.in_channels, side, side, generator=gen)
    t = torch.full((batch,), 500.0)
    context = torch.randn(batch, 77, unet.context_dim, generator=gen)
    y = torch.randn(batch, unet.adm_in_channels, generator=gen) if unet.adm_in_channels else None
    return x, t, context, y


class CountingBackend:
    """A dynamo backend that counts compilations and runs the traced graph as is."""

    def __init__(self, fail: bool = False) -> None:
        self.compiles = 0
        self.fail = fail

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list) -> object:
        self.compiles += 1
        if self.fail:
            raise RuntimeError("no C++ compiler\nsecond line of the compiler's output")
        return gm.forward


def counting_compiler(backend: CountingBackend):
    """torch.compile with ``backend`` in place of the config's backend name."""
    return lambda fn, **kwargs: torch.compile(fn, **{**kwargs, "backend": backend})


@pytest.mark.parametrize("family", ["sd1", "sdxl"])
def test_compiled_equals_eager(family):
    model = tiny_model(family)
    x, t, context, y = inputs(model)
    with torch.no_grad():
        want = cu.unet_of(model)(x, t, context=context, y=y)
        wrapper = cu.enable(model, AOT)
        got = cu.unet_of(model)(x, t, context=context, y=y)
    assert wrapper.shapes and wrapper.failure is None
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_inductor_equals_eager():
    model = tiny_model("sd1")
    x, t, context, y = inputs(model)
    with torch.no_grad():
        want = cu.unet_of(model)(x, t, context=context)
        wrapper = cu.enable(model, cu.CompileConfig(backend="inductor"))
        got = cu.unet_of(model)(x, t, context=context)
    assert wrapper.failure is None, wrapper.failure
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_each_shape_compiles_once_then_its_graph_is_reused():
    model = tiny_model()
    backend = CountingBackend()
    wrapper = cu.enable(model, AOT, counting_compiler(backend))
    unet = cu.unet_of(model)
    small, large = inputs(model, side=8), inputs(model, side=16)
    with torch.no_grad():
        for x, t, context, _ in (small, small, large, small, large, small):
            unet(x, t, context=context)
    assert backend.compiles == 2
    assert [key[0][0][0] for key in wrapper.shapes] == [(2, 4, 8, 8), (2, 4, 16, 16)]


def test_new_shapes_past_the_limit_run_eager_with_one_warning(capsys):
    model = tiny_model()
    backend = CountingBackend()
    wrapper = cu.enable(model, cu.CompileConfig(backend="aot_eager", max_shapes=1), counting_compiler(backend))
    unet = cu.unet_of(model)
    with torch.no_grad():
        for side in (8, 16, 24, 8):
            x, t, context, _ = inputs(model, side=side)
            unet(x, t, context=context)
    assert backend.compiles == 1 and len(wrapper.shapes) == 1
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Warning")]
    assert warnings == ["Warning: the compiled UNet has graphs for 1 input shapes; new sizes run uncompiled"]


def test_a_failing_compile_falls_back_to_eager_with_a_one_line_warning(capsys):
    model = tiny_model()
    x, t, context, _ = inputs(model)
    unet = cu.unet_of(model)
    with torch.no_grad():
        want = unet(x, t, context=context)
        backend = CountingBackend(fail=True)
        wrapper = cu.enable(model, AOT, counting_compiler(backend))
        got = unet(x, t, context=context)
        again = unet(*inputs(model, side=16)[:2], context=inputs(model, side=16)[2])
    assert torch.equal(got, want) and again.shape == (2, 4, 16, 16)
    assert backend.compiles == 1, "after a failure the model runs eager without trying again"
    assert "RuntimeError: no C++ compiler" in wrapper.failure
    out = capsys.readouterr().out.splitlines()
    warnings = [line for line in out if line.startswith("Warning")]
    assert len(warnings) == 1 and warnings[0].startswith("Warning: compiling the UNet failed, running it uncompiled")
    assert "second line" not in "\n".join(out)


def test_a_bad_input_raises_its_own_error_and_the_model_stays_compiled():
    model = tiny_model("sdxl")
    x, t, context, _y = inputs(model)
    wrapper = cu.enable(model, AOT)
    with torch.no_grad(), pytest.raises(ValueError, match="y \\(the SDXL vector\\) must be given"):
        cu.unet_of(model)(x, t, context=context)
    assert wrapper.failure is None


def test_applied_per_instance_and_removed_exactly():
    compiled, other = tiny_model(seed=0), tiny_model(seed=0)
    keys = list(cu.unet_of(compiled).state_dict())
    cu.enable(compiled, AOT)
    assert cu.compiled_unet(compiled) is not None and cu.compiled_unet(other) is None
    assert "forward" not in vars(cu.unet_of(other))
    assert list(cu.unet_of(compiled).state_dict()) == keys, "the wrapper is not a submodule"
    assert cu.enable(compiled, AOT) is cu.compiled_unet(compiled), "the same config keeps its graphs"
    assert cu.disable(compiled) and "forward" not in vars(cu.unet_of(compiled))
    assert not cu.disable(compiled)


def test_an_instance_forward_installed_before_is_what_runs_and_comes_back():
    model = tiny_model()
    unet = cu.unet_of(model)
    calls = []

    def other_feature(x, timesteps, context=None, y=None):
        calls.append(x.shape)
        return type(unet).forward(unet, x, timesteps, context, y)

    object.__setattr__(unet, "forward", other_feature)
    cu.enable(model, AOT)
    x, t, context, _ = inputs(model)
    with torch.no_grad():
        unet(x, t, context=context)
    assert calls, "the compiled graph traced the other feature's forward"
    cu.disable(model)
    assert vars(unet)["forward"] is other_feature


@pytest.mark.parametrize("device, moves, backend, mode", [
    ("cuda", False, "inductor", "reduce-overhead"),
    ("cuda:1", False, "inductor", "reduce-overhead"),
    ("cuda", True, "inductor", None),
    ("cpu", False, "inductor", None),
    ("cuda", False, "aot_eager", None),
])
def test_cuda_graphs_only_on_cuda_with_resident_weights(device, moves, backend, mode):
    config = cu.choose_config(device, moves, backend)
    assert (config.mode, config.cuda_graphs, config.backend) == (mode, mode is not None, backend)


def test_memory_flags_mean_moving_weights():
    flags = lambda **kw: types.SimpleNamespace(**{"lowvram": False, "medvram": False, "medvram_sdxl": False, **kw})  # noqa: E731
    sd1, sdxl = types.SimpleNamespace(is_sdxl=False), types.SimpleNamespace(is_sdxl=True)
    assert not cu.weights_move(sd1, flags())
    assert cu.weights_move(sd1, flags(lowvram=True)) and cu.weights_move(sd1, flags(medvram=True))
    assert cu.weights_move(sdxl, flags(medvram_sdxl=True)) and not cu.weights_move(sd1, flags(medvram_sdxl=True))
    assert cu.weights_move(types.SimpleNamespace(is_sdxl=False, lowvram=True), flags())


def test_cuda_graph_mode_starts_a_step_and_copies_the_output_out_of_the_graph_pool(monkeypatch):
    model = tiny_model()
    pool_output = torch.zeros(2, 4, 8, 8)
    seen = {}

    def fake_compiler(fn, **kwargs):
        seen.update(kwargs)
        return lambda *args: pool_output

    steps = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: steps.append(1))
    cu.enable(model, cu.CompileConfig(mode=cu.CUDA_GRAPHS_MODE), fake_compiler)
    x, t, context, _ = inputs(model)
    out1 = cu.unet_of(model)(x, t, context=context)
    out2 = cu.unet_of(model)(x, t, context=context)
    assert seen == {"backend": "inductor", "mode": "reduce-overhead", "dynamic": False}
    assert steps == [1, 1]
    assert out1 is not pool_output and out2 is not pool_output and torch.equal(out1, pool_output)


def test_setting_and_flag_turn_it_on_and_off():
    model = tiny_model()
    opts, flags = types.SimpleNamespace(compile_unet=False), types.SimpleNamespace(compile_unet=False)
    compiler = counting_compiler(CountingBackend())
    cu.apply_compile_setting(model, opts, flags, compiler)
    assert cu.compiled_unet(model) is None
    opts.compile_unet = True
    cu.apply_compile_setting(model, opts, flags, compiler)
    wrapper = cu.compiled_unet(model)
    assert wrapper is not None and wrapper.config == cu.CompileConfig()
    cu.apply_compile_setting(model, opts, flags, compiler)
    assert cu.compiled_unet(model) is wrapper, "nothing changed: the same compiled forward"
    opts.compile_unet = False
    cu.apply_compile_setting(model, opts, flags, compiler)
    assert cu.compiled_unet(model) is None
    flags.compile_unet = True
    cu.apply_compile_setting(model, opts, flags, compiler)
    assert cu.compiled_unet(model) is not None
    cu.apply_compile_setting(None, opts, flags, compiler)  # no model loaded: nothing to do


def test_the_flag_and_the_setting_exist():
    from modules.core.cmd_args import build_parser
    from modules.core.options.catalogue import build_catalogue

    assert build_parser().parse_args([]).compile_unet is False
    assert build_parser().parse_args(["--compile-unet"]).compile_unet is True
    info = build_catalogue()["compile_unet"]
    assert info.default is False and info.section[0] == "optimizations"


def test_txt2img_with_the_setting_on_gives_the_eager_pictures_and_off_removes_it(app, monkeypatch):
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images

    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: real_compile(fn, **{**kw, "backend": "aot_eager"}))
    shared = app()
    args = dict(prompt="a cat", negative_prompt="blurry", steps=3, width=64, height=64, seed=7, sampler_name="Euler")
    eager = process_images(StableDiffusionProcessingTxt2Img(**args))
    assert cu.compiled_unet(shared.sd_model) is None
    shared.opts.compile_unet = True
    compiled = process_images(StableDiffusionProcessingTxt2Img(**args))
    wrapper = cu.compiled_unet(shared.sd_model)
    assert wrapper is not None and wrapper.shapes and wrapper.failure is None
    diff = np.abs(np.asarray(compiled.images[0], dtype=np.int16) - np.asarray(eager.images[0], dtype=np.int16))
    assert diff.max() <= 1, diff.max()
    shared.opts.compile_unet = False
    again = process_images(StableDiffusionProcessingTxt2Img(**args))
    assert cu.compiled_unet(shared.sd_model) is None
    assert np.asarray(again.images[0]).tolist() == np.asarray(eager.images[0]).tolist()
