"""LoRA files merged into tiny SD1 / SD2 / SDXL models: the exact change of each targeted weight,
key schemes (kohya, LDM names, diffusers/PEFT), packed OpenCLIP q/k/v slices, bit-exact restore."""
from __future__ import annotations

import torch

from modules.models.patcher import patcher_for
from modules.networks.lora.layer_index import build_layer_index
from modules.networks.lora.lora_networks import NetworkRequest
from tests.networks.lora_files import kohya_names, lora_for_layers, lora_tensors, write


def state_of(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def changed_keys(model, before) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


def expected_delta(tensors: dict, name: str, multiplier: float, shape) -> torch.Tensor:
    up, down = tensors[f"{name}.lora_up.weight"], tensors[f"{name}.lora_down.weight"]
    alpha = float(tensors[f"{name}.alpha"])
    rank = down.shape[0]
    return (multiplier * (alpha / rank) * (up.flatten(1) @ down.flatten(1))).reshape(shape)


def test_kohya_lora_changes_every_target_by_exactly_multiplier_alpha_over_rank_up_down(tiny_model, lora_state):
    model = tiny_model("sd1")
    networks, folder = lora_state
    index = build_layer_index(model)
    # every linear and conv layer of the UNet and the text encoder, by its kohya (diffusers-style) name
    names = kohya_names(index)
    assert any("_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q" in n for n in names)
    assert any("resnets_0_conv1" in n for n in names) and any("lora_te_text_model" in n for n in names)
    tensors = lora_for_layers(index, names, rank=4, alpha=2.0)
    write(str(folder / "all.safetensors"), tensors)
    before = state_of(model)
    report = networks.activate(model, [NetworkRequest("all", 0.75)])
    assert not report.comments()
    touched = set()
    after = model.state_dict()
    for name in names:
        target = index.get(name)
        key = f"{target.module_path}.{target.weight_attr}"
        touched.add(key)
        delta = expected_delta(tensors, name, 0.75, target.shape)
        torch.testing.assert_close(after[key] - before[key], delta, rtol=1e-4, atol=1e-6)
    # nothing else changed (biases, norms, the VAE)
    assert changed_keys(model, before) == touched


def test_exact_for_representable_numbers(tiny_model, lora_state):
    model = tiny_model("sd1")
    networks, folder = lora_state
    target_name = "lora_unet_mid_block_attentions_0_proj_out"
    index = build_layer_index(model)
    target = index.get(target_name)
    out, inp = target.shape[:2]
    up = torch.randint(-3, 4, (out, 2, 1, 1)).float()
    down = torch.randint(-3, 4, (2, inp, 1, 1)).float()
    write(str(folder / "exact.safetensors"), {f"{target_name}.lora_up.weight": up, f"{target_name}.lora_down.weight": down,
                                              f"{target_name}.alpha": torch.tensor(8.0)})
    weight = target.module.weight
    with torch.no_grad():
        weight.copy_(torch.randint(-50, 50, weight.shape).float())
    before = weight.clone()
    networks.activate(model, [NetworkRequest("exact", 0.5)])
    assert torch.equal(target.module.weight, before + 0.5 * 4.0 * (up.flatten(1) @ down.flatten(1)).reshape(before.shape))
    networks.activate(model, [])
    assert torch.equal(target.module.weight, before)


def test_restore_is_bit_exact_and_same_set_is_not_merged_again(tiny_model, lora_state, monkeypatch):
    model = tiny_model("sd1")
    networks, folder = lora_state
    index = build_layer_index(model)
    write(str(folder / "a.safetensors"), lora_for_layers(index, kohya_names(index), seed=1))
    before = state_of(model)
    networks.activate(model, [NetworkRequest("a", 1.0)])
    assert changed_keys(model, before)

    from modules.networks.lora import applying

    calls = []
    monkeypatch.setattr(applying, "build_patches", lambda *a: calls.append(a))
    networks.activate(model, [NetworkRequest("a", 1.0)])
    assert calls == []  # same file, mtime and multipliers: nothing rebuilt, nothing merged
    networks.activate(model, [])
    assert changed_keys(model, before) == set()
    assert patcher_for(model).patched_keys == []


def test_te_multiplier_and_unet_multiplier_are_separate(tiny_model, lora_state):
    model = tiny_model("sd1")
    networks, folder = lora_state
    index = build_layer_index(model)
    write(str(folder / "a.safetensors"), lora_for_layers(index, kohya_names(index)))
    before = state_of(model)
    networks.activate(model, [NetworkRequest("a", 1.0, 0.0)])
    changed = changed_keys(model, before)
    assert changed and all(k.startswith("cond_stage_model.") for k in changed)
    networks.activate(model, [NetworkRequest("a", 0.0, 1.0)])
    changed = changed_keys(model, before)
    assert changed and all(k.startswith("model.diffusion_model.") for k in changed)
    networks.activate(model, [NetworkRequest("a", 0.0)])
    assert changed_keys(model, before) == set()


def test_sd2_open_clip_q_k_v_land_on_their_row_blocks(tiny_model, lora_state):
    model = tiny_model("sd2")
    networks, folder = lora_state
    attn = model.cond_stage_model.model.transformer.resblocks[1].attn
    width = attn.in_proj_weight.shape[1]
    tensors = {}
    tensors.update(lora_tensors("lora_te_text_model_encoder_layers_1_self_attn_k_proj", width, width, 2, 2.0, 1))
    tensors.update(lora_tensors("lora_te_text_model_encoder_layers_1_mlp_fc1", 4 * width, width, 2, 2.0, 2))
    tensors.update(lora_tensors("lora_te_text_model_encoder_layers_1_self_attn_out_proj", width, width, 2, 2.0, 3))
    write(str(folder / "sd2.safetensors"), tensors)
    before = attn.in_proj_weight.clone()
    report = networks.activate(model, [NetworkRequest("sd2", 1.0)])
    assert not report.comments()
    after = attn.in_proj_weight
    assert torch.equal(after[:width], before[:width]) and torch.equal(after[2 * width:], before[2 * width:])
    delta = expected_delta(tensors, "lora_te_text_model_encoder_layers_1_self_attn_k_proj", 1.0, (width, width))
    torch.testing.assert_close(after[width:2 * width] - before[width:2 * width], delta, rtol=1e-4, atol=1e-6)
    assert set(patcher_for(model).patched_keys) == {
        "cond_stage_model.model.transformer.resblocks.1.attn:in_proj_weight",
        "cond_stage_model.model.transformer.resblocks.1.mlp.c_fc:weight",
        "cond_stage_model.model.transformer.resblocks.1.attn.out_proj:weight"}


def test_sdxl_te1_te2_and_ldm_named_unet_keys(tiny_model, lora_state):
    model = tiny_model("sdxl")
    networks, folder = lora_state
    clip = model.conditioner.embedders[0].transformer.text_model.encoder.layers[0].self_attn.q_proj
    big_g = model.conditioner.embedders[1].model.transformer.resblocks[2].attn
    width = big_g.in_proj_weight.shape[1]
    unet_target = model.model.diffusion_model.input_blocks[3][1].proj_in
    tensors = {}
    tensors.update(lora_tensors("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", *clip.weight.shape, 2, 1.0, 1))
    tensors.update(lora_tensors("lora_te2_text_model_encoder_layers_2_self_attn_v_proj", width, width, 2, 1.0, 2))
    # SDXL LoRAs name UNet layers by their LDM paths
    tensors.update(lora_tensors("lora_unet_input_blocks_3_1_proj_in", *unet_target.weight.shape, 2, 1.0, 3))
    write(str(folder / "xl.safetensors"), tensors)
    before_clip, before_g, before_unet = clip.weight.clone(), big_g.in_proj_weight.clone(), unet_target.weight.clone()
    report = networks.activate(model, [NetworkRequest("xl", 1.0)])
    assert not report.comments()
    torch.testing.assert_close(clip.weight - before_clip, expected_delta(
        tensors, "lora_te1_text_model_encoder_layers_0_self_attn_q_proj", 1.0, clip.weight.shape), rtol=1e-4, atol=1e-6)
    assert torch.equal(big_g.in_proj_weight[:2 * width], before_g[:2 * width])
    torch.testing.assert_close(big_g.in_proj_weight[2 * width:] - before_g[2 * width:], expected_delta(
        tensors, "lora_te2_text_model_encoder_layers_2_self_attn_v_proj", 1.0, (width, width)), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(unet_target.weight - before_unet, expected_delta(
        tensors, "lora_unet_input_blocks_3_1_proj_in", 1.0, unet_target.weight.shape), rtol=1e-4, atol=1e-6)


def test_diffusers_and_peft_keys_reach_the_same_layers(tiny_model, lora_state):
    model = tiny_model("sd1")
    networks, folder = lora_state
    index = build_layer_index(model)
    target = index.get("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q")
    te_target = index.get("lora_te_text_model_encoder_layers_1_mlp_fc2")
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, target.shape[1], generator=g), torch.randn(target.shape[0], 4, generator=g)
    te_a, te_b = torch.randn(4, te_target.shape[1], generator=g), torch.randn(te_target.shape[0], 4, generator=g)
    peft = {
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight": a,
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight": b,
        "text_encoder.text_model.encoder.layers.1.mlp.fc2.lora.down.weight": te_a,
        "text_encoder.text_model.encoder.layers.1.mlp.fc2.lora.up.weight": te_b,
    }
    write(str(folder / "peft.safetensors"), peft)
    before, te_before = target.module.weight.clone(), te_target.module.weight.clone()
    report = networks.activate(model, [NetworkRequest("peft", 1.0)])
    assert not report.comments()
    torch.testing.assert_close(target.module.weight - before, b @ a, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(te_target.module.weight - te_before, te_b @ te_a, rtol=1e-4, atol=1e-5)
    networks.activate(model, [])
    old_diffusers = {
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight": a,
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.up.weight": b,
    }
    write(str(folder / "old.safetensors"), old_diffusers)
    networks.activate(model, [NetworkRequest("old", 1.0)])
    torch.testing.assert_close(target.module.weight - before, b @ a, rtol=1e-4, atol=1e-5)


def test_two_networks_add_and_dyn_limits_rank(tiny_model, lora_state):
    model = tiny_model("sd1")
    networks, folder = lora_state
    name = "lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    target = build_layer_index(model).get(name)
    t1 = lora_tensors(name, *target.shape, 4, 4.0, 1)
    t2 = lora_tensors(name, *target.shape, 4, 4.0, 2)
    write(str(folder / "one.safetensors"), t1)
    write(str(folder / "two.safetensors"), t2)
    before = target.module.weight.clone()
    networks.activate(model, [NetworkRequest("one", 1.0), NetworkRequest("two", 0.5)])
    expected = expected_delta(t1, name, 1.0, target.shape) + expected_delta(t2, name, 0.5, target.shape)
    torch.testing.assert_close(target.module.weight - before, expected, rtol=1e-4, atol=1e-6)
    networks.activate(model, [NetworkRequest("one", 1.0, dyn_dim=2)])
    up, down = t1[f"{name}.lora_up.weight"], t1[f"{name}.lora_down.weight"]
    torch.testing.assert_close(target.module.weight - before, (up[:, :2] @ down[:2]) * 1.0, rtol=1e-4, atol=1e-6)


def test_inpainting_conv_in_gets_a_zero_padded_delta(tiny_model, lora_state):
    model = tiny_model("sd1-inpaint")
    networks, folder = lora_state
    conv_in = model.model.diffusion_model.input_blocks[0][0]
    tensors = lora_tensors("lora_unet_conv_in", conv_in.weight.shape[0], 4, 2, 2.0, 1, kernel=(3, 3))
    write(str(folder / "conv.safetensors"), tensors)
    before = conv_in.weight.clone()
    report = networks.activate(model, [NetworkRequest("conv", 1.0)])
    assert not report.comments()
    delta = conv_in.weight - before
    torch.testing.assert_close(delta[:, :4], expected_delta(tensors, "lora_unet_conv_in", 1.0, (conv_in.weight.shape[0], 4, 3, 3)),
                               rtol=1e-4, atol=1e-6)
    assert torch.equal(delta[:, 4:], torch.zeros_like(delta[:, 4:]))


def test_a_model_with_a_lora_applied_can_still_be_freed(tmp_path, lora_state):
    import gc
    import weakref

    from modules.models.loader import load_model
    from modules.models.tiny_factory import make_tiny_checkpoint

    networks, folder = lora_state
    model = load_model(make_tiny_checkpoint("sd1", tmp_path / "m"))
    index = build_layer_index(model)
    write(str(folder / "a.safetensors"), lora_for_layers(index, kohya_names(index)[:3]))
    networks.activate(model, [NetworkRequest("a", 1.0)])
    ref = weakref.ref(model)
    del model, index
    gc.collect()
    assert ref() is None


def test_full_diff_and_norm_change_weights_and_biases(tiny_model, lora_state):
    model = tiny_model("sd1")
    networks, folder = lora_state
    index = build_layer_index(model)
    ff = index.get("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_2")
    norm = index.get("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_norm1")
    g = torch.Generator().manual_seed(0)
    diff, diff_b = torch.randn(ff.shape, generator=g), torch.randn(ff.shape[0], generator=g)
    w_norm, b_norm = torch.randn(norm.shape, generator=g), torch.randn(norm.shape, generator=g)
    write(str(folder / "lyco.safetensors"), {
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_2.diff": diff,
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_2.diff_b": diff_b,
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_norm1.w_norm": w_norm,
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_norm1.b_norm": b_norm})
    before = {k: v.clone() for k, v in (("ffw", ff.module.weight), ("ffb", ff.module.bias),
                                        ("nw", norm.module.weight), ("nb", norm.module.bias))}
    report = networks.activate(model, [NetworkRequest("lyco", 0.5)])
    assert not report.comments()
    torch.testing.assert_close(ff.module.weight - before["ffw"], diff * 0.5)
    torch.testing.assert_close(ff.module.bias - before["ffb"], diff_b * 0.5)
    torch.testing.assert_close(norm.module.weight - before["nw"], w_norm * 0.5)
    torch.testing.assert_close(norm.module.bias - before["nb"], b_norm * 0.5)
    networks.activate(model, [])
    assert torch.equal(ff.module.bias, before["ffb"]) and torch.equal(norm.module.weight, before["nw"])


def test_setting_sd_lora_adds_a_network_to_every_prompt(tiny_model, lora_state):
    from types import SimpleNamespace

    from modules.networks.extra_networks import ExtraNetworkParams
    from modules.networks.lora.extra_network import ExtraNetworkLora

    model = tiny_model("sd1")
    networks, folder = lora_state
    index = build_layer_index(model)
    write(str(folder / "always.safetensors"), lora_for_layers(index, kohya_names(index)[:2]))
    write(str(folder / "other.safetensors"), lora_for_layers(index, kohya_names(index)[2:4]))
    opts = SimpleNamespace(sd_lora="always", extra_networks_default_multiplier=0.5, lora_add_hashes_to_infotext=True)
    network = ExtraNetworkLora(networks, opts=lambda: opts)
    p = SimpleNamespace(sd_model=model, all_prompts=["a", "b"], extra_generation_params={}, comments=[])
    p.comment = p.comments.append
    network.activate(p, [ExtraNetworkParams(["other", "1"])])
    assert p.all_prompts == ["a<lora:always:0.5>", "b<lora:always:0.5>"]
    assert [(n.name, n.te_multiplier) for n in networks.loaded_networks] == [("other", 1.0), ("always", 0.5)]
    assert p.extra_generation_params["Lora hashes"].startswith("other: ")
    assert ", always: " in p.extra_generation_params["Lora hashes"]
    network.activate(p, [ExtraNetworkParams(["other", "te=x"])])
    assert any("Lora tag ignored" in c for c in p.comments)
