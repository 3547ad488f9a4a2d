"""The Flux transformer against diffusers' ``FluxTransformer2DModel`` on the same (tiny, random) weights,
and the full-size dev / schnell key layouts on the meta device."""
from __future__ import annotations

import pytest
import torch

from modules.models.nets.flux import FLUX_SIZES, FluxTransformer, flux_sizes, patchify

TINY = dict(width=32, heads=2, depth=2, depth_single=2, in_channels=64, context_dim=24, vec_dim=20,
            axes_dim=(4, 6, 6))


def _random(model: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2 + (1.0 if p.ndim == 1 and p.shape[0] == 16 else 0.0))


def to_diffusers(sd: dict[str, torch.Tensor], width: int) -> dict[str, torch.Tensor]:
    """Our (released single-file) layout -> diffusers' names, as its single-file converter maps them."""
    out: dict[str, torch.Tensor] = {}

    def swap(t: torch.Tensor) -> torch.Tensor:  # diffusers' final norm takes (scale, shift)
        shift, scale = t.chunk(2, dim=0)
        return torch.cat([scale, shift], dim=0)

    simple = {"img_in": "x_embedder", "txt_in": "context_embedder",
              "time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
              "time_in.out_layer": "time_text_embed.timestep_embedder.linear_2",
              "guidance_in.in_layer": "time_text_embed.guidance_embedder.linear_1",
              "guidance_in.out_layer": "time_text_embed.guidance_embedder.linear_2",
              "vector_in.in_layer": "time_text_embed.text_embedder.linear_1",
              "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
              "final_layer.linear": "proj_out"}
    double = {"img_mod.lin": "norm1.linear", "txt_mod.lin": "norm1_context.linear",
              "img_attn.proj": "attn.to_out.0", "txt_attn.proj": "attn.to_add_out",
              "img_mlp.0": "ff.net.0.proj", "img_mlp.2": "ff.net.2",
              "txt_mlp.0": "ff_context.net.0.proj", "txt_mlp.2": "ff_context.net.2"}
    for key, t in sd.items():
        name, kind = key.rsplit(".", 1)
        if name in simple:
            out[f"{simple[name]}.{kind}"] = t
        elif name == "final_layer.adaLN_modulation.1":
            out[f"norm_out.linear.{kind}"] = swap(t)
        elif key.startswith("double_blocks."):
            _, i, rest = name.split(".", 2)
            p = f"transformer_blocks.{i}."
            if rest in double:
                out[f"{p}{double[rest]}.{kind}"] = t
            elif rest in ("img_attn.qkv", "txt_attn.qkv"):
                names = (("to_q", "to_k", "to_v") if rest.startswith("img")
                         else ("add_q_proj", "add_k_proj", "add_v_proj"))
                for n, part in zip(names, t.chunk(3, dim=0)):
                    out[f"{p}attn.{n}.{kind}"] = part
            else:  # img_attn.norm.query_norm(.scale) ...
                stream, _, norm = rest.split(".")
                q = "q" if norm == "query_norm" else "k"
                out[f"{p}attn.norm_{'added_' if stream == 'txt_attn' else ''}{q}.weight"] = t
        elif key.startswith("single_blocks."):
            _, i, rest = name.split(".", 2)
            p = f"single_transformer_blocks.{i}."
            if rest == "linear1":
                q, k, v, mlp = t.split([width, width, width, t.shape[0] - 3 * width], dim=0)
                for n, part in zip(("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"), (q, k, v, mlp)):
                    out[f"{p}{n}.{kind}"] = part
            elif rest == "linear2":
                out[f"{p}proj_out.{kind}"] = t
            elif rest == "modulation.lin":
                out[f"{p}norm.linear.{kind}"] = t
            else:
                out[f"{p}attn.norm_{'q' if rest == 'norm.query_norm' else 'k'}.weight"] = t
        else:
            raise KeyError(key)
    return out


