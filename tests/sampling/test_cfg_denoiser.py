"""The CFG denoiser's batching and combination math, on a fake inner model whose output is a known function of its
inputs: out = x / 2 + (first entry of the row's text cond) + 10 * (mean of the row's image cond)."""
from __future__ import annotations

import types

import pytest
import torch
from torch import nn

from modules.sampling.cfg_denoiser import CFGDenoiser
from modules.sampling.environment import InterruptedException, SamplingEnv
from modules.sampling.sampler_timesteps import CFGDenoiserTimesteps
from tests.sampling.helpers import GaussianLDM, text_cond


class FakeInner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict] = []

    def forward(self, x, sigma, cond):
        text = cond["crossattn"] if "crossattn" in cond else cond["c_crossattn"][0]
        self.calls.append({"rows": x.shape[0], "sigma": sigma.clone(), "tokens": text.shape[1], "cond": cond})
        out = x / 2 + text[:, 0, 0].reshape(-1, 1, 1, 1)
        if "c_concat" in cond:
            out = out + 10 * cond["c_concat"][0].mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1)
        return out


class FakeSDModel:
    cond_stage_key = "crossattn"
    conditioning_key = "crossattn"
    cond_stage_model_empty_prompt = torch.full((1, 77, 8), 0.25)


class Denoiser(CFGDenoiser):
    def __init__(self, env=None, sd_model=None):
        super().__init__(types.SimpleNamespace(sampler_extra_args={}, last_latent=None), sd_model or FakeSDModel(), env)
        self.fake = FakeInner()
        self.total_steps = 10

    def make_inner_model(self):
        return self.fake


def opts(**values):
    base = dict(batch_cond_uncond=True, pad_cond_uncond=False, pad_cond_uncond_v0=False, skip_early_cond=0.0,
                s_min_uncond_all=False, live_preview_content="Prompt")
    base.update(values)
    return types.SimpleNamespace(**base)


X = torch.arange(2 * 1 * 2 * 2, dtype=torch.float32).reshape(2, 1, 2, 2)
SIGMA = torch.tensor([3.0, 3.0])


def expected_single(cond_values, uncond_values, scale):
    c = torch.tensor(cond_values).reshape(-1, 1, 1, 1)
    u = torch.tensor(uncond_values).reshape(-1, 1, 1, 1)
    return X / 2 + u + scale * (c - u)


def test_cond_uncond_combination_in_one_batch():
    d = Denoiser(SamplingEnv(opts=opts()))
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=7.0, s_min_uncond=0.0,
            image_cond=None)
    assert torch.allclose(out, expected_single([2.0, 2.0], [-1.0, -1.0], 7.0))
    assert [c["rows"] for c in d.fake.calls] == [4]
    assert d.step == 1


def test_composable_and_weights():
    # image 0: "a AND b" with weights 0.5 / 1.5; image 1: one prompt
    tensor = torch.cat([text_cond(1, 1.0), text_cond(1, 3.0), text_cond(1, -2.0)])
    conds_list = [[(0, 0.5), (1, 1.5)], [(2, 1.0)]]
    env = SamplingEnv(opts=opts(), reconstruct_multicond_batch=lambda cond, step: cond)
    d = Denoiser(env)
    out = d(X, SIGMA, uncond=text_cond(2, 0.0), cond=(conds_list, tensor), cond_scale=2.0, s_min_uncond=0.0,
            image_cond=None)
    assert d.fake.calls[0]["rows"] == 5
    u = X / 2
    assert torch.allclose(out[0], u[0] + 2.0 * (0.5 * 1.0 + 1.5 * 3.0))
    assert torch.allclose(out[1], u[1] + 2.0 * -2.0)


def test_scheduled_conds_get_the_step():
    steps = []

    def multicond(cond, step):
        steps.append(step)
        return [[(0, 1.0)], [(1, 1.0)]], cond

    d = Denoiser(SamplingEnv(opts=opts(), reconstruct_multicond_batch=multicond))
    for _ in range(3):
        d(X, SIGMA, uncond=text_cond(2, 0.0), cond=text_cond(2, 1.0), cond_scale=1.0, s_min_uncond=0.0, image_cond=None)
    assert steps == [0, 1, 2]


