"""The built-in Hypertile extension: exact tiling, A1111's tile-size rule, per-job hooks that leave the model
bitwise untouched, the depth limit, infotext (written and pasted back) and its listing in the API."""
from __future__ import annotations

import importlib.util
import os
import random
import sys

import numpy as np
import pytest
import torch

from tests.api.conftest import decode, reference, tiny  # noqa: F401  (tiny: a module-wide API app)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def ht():
    """The extension's ``hypertile.py``, imported on its own (pure functions: no app needed)."""
    path = os.path.join(ROOT, "extensions-builtin", "hypertile", "hypertile.py")
    spec = importlib.util.spec_from_file_location("hypertile_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("b,h,w,c,nh,nw", [(1, 8, 8, 3, 2, 2), (2, 32, 8, 5, 4, 1), (3, 6, 9, 4, 3, 3),
                                           (1, 16, 16, 7, 1, 4), (2, 12, 20, 2, 6, 5)])
def test_tiling_tokens_then_merging_is_the_identity_bit_for_bit(ht, b, h, w, c, nh, nw):
    x = torch.randn(b, h * w, c, dtype=torch.float64)
    tiles = ht.split_tokens(x, h, w, nh, nw)
    assert tiles.shape == (b * nh * nw, (h // nh) * (w // nw), c)
    assert torch.equal(ht.merge_tokens(tiles, h, w, nh, nw), x)
    # each tile holds one spatial block of the grid, tiles in row-major order after their picture
    grid = x.reshape(b, h, w, c)
    th, tw = h // nh, w // nw
    for tile in (0, nh * nw - 1):
        i, j = divmod(tile, nw)
        block = grid[0, i * th:(i + 1) * th, j * tw:(j + 1) * tw].reshape(th * tw, c)
        assert torch.equal(tiles[tile], block)


@pytest.mark.parametrize("shape,nh,nw", [((1, 3, 8, 8), 2, 2), ((2, 4, 32, 8), 2, 1), ((1, 2, 9, 15), 3, 5)])
def test_tiling_feature_maps_then_merging_is_the_identity_bit_for_bit(ht, shape, nh, nw):
    x = torch.randn(*shape)
    tiles = ht.split_image(x, nh, nw)
    b, c, h, w = shape
    assert tiles.shape == (b * nh * nw, c, h // nh, w // nw)
    assert torch.equal(tiles[1 if nw > 1 else 0], x[0, :, :h // nh, (w // nw if nw > 1 else 0):][..., :w // nw])
    assert torch.equal(ht.merge_image(tiles, nh, nw), x)


def test_a1111s_tile_size_rules(ht):
    assert ht.largest_tile_size_available(512, 512) == 512
    assert ht.largest_tile_size_available(512, 768) == 256
    assert ht.largest_tile_size_available(520, 512) == 8
    # the tile side is the smallest divisor >= the wanted size; the count is what divides the side
    assert ht.random_divisor(64, 16, 1, random.Random(0)) == 4
    assert ht.random_divisor(32, 16, 1, random.Random(0)) == 2
    assert ht.random_divisor(8, 16, 1, random.Random(0)) == 1  # a side smaller than a tile is one tile
    assert ht.random_divisor(64, 24, 1, random.Random(0)) == 2  # 32 is the first divisor >= 24
    # more options: one of the counts of the smallest divisors, drawn by the generator (same seed, same draw)
    draws = {ht.random_divisor(64, 16, 3, random.Random(s)) for s in range(40)}
    assert draws == {4, 2, 1}
    assert [ht.random_divisor(64, 16, 3, random.Random(7)) for _ in range(3)] == \
           [ht.random_divisor(64, 16, 3, random.Random(7)) for _ in range(3)]
    assert ht.random_divisor(64, 16, 0, random.Random(0)) == 4  # A1111 crashes on swap size 0
    # the token grid: A1111's h is sqrt(hw * width / height)
    assert ht.find_hw_candidates(4096, 1.0) == (64, 64)
    assert ht.find_hw_candidates(256, 4.0) == (32, 8)
    assert ht.find_hw_candidates(96, 1.5) == (12, 8)
    h, w = ht.find_hw_candidates(90, 1.3)
    assert h * w == 90


def test_depth_tables_name_ldm_layers(ht):
    assert ht.DEPTH_LAYERS[0][0] == "input_blocks.1.1.transformer_blocks.0.attn1"
    assert ht.DEPTH_LAYERS[3] == ("middle_block.1.transformer_blocks.0.attn1",)
    assert "decoder.mid.attn_1" in ht.DEPTH_LAYERS[0] and "decoder.mid.attn_1" in ht.DEPTH_LAYERS_XL[0]
    assert len(ht.DEPTH_LAYERS_XL[1]) == 55 and len(ht.DEPTH_LAYERS_XL[2]) == 10 and ht.DEPTH_LAYERS_XL[3] == ()


# --- on the tiny SD1 model -----------------------------------------------------------------------------------

def _all_hooks(module: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def _unet_probe(model) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 32, 8, generator=g)
    context = torch.randn(2, 77, model.model.diffusion_model.context_dim, generator=g)
    with torch.no_grad():
        return model.model.diffusion_model(x, torch.tensor([500.0, 20.0]), context=context)


def test_depth_limit_and_hooks_removed_exactly(tiny):
    _client, shared, _ = tiny
    hypertile = sys.modules["hypertile"]  # the module the loaded script uses
    model = shared.sd_model
    before = _unet_probe(model)
    hooks_before = _all_hooks(model)
    # the tiny UNet has attention at input_blocks.1/3, the middle block and output_blocks.0-3: A1111's table
    # finds input_blocks.1.1 (depth 0), output_blocks.3.1 (depth 2) and middle_block.1 (depth 3)
    counts = []
    for depth in range(4):
        counts.append(hypertile.hypertile_hook_model(model.model, 256, 64, enable=True, max_depth=depth,
                                                     tile_size_max=0, swap_size=1, rng=random.Random(0)))
        layers = hypertile.hooked_layers(model.model)
        assert all(p.depth <= depth for p in layers.values())
        assert _all_hooks(model) == hooks_before + 2 * len(layers)
    assert counts == [1, 1, 2, 3]
    assert sorted(p.depth for p in hypertile.hooked_layers(model.model).values()) == [0, 2, 3]
    tiled = _unet_probe(model)
    assert not torch.equal(tiled, before)  # 32x8 latent, tiles of 16: input_blocks.1.1 works on two bands
    assert hypertile.hypertile_hook_model(model.model, 256, 64, enable=False) == 0
    assert _all_hooks(model) == hooks_before and hypertile.hooked_layers(model.model) == {}
    assert torch.equal(_unet_probe(model), before)
    assert hypertile.hypertile_hook_model(model.first_stage_model, 256, 64, enable=True, max_depth=0,
                                          rng=random.Random(0)) == 1
    assert list(hypertile.hooked_layers(model.first_stage_model)) == ["decoder.mid.attn_1"]
    hypertile.hypertile_unhook_model(model.first_stage_model)
    assert _all_hooks(model) == hooks_before


WIDE = {"prompt": "a cat", "steps": 1, "width": 256, "height": 64, "sampler_name": "Euler", "seed": 5}
"""256x64: a 32x8 latent, the smallest picture whose first attention layer Hypertile splits (tiles >= 16)."""


def _generate(client, **extra) -> tuple[np.ndarray, str]:
    r = client.post("/sdapi/v1/txt2img", json={**WIDE, **extra})
    assert r.status_code == 200, r.text
    body = r.json()
    import json

    return np.asarray(decode(body["images"][0])), json.loads(body["info"])["infotexts"][0]


def test_generation_changes_and_the_model_is_restored_afterwards(tiny):
    client, shared, _ = tiny
    hypertile = sys.modules["hypertile"]
    model = shared.sd_model
    before = _unet_probe(model)
    hooks_before = _all_hooks(model)
    seen = []

    def record(module, args):
        seen.append(sorted(hypertile.hooked_layers(model.model)))

    handle = model.model.diffusion_model.register_forward_pre_hook(record)
    try:
        plain, plain_info = _generate(client)
        on, info = _generate(client, override_settings={"hypertile_enable_unet": True, "hypertile_max_depth_unet": 0,
                                                        "hypertile_swap_size_unet": 1})
    finally:
        handle.remove()
    assert seen[0] == [] and seen[-1] == ["diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1"]
    assert "Hypertile" not in plain_info
    assert "Hypertile U-Net: True, Hypertile U-Net max depth: 0, Hypertile U-Net swap size: 1" in info
    assert "max tile size" not in info  # settings at their defaults are left out, as A1111
    assert (on != plain).any(axis=-1).mean() > 0.05  # the random tiny UNet changes little, but visibly
    # nothing left behind: no hooks, bitwise the same UNet output, the same picture without Hypertile
    assert _all_hooks(model) == hooks_before and hypertile.hooked_layers(model.model) == {}
    assert torch.equal(_unet_probe(model), before)
    again, _ = _generate(client)
    assert np.array_equal(again, plain)

    # pasting the infotext brings the settings back (as override settings) and the same picture
    r = client.post("/sdapi/v1/txt2img", json={"infotext": info, "steps": 1, "width": 256, "height": 64})
    assert r.status_code == 200, r.text
    import json

    body = r.json()
    assert json.loads(body["info"])["infotexts"][0] == info
    assert np.array_equal(np.asarray(decode(body["images"][0])), on)


def test_vae_tiling_and_infotext(tiny):
    client, shared, _ = tiny
    plain, _ = _generate(client)
    on, info = _generate(client, override_settings={"hypertile_enable_vae": True, "hypertile_swap_size_vae": 1,
                                                    "hypertile_max_tile_vae": 128})
    assert "Hypertile VAE: True, Hypertile VAE swap size: 1" in info and "Hypertile U-Net" not in info
    assert not np.array_equal(on, plain)
    assert sys.modules["hypertile"].hooked_layers(shared.sd_model.first_stage_model) == {}


def test_settings_have_a1111s_infotext_labels(tiny):
    _client, shared, _ = tiny
    labels = shared.opts.data_labels
    assert labels["hypertile_enable_unet"].infotext == "Hypertile U-Net"
    assert labels["hypertile_enable_unet_secondpass"].infotext == "Hypertile U-Net second pass"
    assert labels["hypertile_max_tile_unet"].label == "Hypertile U-Net max tile size"
    assert labels["hypertile_swap_size_vae"].infotext == "Hypertile VAE swap size"
    from modules import infotext_utils

    params = infotext_utils.parse_generation_parameters(
        "a\nSteps: 2, Hypertile U-Net: True, Hypertile U-Net max depth: 1, Hypertile VAE swap size: 5")
    overrides = {key: value for _label, key, value in infotext_utils.get_override_settings(params)}
    assert overrides == {"hypertile_enable_unet": True, "hypertile_max_depth_unet": 1, "hypertile_swap_size_vae": 5}


def test_listed_by_the_api_as_a1111(tiny):
    client, _shared, _ = tiny
    listed = client.get("/sdapi/v1/scripts").json()
    expected = reference("scripts")["body"]
    for tab in ("txt2img", "img2img"):
        assert "Hypertile" in expected[tab] and "Hypertile" in listed[tab]
    # no controls of its own: A1111's script-info leaves it out
    names = [s["name"] for s in reference("script-info")["body"]]
    assert "hypertile" not in names and "Hypertile" not in names
    assert not any(s["name"].lower() == "hypertile" for s in client.get("/sdapi/v1/script-info").json())
    # it can still be named in alwayson_scripts (no arguments)
    r = client.post("/sdapi/v1/txt2img", json={"prompt": "a", "steps": 1, "width": 64, "height": 64,
                                               "alwayson_scripts": {"Hypertile": {"args": []}}})
    assert r.status_code == 200, r.text


def test_xyz_axes_added(tiny):
    from modules.builtin_scripts import xyz_axes

    labels = [o.label for o in xyz_axes.axis_options]
    assert "[Hypertile] Unet First pass Enabled" in labels and "[Hypertile] VAE Swap Size" in labels
    assert labels.count("[Hypertile] Unet Max Depth") == 1
    axis = next(o for o in xyz_axes.axis_options if o.label == "[Hypertile] Unet Max Depth")

    class P:
        override_settings: dict = {}

    p = P()
    p.override_settings = {}
    axis.apply(p, 2, [2])
    assert p.override_settings == {"hypertile_max_depth_unet": 2}
    from modules.processing.processing_base import GenerationError

    with pytest.raises(GenerationError):
        axis.apply(p, 7, [7])


def test_hires_fix_second_pass_only(tiny):
    client, shared, _ = tiny
    hypertile = sys.modules["hypertile"]
    model = shared.sd_model
    seen = []

    def record(module, args):
        seen.append((tuple(args[0].shape[-2:]), len(hypertile.hooked_layers(model.model))))

    handle = model.model.diffusion_model.register_forward_pre_hook(record)
    try:
        r = client.post("/sdapi/v1/txt2img", json={
            **WIDE, "width": 128, "height": 32, "enable_hr": True, "hr_scale": 2, "hr_second_pass_steps": 1,
            "denoising_strength": 0.5, "hr_upscaler": "Latent",
            "override_settings": {"hypertile_enable_unet_secondpass": True, "hypertile_swap_size_unet": 1}})
    finally:
        handle.remove()
    assert r.status_code == 200, r.text
    import json

    info = json.loads(r.json()["info"])["infotexts"][0]
    assert "Hypertile U-Net second pass: True" in info and "Hypertile U-Net swap size: 1" in info
    assert "Hypertile U-Net: True" not in info
    first = {count for shape, count in seen if shape == (4, 16)}
    second = {count for shape, count in seen if shape == (8, 32)}
    assert first == {0} and second == {3}  # the first pass untouched, the second tiled (default depth 3)
    assert hypertile.hooked_layers(model.model) == {}
