"""LoRA on SD3: diffusers' attention names mapped onto the MMDiT's fused qkv rows and output projections (A1111
1.10's ``diffusers_weight_mapping``), kohya CLIP names on the two CLIPs; each merged delta checked exactly."""
from __future__ import annotations

import torch

from modules.models.loader import load_model
from modules.models.patcher import patcher_for
from modules.models.tiny_sd3 import make_tiny_sd3_checkpoint
from modules.networks.lora.layer_index import build_layer_index
from modules.networks.lora.lora_networks import NetworkRequest
from tests.networks.lora_files import write


def test_diffusers_sd3_lora_changes_exactly_its_rows_and_projections(tmp_path, lora_state):
    model = load_model(make_tiny_sd3_checkpoint(tmp_path / "model"))
    networks, folder = lora_state
    width = model.model.diffusion_model.joint_blocks[0].x_block.attn.qkv.weight.shape[1]
    generator = torch.Generator().manual_seed(4)
    rank = 2
    layers = {  # file layer -> (state-dict key of the weight, its rows or None)
        "transformer.transformer_blocks.0.attn.to_k": ("model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight",
                                                       (width, 2 * width)),
        "transformer.transformer_blocks.0.attn.add_v_proj": (
            "model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight", (2 * width, 3 * width)),
        "transformer.transformer_blocks.1.attn.to_out.0": (
            "model.diffusion_model.joint_blocks.1.x_block.attn.proj.weight", None),
        "transformer.transformer_blocks.0.attn.to_add_out": (
            "model.diffusion_model.joint_blocks.0.context_block.attn.proj.weight", None),
        "lora_te1_text_model.encoder.layers.0.mlp.fc1": (
            "text_encoders.clip_l.transformer.text_model.encoder.layers.0.mlp.fc1.weight", None),
        "lora_te2_text_model.encoder.layers.1.self_attn.q_proj": (
            "text_encoders.clip_g.transformer.text_model.encoder.layers.1.self_attn.q_proj.weight", None),
    }
    state = model.state_dict()
    tensors, expected = {}, {}
    for layer, (key, rows) in layers.items():
        out_dim, in_dim = (width, width) if rows else state[key].shape
        down = torch.randn(rank, in_dim, generator=generator)
        up = torch.randn(out_dim, rank, generator=generator)
        if layer.startswith("lora_te"):  # kohya names, underscored
            name = layer.replace(".", "_")
            tensors.update({f"{name}.lora_down.weight": down, f"{name}.lora_up.weight": up})
        else:  # diffusers / PEFT: lora_A is down, lora_B is up; no alpha means alpha = rank
            tensors.update({f"{layer}.lora_A.weight": down, f"{layer}.lora_B.weight": up})
        expected[key] = (rows, 0.5 * up @ down)
    write(str(folder / "sd3.safetensors"), tensors)
    index = build_layer_index(model)
    assert index.get("transformer_transformer_blocks_0_attn_to_k").name == \
        "diffusion_model_joint_blocks_0_x_block_attn_qkv_k_proj"
    before = {k: v.clone() for k, v in state.items()}
    try:
        report = networks.activate(model, [NetworkRequest("sd3", 0.5)])
        assert not report.comments()
        after = model.state_dict()
        changed = {k for k, v in after.items() if not torch.equal(v, before[k])}
        assert changed == set(expected)
        for key, (rows, delta) in expected.items():
            diff = after[key] - before[key]
            if rows is not None:
                untouched = torch.cat([diff[:rows[0]], diff[rows[1]:]])
                assert untouched.abs().max() == 0
                diff = diff[rows[0]:rows[1]]
            torch.testing.assert_close(diff, delta, rtol=1e-4, atol=1e-5)
    finally:
        patcher_for(model).unpatch()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