def test_batch_cond_uncond_off_gives_the_same_result_in_slices():
    d = Denoiser(SamplingEnv(opts=opts(batch_cond_uncond=False)))
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=7.0, s_min_uncond=0.0,
            image_cond=None)
    assert torch.allclose(out, expected_single([2.0, 2.0], [-1.0, -1.0], 7.0))
    assert [c["rows"] for c in d.fake.calls] == [2, 2]


def test_different_token_lengths_run_separately_or_padded():
    long_cond = text_cond(2, 2.0, tokens=154)
    d = Denoiser(SamplingEnv(opts=opts()))
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=long_cond, cond_scale=3.0, s_min_uncond=0.0, image_cond=None)
    assert torch.allclose(out, expected_single([2.0, 2.0], [-1.0, -1.0], 3.0))
    assert [(c["rows"], c["tokens"]) for c in d.fake.calls] == [(2, 154), (2, 77)]
    assert not d.padded_cond_uncond

    d = Denoiser(SamplingEnv(opts=opts(pad_cond_uncond=True)))
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=long_cond, cond_scale=3.0, s_min_uncond=0.0, image_cond=None)
    assert torch.allclose(out, expected_single([2.0, 2.0], [-1.0, -1.0], 3.0))
    assert [(c["rows"], c["tokens"]) for c in d.fake.calls] == [(4, 154)]
    padded = d.fake.calls[0]["cond"]["c_crossattn"][0]
    assert torch.all(padded[2:, 77:] == 0.25)  # the uncond got the empty prompt's chunk appended
    assert d.padded_cond_uncond

    d = Denoiser(SamplingEnv(opts=opts(pad_cond_uncond_v0=True)))
    d(X, SIGMA, uncond=text_cond(2, -1.0), cond=long_cond, cond_scale=3.0, s_min_uncond=0.0, image_cond=None)
    assert [(c["rows"], c["tokens"]) for c in d.fake.calls] == [(4, 154)]
    assert d.padded_cond_uncond_v0


def test_image_cond_is_repeated_with_the_cond_copies():
    conds_list = [[(0, 1.0), (1, 1.0)], [(2, 1.0)]]
    tensor = torch.cat([text_cond(1, 0.0)] * 3)
    image_cond = torch.stack([torch.full((5, 1, 1), 1.0), torch.full((5, 1, 1), 2.0)])
    d = Denoiser(SamplingEnv(opts=opts(), reconstruct_multicond_batch=lambda cond, step: cond))
    d(X, SIGMA, uncond=text_cond(2, 0.0), cond=(conds_list, tensor), cond_scale=1.0, s_min_uncond=0.0,
      image_cond=image_cond)
    concat = d.fake.calls[0]["cond"]["c_concat"][0]
    assert concat[:, 0, 0, 0].tolist() == [1.0, 1.0, 2.0, 1.0, 2.0]


def test_sdxl_dict_conds_keep_their_keys():
    def sdxl(rows, value):
        return {"crossattn": text_cond(rows, value), "vector": torch.full((rows, 4), value)}

    d = Denoiser(SamplingEnv(opts=opts()))
    out = d(X, SIGMA, uncond=sdxl(2, -1.0), cond=sdxl(2, 2.0), cond_scale=7.0, s_min_uncond=0.0,
            image_cond=torch.zeros(2, 5, 1, 1))
    cond = d.fake.calls[0]["cond"]
    assert set(cond) == {"crossattn", "vector", "c_concat"}
    assert cond["vector"][:, 0].tolist() == [2.0, 2.0, -1.0, -1.0]
    assert torch.allclose(out, expected_single([2.0, 2.0], [-1.0, -1.0], 7.0))


def test_mask_blend_after_denoising_and_on_mask_blend():
    mask = torch.zeros_like(X)
    mask[:, :, 0] = 1.0  # keep the first row of the original
    init = torch.full_like(X, 100.0)
    seen = []

    class Scripts:
        def on_mask_blend(self, p, mba):
            seen.append((mba.is_final_blend, mba.sigma))
            mba.blended_latent = mba.blended_latent + 1

    d = Denoiser(SamplingEnv(opts=opts()))
    d.mask, d.nmask, d.init_latent = mask, 1 - mask, init
    d.p = types.SimpleNamespace(scripts=Scripts(), extra_generation_params={})
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=7.0, s_min_uncond=0.0,
            image_cond=None)
    combined = expected_single([2.0, 2.0], [-1.0, -1.0], 7.0)
    assert torch.allclose(out, init * mask + combined * (1 - mask) + 1)
    assert seen == [(False, SIGMA)]


