"""Token merging: the merge checked against tomesd 0.1.3 (the package A1111 uses), the UNet hooks against
tomesd patched onto the same model, and the hooks' removal exact."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from modules.models.nets import transformer as transformer_net
from modules.models.nets.unet import UNetModel
from modules.models.token_merging import (TokenMergingOptions, applied, apply_token_merging, bipartite_soft_matching_2d,
                                          block_grid, remove_token_merging, token_merging)

tomesd = pytest.importorskip("tomesd")
from tomesd.merge import bipartite_soft_matching_random2d  # noqa: E402


@pytest.mark.parametrize("w, h", [(64, 64), (32, 48), (7, 5), (9, 9)])
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.9])
def test_merge_equals_tomesd(w: int, h: int, ratio: float) -> None:
    torch.manual_seed(w * h)
    metric = torch.randn(2, w * h, 40)
    x = torch.randn(2, w * h, 24)
    r = int(metric.shape[1] * ratio)
    theirs_merge, theirs_unmerge = bipartite_soft_matching_random2d(metric, w, h, 2, 2, r, no_rand=True)
    ours_merge, ours_unmerge = bipartite_soft_matching_2d(metric, w, h, 2, 2, r)
    merged = ours_merge(x)
    assert torch.equal(merged, theirs_merge(x))
    assert merged.shape[1] == w * h - min(r, w * h - (w // 2) * (h // 2))
    assert torch.equal(ours_unmerge(merged), theirs_unmerge(merged))


def test_random_destinations_equal_tomesd_with_the_same_generator_state() -> None:
    torch.manual_seed(1)
    metric, x = torch.randn(2, 16 * 12, 8), torch.randn(2, 16 * 12, 8)
    theirs = bipartite_soft_matching_random2d(metric, 16, 12, 2, 2, 80, no_rand=False,
                                              generator=torch.Generator().manual_seed(7))
    ours = bipartite_soft_matching_2d(metric, 16, 12, 2, 2, 80, generator=torch.Generator().manual_seed(7))
    fixed = bipartite_soft_matching_2d(metric, 16, 12, 2, 2, 80)
    assert torch.equal(ours[0](x), theirs[0](x))
    assert torch.equal(ours[1](ours[0](x)), theirs[1](theirs[0](x)))
    assert not torch.equal(ours[0](x), fixed[0](x))


def test_merge_is_a_weighted_mean_and_unmerge_copies_back() -> None:
    # a 2x2 grid is one cell: token 0 is the destination, r=1 moves the most similar source into it
    metric = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [-1.0, 0.0]]])
    merge, unmerge = bipartite_soft_matching_2d(metric, 2, 2, 2, 2, 1)
    merged = merge(metric)
    assert merged.shape == (1, 3, 2)
    assert torch.allclose(merged[0, -1], (metric[0, 0] + metric[0, 2]) / 2)
    back = unmerge(merged)
    assert torch.equal(back[0, 2], back[0, 0]) and torch.equal(back[0, 1], metric[0, 1])


def test_nothing_merges_on_a_grid_smaller_than_one_cell_or_with_r_zero() -> None:
    x = torch.randn(1, 3, 4)
    for args in ((3, 1, 2, 2, 1), (2, 2, 2, 2, 0)):
        merge, unmerge = bipartite_soft_matching_2d(x if args[1] == 1 else torch.randn(1, 4, 4), *args)
        assert merge(x) is x and unmerge(x) is x


def test_block_grid_follows_the_unets_downsampling() -> None:
    assert block_grid(64, 64, 4096) == (1, 64, 64)
    assert block_grid(64, 96, 32 * 48) == (2, 32, 48)
    assert block_grid(9, 9, 25) == (2, 5, 5)
    assert block_grid(9, 9, 9) == (4, 3, 3)
    assert block_grid(1, 3, 2) == (2, 1, 2)  # tomesd's estimate calls this full resolution and fails
    assert block_grid(8, 8, 7) is None


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "0.5", True, float("nan")])
def test_bad_ratio_is_a_clear_error(bad: object) -> None:
    with pytest.raises(ValueError, match="token merging ratio"):
        TokenMergingOptions(ratio=bad)  # type: ignore[arg-type]


def test_bad_max_downsample_and_strides_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="max_downsample"):
        TokenMergingOptions(ratio=0.5, max_downsample=3)
    with pytest.raises(ValueError, match="strides"):
        TokenMergingOptions(ratio=0.5, sx=0)


# --- the UNet, against tomesd patched onto the same instance ---------------------------------------------


class BasicTransformerBlock(transformer_net.BasicTransformerBlock):
    """LDM's block shape for tomesd (test only): it finds blocks by this class name and replaces ``_forward``."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self._forward(x, context)

    def _forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attn1(self.norm1(x), context=None) + x
        x = self.attn2(self.norm2(x), context=context) + x
        return self.ff(self.norm3(x)) + x