@pytest.mark.parametrize("guidance", [True, False], ids=["dev", "schnell"])
def test_matches_diffusers_flux_transformer(guidance: bool) -> None:
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(0)
    ours = FluxTransformer(**TINY, guidance=guidance).eval()
    _random(ours)
    ref = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=TINY["depth"],
                                 num_single_layers=TINY["depth_single"], attention_head_dim=16,
                                 num_attention_heads=2, joint_attention_dim=TINY["context_dim"],
                                 pooled_projection_dim=TINY["vec_dim"], guidance_embeds=guidance,
                                 axes_dims_rope=TINY["axes_dim"]).eval()
    missing, unexpected = ref.load_state_dict(to_diffusers(ours.state_dict(), TINY["width"]), strict=True)
    assert not missing and not unexpected

    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 16, 8, 12, generator=g)
    context = torch.randn(2, 5, TINY["context_dim"], generator=g)
    y = torch.randn(2, TINY["vec_dim"], generator=g)
    t = torch.tensor([0.7, 0.25])
    guide = torch.tensor([3.5, 2.0])
    with torch.no_grad():
        out = ours(x, t, context, y, guide)
        img_ids = torch.zeros(4, 6, 3)
        img_ids[..., 1] = torch.arange(4)[:, None]
        img_ids[..., 2] = torch.arange(6)[None, :]
        expected = ref(hidden_states=patchify(x), encoder_hidden_states=context, pooled_projections=y, timestep=t,
                       img_ids=img_ids.reshape(-1, 3), txt_ids=torch.zeros(5, 3),
                       guidance=guide if guidance else None, return_dict=False)[0]
    assert out.shape == x.shape
    torch.testing.assert_close(patchify(out), expected, rtol=1e-4, atol=1e-4)
    # the inputs matter: a different guidance or time changes the output (dev)
    if guidance:
        with torch.no_grad():
            assert not torch.allclose(ours(x, t, context, y, guide + 1), out)


# shapes of the released single-file transformer (flux1-dev.safetensors / flux1-schnell.safetensors)
FULL_SHAPES = {
    "img_in.weight": (3072, 64), "txt_in.weight": (3072, 4096), "time_in.in_layer.weight": (3072, 256),
    "vector_in.in_layer.weight": (3072, 768), "guidance_in.in_layer.weight": (3072, 256),
    "double_blocks.18.img_attn.qkv.weight": (9216, 3072), "double_blocks.0.txt_attn.norm.key_norm.scale": (128,),
    "double_blocks.0.img_mod.lin.weight": (18432, 3072), "double_blocks.0.txt_mlp.0.weight": (12288, 3072),
    "double_blocks.0.txt_mlp.2.weight": (3072, 12288), "single_blocks.37.linear1.weight": (21504, 3072),
    "single_blocks.37.linear2.weight": (3072, 15360), "single_blocks.0.modulation.lin.weight": (9216, 3072),
    "single_blocks.0.norm.query_norm.scale": (128,), "final_layer.linear.weight": (64, 3072),
    "final_layer.adaLN_modulation.1.weight": (6144, 3072),
}


@pytest.mark.parametrize("guidance", [True, False], ids=["dev", "schnell"])
def test_full_size_layout_on_meta(guidance: bool) -> None:
    with torch.device("meta"):
        model = FluxTransformer(**{**FLUX_SIZES, "guidance": guidance})
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for key, shape in FULL_SHAPES.items():
        if key.startswith("guidance_in") and not guidance:
            assert key not in shapes
            continue
        assert shapes[key] == shape, key
    # per stream: mod, qkv, proj and two MLP layers (weight + bias each), two q/k norm scales
    assert len([k for k in shapes if k.startswith("double_blocks.")]) == 19 * 24
    assert len([k for k in shapes if k.startswith("single_blocks.")]) == 38 * 8
    params = sum(v.numel() for v in model.state_dict().values())
    assert 11.8e9 < params < 12.0e9  # "12B"
    prefixed = {f"model.diffusion_model.{k}": v for k, v in shapes.items()}
    assert flux_sizes(prefixed) == {**FLUX_SIZES, "axes_dim": [16, 56, 56], "guidance": guidance}