def test_timestep_variant_blends_before_the_call():
    mask = torch.zeros_like(X)
    mask[:, :, 0] = 1.0
    init = torch.full_like(X, 100.0)
    sampler = types.SimpleNamespace(sampler_extra_args={}, last_latent=None)
    d = CFGDenoiserTimesteps(sampler, GaussianLDM(), SamplingEnv(opts=opts()))
    fake = FakeInner()
    d.model_wrap = fake
    d.mask, d.nmask, d.init_latent = mask, 1 - mask, init
    out = d(X, torch.tensor([500.0, 500.0]), uncond=text_cond(2, 0.0), cond=text_cond(2, 0.0), cond_scale=1.0,
            s_min_uncond=0.0, image_cond=None)
    blended = X * (1 - mask) + init * mask
    assert torch.allclose(out, blended / 2)
    assert sampler.last_latent.shape == X.shape  # x0 from eps through alphas_cumprod


def test_ngms_skips_uncond_on_odd_steps_below_the_sigma():
    p = types.SimpleNamespace(extra_generation_params={})
    d = Denoiser(SamplingEnv(opts=opts()))
    d.p = p
    kwargs = dict(uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=7.0, s_min_uncond=5.0, image_cond=None)
    first = d(X, SIGMA, **kwargs)  # step 0: even, full CFG
    second = d(X, SIGMA, **kwargs)  # step 1: odd and sigma 3 < 5: no uncond, CFG 1
    assert [c["rows"] for c in d.fake.calls] == [4, 2]
    assert torch.allclose(first, expected_single([2.0, 2.0], [-1.0, -1.0], 7.0))
    assert torch.allclose(second, X / 2 + 2.0)
    assert p.extra_generation_params == {"NGMS": 5.0}

    d = Denoiser(SamplingEnv(opts=opts(s_min_uncond_all=True)))
    d.p = types.SimpleNamespace(extra_generation_params={})
    d(X, SIGMA, **kwargs)
    assert d.fake.calls[0]["rows"] == 2 and d.p.extra_generation_params["NGMS all steps"] is True


def test_skip_early_cfg():
    d = Denoiser(SamplingEnv(opts=opts(skip_early_cond=0.2)))
    d.p = types.SimpleNamespace(extra_generation_params={})
    kwargs = dict(uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=7.0, s_min_uncond=0.0, image_cond=None)
    outs = [d(X, SIGMA, **kwargs) for _ in range(4)]  # total_steps 10: steps 0, 1, 2 are <= 20 %
    assert [c["rows"] for c in d.fake.calls] == [2, 2, 2, 4]
    assert torch.allclose(outs[0], X / 2 + 2.0)
    assert d.p.extra_generation_params["Skip Early CFG"] == 0.2


def test_callbacks_can_change_inputs_and_outputs():
    seen = {}

    def on_denoiser(params):
        seen["step"] = (params.sampling_step, params.total_sampling_steps)
        params.text_cond = params.text_cond + 1.0  # the prompt's cond moves from 2 to 3
        assert params.denoiser is d

    def on_denoised(params):
        seen["rows"] = params.x.shape[0]

    def on_after(params):
        params.x = params.x * 0

    env = SamplingEnv(opts=opts(), cfg_denoiser_callbacks=[on_denoiser], cfg_denoised_callbacks=[on_denoised])
    env.state.sampling_step, env.state.sampling_steps = 4, 20
    d = Denoiser(env)
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=2.0, s_min_uncond=0.0,
            image_cond=None)
    assert torch.allclose(out, expected_single([3.0, 3.0], [-1.0, -1.0], 2.0))
    assert seen == {"step": (4, 20), "rows": 4}
    env.cfg_after_cfg_callbacks.append(on_after)
    assert d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=2.0, s_min_uncond=0.0,
             image_cond=None).abs().sum() == 0


def test_interrupt_and_skip_raise():
    for flag in ("interrupted", "skipped"):
        env = SamplingEnv(opts=opts())
        setattr(env.state, flag, True)
        with pytest.raises(InterruptedException):
            Denoiser(env)(X, SIGMA, uncond=text_cond(2, 0.0), cond=text_cond(2, 0.0), cond_scale=1.0, s_min_uncond=0.0,
                          image_cond=None)