class _LdmHolder(nn.Module):
    """``model.diffusion_model``, the attribute path ``tomesd.apply_patch`` expects."""

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.model = nn.Module()
        self.model.diffusion_model = unet


def tiny_unet(attention_resolutions: tuple[int, ...] = (1, 2), adm: int | None = None) -> UNetModel:
    torch.manual_seed(0)
    unet = UNetModel(in_channels=4, out_channels=4, model_channels=32, num_res_blocks=1,
                     attention_resolutions=attention_resolutions, channel_mult=(1, 2), num_heads=4,
                     context_dim=16, adm_in_channels=adm, transformer_depth=2)
    # random (not zero) output projections, so every block changes the result
    for p in unet.parameters():
        if p.ndim > 1:
            torch.nn.init.normal_(p, std=0.05)
    return unet.eval()


def unet_inputs(side: int = 16, batch: int = 2) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(3)
    return torch.randn(batch, 4, side, side + 8), torch.tensor([500.0] * batch), torch.randn(batch, 7, 16)


@pytest.mark.parametrize("options", [
    dict(ratio=0.5),
    dict(ratio=0.3, max_downsample=2),
    dict(ratio=0.6, merge_crossattn=True, merge_mlp=True),
    dict(ratio=0.5, sx=4, sy=2),
], ids=["a1111", "downsample2", "everything", "strides"])
def test_tiny_unet_equals_tomesd_patched_onto_the_same_model(options: dict) -> None:
    unet = tiny_unet()
    x, t, context = unet_inputs()
    with torch.no_grad():
        plain = unet(x, t, context)
        apply_token_merging(unet, TokenMergingOptions(**options))
        ours = unet(x, t, context)
        remove_token_merging(unet)

        for module in unet.modules():
            if type(module) is transformer_net.BasicTransformerBlock:
                module.__class__ = BasicTransformerBlock
        holder = _LdmHolder(unet)
        tomesd.apply_patch(holder, use_rand=False, **options)
        theirs = unet(x, t, context)
        tomesd.remove_patch(holder)

    assert torch.equal(ours, theirs)
    assert not torch.allclose(ours, plain, atol=1e-4)


def test_hooks_come_off_exactly() -> None:
    unet = tiny_unet()
    x, t, context = unet_inputs()
    with torch.no_grad():
        before = unet(x, t, context)
        weights = {k: v.clone() for k, v in unet.state_dict().items()}
        state = apply_token_merging(unet, 0.5)
        assert state is not None and applied(unet) is state
        unet(x, t, context)
        remove_token_merging(unet)
        after = unet(x, t, context)
    assert torch.equal(before, after)
    assert applied(unet) is None and "_token_merging" not in unet.__dict__
    for module in unet.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks and type(module).__module__ != __name__
    assert all(torch.equal(weights[k], v) for k, v in unet.state_dict().items())
    assert set(weights) == set(unet.state_dict())


def test_applied_through_the_sd_model_and_replaced_not_stacked() -> None:
    unet = tiny_unet()
    model = _LdmHolder(unet)
    x, t, context = unet_inputs()
    with torch.no_grad():
        apply_token_merging(model, 0.3)
        apply_token_merging(model, 0.5)
        twice = unet(x, t, context)
        remove_token_merging(model)
        apply_token_merging(unet, 0.5)
        once = unet(x, t, context)
        remove_token_merging(unet)
    assert torch.equal(twice, once)


def test_context_manager_restores_what_was_on_before() -> None:
    unet = tiny_unet()
    assert apply_token_merging(unet, 0.0) is None and applied(unet) is None
    with token_merging(unet, 0.5) as outer:
        assert applied(unet).options.ratio == 0.5 and outer is applied(unet)
        with token_merging(unet, 0.3):
            assert applied(unet).options.ratio == 0.3
        assert applied(unet).options.ratio == 0.5
        with token_merging(unet, 0.0):
            assert applied(unet) is None
        assert applied(unet).options.ratio == 0.5
    assert applied(unet) is None
    with pytest.raises(RuntimeError), token_merging(unet, 0.5):
        raise RuntimeError("a failed sampling")
    assert applied(unet) is None


def test_models_without_transformer_blocks_are_left_alone() -> None:
    assert apply_token_merging(object(), 0.5) is None
    conv = nn.Conv2d(4, 4, 1)
    with token_merging(conv, 0.5) as state:
        assert state is None
    assert not conv._forward_pre_hooks


def test_sdxl_layout_has_no_full_resolution_block_so_a1111_defaults_change_nothing() -> None:
    # SDXL's first level has no transformer: with A1111's max_downsample 1 (tomesd's too) nothing merges
    unet = tiny_unet(attention_resolutions=(2,), adm=8)
    x, t, context = unet_inputs()
    y = torch.randn(2, 8)
    with torch.no_grad():
        plain = unet(x, t, context, y)
        with token_merging(unet, 0.5):
            merged_default = unet(x, t, context, y)
        with token_merging(unet, 0.5, max_downsample=2):
            merged_deeper = unet(x, t, context, y)
    assert torch.equal(plain, merged_default)
    assert not torch.allclose(plain, merged_deeper, atol=1e-4)


