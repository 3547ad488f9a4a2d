"""GGUF files' family from ``general.architecture`` (or their keys), the missing-parts and Flux errors, and a picked
file of the wrong family, on small GGUF files written with the gguf package's writer (no model is built for
the errors raised before building)."""
from __future__ import annotations

import numpy as np
import torch
import pytest
from gguf import GGMLQuantizationType, GGUFWriter
from safetensors.torch import load_file, save_file

from modules.models.checkpoint_io import CheckpointError
from modules.models.gguf_files import GGUFContents, arch_group, read_gguf
from modules.models.loader import LoadOptions, load_model
from modules.models.tiny_factory import make_tiny_checkpoint
from tests.models.gguf_helpers import write_unet_gguf


def _write(path, arch: str | None, names: list[str]) -> None:
    writer = GGUFWriter(str(path), arch or "unused")
    if arch is None:  # a file without the field: GGUFWriter always writes it, so drop it from the kv data
        writer.kv_data[0].pop("general.architecture")
    for name in names:
        writer.add_tensor(name, np.ones((4, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize("arch, key, group", [
    ("sdxl", "input_blocks.0.0.weight", "sdxl"), ("sd3", "joint_blocks.0.x_block.attn.qkv.weight", "sd3"),
    (None, "label_emb.0.0.weight", "sdxl"), (None, "x_embedder.proj.weight", "sd3"),
    (None, "double_blocks.0.img_attn.qkv.weight", "flux"), (None, "input_blocks.0.0.weight", "sd1"),
])
def test_the_family_comes_from_the_architecture_field_else_from_the_keys(tmp_path, arch, key, group):
    _write(tmp_path / "m.gguf", arch, [key])
    contents = read_gguf(tmp_path / "m.gguf")
    assert contents.arch == arch and list(contents.plain) == [f"model.diffusion_model.{key}"]
    assert contents.plain[f"model.diffusion_model.{key}"].shape == (4, 32)
    assert arch_group(contents) == group


def test_an_unknown_architecture_is_named():
    with pytest.raises(CheckpointError, match="'llama' is not a diffusion model"):
        arch_group(GGUFContents("llama"))


def test_an_sdxl_gguf_without_its_parts_and_a_flux_gguf_are_clear_errors(tmp_path):
    _write(tmp_path / "xl.gguf", "sdxl", ["label_emb.0.0.weight"])
    with pytest.raises(CheckpointError) as error:
        load_model(tmp_path / "xl.gguf")
    assert str(error.value) == (
        "xl.gguf is a GGUF file: it holds only the sdxl diffusion model, so the text encoders (conditioner) and "
        "the VAE (first_stage_model) must come from other files. Pick a full sdxl checkpoint (or VAE and text "
        "encoder files) in setting 'VAE / Text Encoder' (forge_additional_modules).")
    _write(tmp_path / "flux.gguf", "flux", ["double_blocks.0.img_attn.qkv.weight"])
    with pytest.raises(CheckpointError, match=r"holds only the flux diffusion model, so the VAE \(first_stage_model\) must"):
        load_model(tmp_path / "flux.gguf")  # Flux's text encoders may come from models/CLIP; its VAE may not
    with pytest.raises(CheckpointError, match="names .*nothing.safetensors, which does not exist"):
        load_model(tmp_path / "xl.gguf", LoadOptions(additional_modules=[str(tmp_path / "nothing.safetensors")]))


def test_a_picked_checkpoint_of_another_family_or_a_vae_alone_is_refused(tmp_path):
    base = make_tiny_checkpoint("sd1", tmp_path / "sd1", name="base")
    write_unet_gguf(base, tmp_path / "unet.gguf", GGMLQuantizationType.Q8_0, arch="sdxl")
    with pytest.raises(CheckpointError, match="the GGUF file is a sdxl model but base.safetensors make a sd1 model"):
        load_model(tmp_path / "unet.gguf", LoadOptions(additional_modules=[str(base)]))
    # the VAE alone (a models/VAE file): the text encoder is still missing, and only it is named
    prefix = "first_stage_model."
    vae = {k[len(prefix):]: v for k, v in load_file(str(base)).items() if k.startswith(prefix)}
    save_file(vae, str(tmp_path / "vae.safetensors"))
    write_unet_gguf(base, tmp_path / "unet1.gguf", GGMLQuantizationType.Q8_0)
    (tmp_path / "unet1.yaml").write_bytes((tmp_path / "sd1" / "base.yaml").read_bytes())
    with pytest.raises(CheckpointError, match=r"so the text encoder \(cond_stage_model\) must come from other"):
        load_model(tmp_path / "unet1.gguf", LoadOptions(additional_modules=[str(tmp_path / "vae.safetensors")]))


@pytest.mark.parametrize("family", ["sdxl", "sd3", "flux-dev"])
def test_sdxl_sd3_and_flux_gguf_files_load_with_their_full_checkpoint(tmp_path, family):
    from modules.models.gguf_layers import is_quantised_layer  # why: only this test looks at the layers
    from modules.models.tiny_flux import make_tiny_flux_checkpoint  # why: only this test builds Flux
    from modules.models.tiny_sd3 import make_tiny_sd3_checkpoint, write_tiny_t5_tokenizer  # why: as above

    clip = tmp_path / "CLIP"
    clip.mkdir()
    write_tiny_t5_tokenizer(clip / "t5xxl_tokenizer.json")  # Flux's T5 tokenizer, from models/CLIP
    make = {"sd3": lambda: make_tiny_sd3_checkpoint(tmp_path, name="base"),
            "flux-dev": lambda: make_tiny_flux_checkpoint(tmp_path, name="base")}
    base = make.get(family, lambda: make_tiny_checkpoint(family, tmp_path, name="base"))()
    stored = write_unet_gguf(base, tmp_path / "unet.gguf", GGMLQuantizationType.Q8_0, arch=family.split("-")[0])
    options = LoadOptions(additional_modules=[str(base)], text_encoder_dir=clip)
    model = load_model(tmp_path / "unet.gguf", options)
    assert model.family == family  # the whole SDXL UNet: its packed keys count for A1111's SSD-1B test
    reference = dict(load_model(base, LoadOptions(text_encoder_dir=clip)).model.diffusion_model.named_modules())
    packed = {name: m for name, m in model.model.diffusion_model.named_modules() if is_quantised_layer(m)}
    assert len(packed) >= sum(t == GGMLQuantizationType.Q8_0 for t in stored.values()) - 1 > 20
    for name, layer in packed.items():
        expected = reference[name].weight
        # Q8_0: each value within half a step (1/127 of its block's largest magnitude) of the original
        assert (layer.weight - expected).abs().max() <= expected.abs().max() / 127
    if family == "sdxl":
        unet, full = model.model.diffusion_model, reference[""]
        x, t, context = torch.randn(1, 4, 8, 8), torch.tensor([500.0]), torch.randn(1, 77, 64)
        y = torch.randn(1, full.label_emb[0][0].in_features)
        with torch.no_grad():
            got, expected = unet(x, t, context, y=y), full(x, t, context, y=y)
        assert (got - expected).norm() / expected.norm() < 0.03  # measured 1.3 %


def test_a_weight_patch_on_a_packed_layer_is_reported_not_silently_lost(tmp_path):
    from modules.models.patcher import PatchSet, WeightPatch, patcher_for  # why: only this test patches

    base = make_tiny_checkpoint("sd1", tmp_path, name="base")
    write_unet_gguf(base, tmp_path / "unet.gguf", GGMLQuantizationType.Q8_0)
    model = load_model(tmp_path / "unet.gguf", LoadOptions(additional_modules=[str(base)]))
    layer = model.model.diffusion_model.out[2]
    before = layer.weight.clone()
    patcher = patcher_for(model)
    patcher.apply("lora", PatchSet("k", {
        "model.diffusion_model.out.2:weight": (WeightPatch(lambda v: v * 2, source="net"),),
        "model.diffusion_model.out.2:bias": (WeightPatch(lambda v: v + 1, source="net"),)}))
    assert patcher.errors == {"net": 1}  # the packed weight; the plain bias is patched
    assert torch.equal(layer.weight, before)