def test_instruct_pix2pix_three_branches():
    class EditModel(FakeSDModel):
        cond_stage_key = "edit"

    d = Denoiser(SamplingEnv(opts=opts()), sd_model=EditModel())
    d.image_cfg_scale = 1.5
    d.init_latent = torch.zeros_like(X)
    image_cond = torch.ones_like(X)  # the encoded input image, shaped like the latent
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=7.0, s_min_uncond=0.0,
            image_cond=image_cond)
    assert d.fake.calls[0]["rows"] == 6
    cond_out, img_out, uncond_out = X / 2 + 2.0 + 10, X / 2 - 1.0 + 10, X / 2 - 1.0
    assert torch.allclose(out, uncond_out + 7.0 * (cond_out - img_out) + 1.5 * (img_out - uncond_out))
    with pytest.raises(ValueError, match="AND is not supported"):
        env = SamplingEnv(opts=opts(), reconstruct_multicond_batch=lambda cond, step: cond)
        e = Denoiser(env, sd_model=EditModel())
        e.image_cfg_scale, e.init_latent = 1.5, torch.zeros_like(X)
        e(X, SIGMA, uncond=text_cond(2, 0.0), cond=([[(0, 1.0), (1, 1.0)], [(2, 1.0)]], text_cond(3, 0.0)),
          cond_scale=1.0, s_min_uncond=0.0, image_cond=image_cond)


@pytest.mark.parametrize("content,expected", [("Prompt", 2.0), ("Negative prompt", -1.0), ("Combined", 23.0)])
def test_live_preview_content(content, expected):
    previews = []
    d = Denoiser(SamplingEnv(opts=opts(live_preview_content=content), store_latent=previews.append))
    d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=8.0, s_min_uncond=0.0, image_cond=None)
    assert torch.allclose(previews[0], X / 2 + expected)
    assert torch.allclose(d.sampler.last_latent, X / 2 + 2.0)  # always the prompt's prediction


def test_cfgpp_scale_multiplier_and_last_uncond():
    d = Denoiser(SamplingEnv(opts=opts()))
    d.cond_scale_miltiplier = 1 / 12.5
    d.need_last_noise_uncond = True
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=12.5, s_min_uncond=0.0,
            image_cond=None)
    assert torch.allclose(out, expected_single([2.0, 2.0], [-1.0, -1.0], 1.0))
    assert torch.allclose(d.last_noise_uncond, X / 2 - 1.0)


def test_refiner_switch_replaces_conds():
    def switch(denoiser, sigma):
        denoiser.sampler.sampler_extra_args.update(cond=text_cond(2, 5.0), uncond=text_cond(2, 1.0))
        return True

    d = Denoiser(SamplingEnv(opts=opts(), refiner_switch=switch))
    out = d(X, SIGMA, uncond=text_cond(2, -1.0), cond=text_cond(2, 2.0), cond_scale=2.0, s_min_uncond=0.0,
            image_cond=None)
    assert torch.allclose(out, expected_single([5.0, 5.0], [1.0, 1.0], 2.0))


def test_prompting_layer_schedules_and_and_weights():
    prompt_parser = pytest.importorskip("modules.prompt_parser")
    from modules.sampling.environment import scheduled_conds

    values = {"cat": 1.0, "dog": 2.0, "bird": 3.0, "": 0.0}

    def encode(texts):
        return torch.cat([text_cond(1, values[t.strip()]) for t in texts])

    cond = prompt_parser.get_multicond_learned_conditioning(encode, ["[cat:dog:2] AND bird :0.5", "cat"], 4)
    uncond = prompt_parser.get_learned_conditioning(encode, ["", ""], 4)
    multicond, single = scheduled_conds(prompt_parser.reconstruct_multicond_batch, prompt_parser.reconstruct_cond_batch)
    d = Denoiser(SamplingEnv(opts=opts(), reconstruct_multicond_batch=multicond, reconstruct_cond_batch=single))
    outs = [d(X, SIGMA, uncond=uncond, cond=cond, cond_scale=2.0, s_min_uncond=0.0, image_cond=None) for _ in range(4)]
    assert torch.allclose(outs[0][0], X[0] / 2 + 2.0 * (1.0 + 0.5 * 3.0))  # "cat" until step 2, then "dog"
    assert torch.allclose(outs[3][0], X[0] / 2 + 2.0 * (2.0 + 0.5 * 3.0))
    assert torch.allclose(outs[3][1], X[1] / 2 + 2.0 * 1.0)