def test_odd_batch_turns_random_destinations_off_as_tomesd_does() -> None:
    unet = tiny_unet()
    x, t, context = unet_inputs(batch=1)
    with torch.no_grad():
        with token_merging(unet, 0.5):
            fixed = unet(x, t, context)
        with token_merging(unet, 0.5, use_rand=True, seed=1):
            odd = unet(x, t, context)
        x2, t2, c2 = unet_inputs(batch=2)
        with token_merging(unet, 0.5, use_rand=True, seed=1):
            first = unet(x2, t2, c2)
        with token_merging(unet, 0.5, use_rand=True, seed=1):
            again = unet(x2, t2, c2)
        with token_merging(unet, 0.5):
            fixed2 = unet(x2, t2, c2)
    assert torch.equal(fixed, odd)
    assert torch.equal(first, again) and not torch.equal(first, fixed2)


def test_latent_size_taken_from_a_keyword_input() -> None:
    unet = tiny_unet()
    x, t, context = unet_inputs()
    with torch.no_grad(), token_merging(unet, 0.5):
        assert torch.equal(unet(x=x, timesteps=t, context=context), unet(x, t, context))


# --- in a generation: the first pass, the hires pass, img2img ------------------------------------------------


def _record_ratios(shared) -> list[float]:
    """The ratio on the UNet at each of its calls (0 when none is on)."""
    unet = shared.sd_model.model.diffusion_model
    seen: list[float] = []

    def record(_module, _args):
        state = applied(unet)
        seen.append(0.0 if state is None else state.options.ratio)

    # registered before any token merging, so this pre-hook runs before the latent-size hook: it only reads
    unet.register_forward_pre_hook(record)
    return seen


def test_txt2img_merges_at_the_ratio_of_each_pass_and_writes_the_infotext(app):
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images

    shared = app()
    seen = _record_ratios(shared)
    args = dict(prompt="a cat", steps=2, width=64, height=64, seed=7, sampler_name="Euler")
    plain = process_images(StableDiffusionProcessingTxt2Img(**args))
    assert set(seen) == {0.0} and "Token merging" not in plain.infotexts[0]
    seen.clear()
    merged = process_images(StableDiffusionProcessingTxt2Img(token_merging_ratio=0.5, **args))
    assert set(seen) == {0.5} and applied(shared.sd_model) is None
    assert "Token merging ratio: 0.5" in merged.infotexts[0] and "Token merging ratio hr" not in merged.infotexts[0]
    assert np.asarray(merged.images[0]).tolist() != np.asarray(plain.images[0]).tolist()

    seen.clear()
    hires = process_images(StableDiffusionProcessingTxt2Img(
        token_merging_ratio=0.5, token_merging_ratio_hr=0.3, enable_hr=True, hr_scale=2, denoising_strength=0.5,
        hr_second_pass_steps=2, **args))
    # CFG runs cond and uncond in one UNet call: steps calls per pass
    assert seen == [0.5, 0.5, 0.3, 0.3] and applied(shared.sd_model) is None
    assert "Token merging ratio: 0.5, Token merging ratio hr: 0.3" in hires.infotexts[0]


def test_txt2img_ratio_from_the_settings_and_the_hires_ratio_defaulting_to_it(app):
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images

    shared = app()
    seen = _record_ratios(shared)
    res = process_images(StableDiffusionProcessingTxt2Img(
        prompt="a cat", steps=2, width=64, height=64, seed=7, sampler_name="Euler", enable_hr=True, hr_scale=2,
        denoising_strength=0.5, hr_second_pass_steps=1, override_settings={"token_merging_ratio": 0.4}))
    assert seen == [0.4, 0.4, 0.4]
    assert "Token merging ratio: 0.4, Token merging ratio hr: 0.4" in res.infotexts[0]


def test_img2img_uses_its_own_ratio_setting(app):
    from PIL import Image

    from modules.processing import StableDiffusionProcessingImg2Img, process_images

    shared = app()
    seen = _record_ratios(shared)
    shared.opts.token_merging_ratio = 0.2
    shared.opts.token_merging_ratio_img2img = 0.6
    res = process_images(StableDiffusionProcessingImg2Img(
        init_images=[Image.new("RGB", (64, 64), (120, 80, 40))], prompt="a cat", steps=4, width=64, height=64, seed=3,
        sampler_name="Euler", denoising_strength=0.5))
    assert seen and set(seen) == {0.6} and applied(shared.sd_model) is None
    assert "Token merging ratio: 0.6" in res.infotexts[0]
