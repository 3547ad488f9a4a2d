"""Tiny random checkpoints with each family's real key layout, for tests and for trying the pipeline.

Each config is the bundled YAML with only sizes reduced (UNet width 32, two
levels; CLIP/OpenCLIP width 32 with 2-3 layers; a VAE that still downsamples
by 8), written as a YAML next to the ``.safetensors`` so it loads through the
normal path.  Files also carry the extras real checkpoints have
(``position_ids``, ``logit_scale``, schedule buffers) so the fix-ups run too.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from safetensors.torch import save_file

from modules.models.config_registry import build_from_config
from modules.models.model_config import bundled_config, read_config
from modules.models.schedule import make_alphas_cumprod

BASE_CONFIGS = {
    "sd1": "v1-inference.yaml",
    "sd1-inpaint": "v1-inpainting-inference.yaml",
    "instruct-pix2pix": "instruct-pix2pix.yaml",
    "sd2": "v2-inference.yaml",
    "sd2-v": "v2-inference-v.yaml",
    "sd2-inpaint": "v2-inpainting-inference.yaml",
    "sdxl": "sd_xl_base.yaml",
    "sdxl-inpaint": "sd_xl_inpaint.yaml",
    "sdxl-refiner": "sd_xl_refiner.yaml",
    "ssd-1b": "sd_xl_base.yaml",
    "sd2-depth": "v2-midas-inference.yaml",
    "sd2-unclip-l": "v2-1-stable-unclip-l-inference.yaml",
    "sd2-unclip-h": "v2-1-stable-unclip-h-inference.yaml",
    "alt-diffusion": "alt-diffusion-inference.yaml",
    "alt-diffusion-m18": "alt-diffusion-m18-inference.yaml",
}
IMAGE_EMBEDDING_FAMILIES = ("sd2-unclip-l", "sd2-unclip-h")
"""unCLIP: its UNet needs the image embedding (``c_adm``) and unCLIP-L Karlo's stats file, so the generic
family checks leave it out (``tests/models/test_unclip.py`` covers it)."""
TOKENIZER_FILE_FAMILIES = ("alt-diffusion", "alt-diffusion-m18")
"""AltDiffusion: its tokenizer is a file in models/xlm-roberta-large (``tests/models/test_alt_diffusion.py``)."""
FAMILIES = tuple(f for f in BASE_CONFIGS if f not in IMAGE_EMBEDDING_FAMILIES + TOKENIZER_FILE_FAMILIES)
"""The families any caller can load and run with text conditioning alone."""

TINY_MIDAS = dict(width=32, depth=12, heads=2, stage_blocks=[1, 1, 1], stem=32, features=32)
"""A MiDaS DPT-Hybrid of the real layout (12 blocks: taps at 8 and 11; three ResNet stages), narrow."""
TEXT_WIDTH = 32
CLIP_SIZES = dict(hidden_size=TEXT_WIDTH, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)
OPEN_CLIP_SIZES = dict(width=TEXT_WIDTH, heads=2, layers=3, embed_dim=TEXT_WIDTH)
VAE_SIZES = dict(ch=32, ch_mult=[1, 1, 1, 1], num_res_blocks=1)
SIZE_EMBED = 256
TINY_CLIP_IMAGE = dict(width=32, layers=2, heads=2, patch=8, image_size=32, embed_dim=16, text_width=32,
                       text_layers=1, text_heads=2, vocab_size=64)
"""unCLIP's image tower at tiny width (unCLIP-H's has no text layers, as the released file)."""
TINY_XLMR = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=80,
                 max_position_embeddings=80, project_dim=TEXT_WIDTH)
"""AltDiffusion's XLM-R at tiny width (positions start after the padding id 1: 77 tokens need 79)."""


def _unet_sizes(family: str, context_dim: int, adm: int | None) -> dict[str, Any]:
    sizes: dict[str, Any] = dict(model_channels=32, channel_mult=[1, 2], num_res_blocks=1, context_dim=context_dim)
    if family.startswith("sd1") or family in ("instruct-pix2pix", "alt-diffusion"):
        sizes.update(attention_resolutions=[1, 2], num_heads=8)
    elif family.startswith("sd2") or family == "alt-diffusion-m18":
        sizes.update(attention_resolutions=[1, 2], num_head_channels=16)
    else:
        # SDXL keeps its shape: no attention on the first level, deeper transformers below.
        depth = {"sdxl-refiner": 2, "ssd-1b": [1, 3]}.get(family, [1, 2])
        sizes.update(attention_resolutions=[2], num_head_channels=16, adm_in_channels=adm, transformer_depth=depth)
    return sizes


def tiny_config(family: str) -> dict[str, Any]:
    """The family's bundled YAML as a dict, with reduced sizes."""
    if family not in BASE_CONFIGS:
        raise ValueError(f"unknown family {family!r}; known: {tuple(BASE_CONFIGS)}")
    config = copy.deepcopy(read_config(bundled_config(BASE_CONFIGS[family])))
    params = config["model"]["params"]
    params["first_stage_config"]["params"]["ddconfig"].update(VAE_SIZES)
    if "conditioner_config" in params:
        embedders = params["conditioner_config"]["params"]["emb_models"]
        context = 0
        vector = 0
        for spec in embedders:
            target = spec["target"]
            if target.endswith("FrozenCLIPEmbedder"):
                spec.setdefault("params", {}).update(CLIP_SIZES)
                if spec["params"].get("layer") == "hidden":
                    # SDXL's layer_idx 11 is the penultimate of 12 layers; keep it penultimate.
                    spec["params"]["layer_idx"] = CLIP_SIZES["num_hidden_layers"] - 1
                context += TEXT_WIDTH
            elif target.endswith("FrozenOpenCLIPEmbedder2"):
                spec["params"].update(OPEN_CLIP_SIZES)
                context += TEXT_WIDTH
                vector += TEXT_WIDTH
            else:
                outdim = spec["params"]["outdim"]
                vector += outdim * (1 if spec["input_key"] == "aesthetic_score" else 2)
        unet = params["network_config"]["params"]
        unet.update(_unet_sizes(family, context, vector))
    else:
        cond = params["cond_stage_config"]
        sizes = OPEN_CLIP_SIZES if cond["target"].endswith("FrozenOpenCLIPEmbedder") else CLIP_SIZES
        if cond["target"].endswith("BertSeriesModelWithTransformation"):
            sizes = TINY_XLMR
        cond.setdefault("params", {}).update(sizes)
        unet = params["unet_config"]["params"]
        unet.update(_unet_sizes(family, TEXT_WIDTH, None))
    if isinstance(unet.get("context_dim"), list):
        unet["context_dim"] = context
    if "depth_stage_config" in params:
        params["depth_stage_config"]["params"].update(TINY_MIDAS)
    if "embedder_config" in params:
        sizes = TINY_CLIP_IMAGE if family.endswith("-l") else {**TINY_CLIP_IMAGE, "text_layers": 0}
        params["embedder_config"].setdefault("params", {}).update(sizes)
        params["noise_aug_config"]["params"]["timestep_dim"] = TINY_CLIP_IMAGE["embed_dim"]
        unet["adm_in_channels"] = 2 * TINY_CLIP_IMAGE["embed_dim"]
    return config


def write_tiny_xlmr_tokenizer(folder: str | Path) -> Path:
    """A SentencePiece-style (Unigram, ``▁`` word marks) ``tokenizer.json`` with XLM-R's special ids
    (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3), small enough for the tiny AltDiffusion's vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers  # why: only the AltDiffusion tests use it

    pieces = ["<s>", "<pad>", "</s>", "<unk>", ",", "▁"]
    pieces += [f"▁{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + list("abcdefghijklmnopqrstuvwxyz")
    pieces += ["▁cat", "▁dog", "▁photo", "▁a", "▁of", "▁猫"]
    vocab = [(p, 0.0 if i < 4 else -float(len(pieces) - len(p))) for i, p in enumerate(pieces)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=3))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    path = Path(folder) / "tokenizer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    if len(pieces) > TINY_XLMR["vocab_size"]:
        raise AssertionError("the tiny vocabulary outgrew the tiny model's word table")
    return path


def write_tiny_clip_stats(folder: str | Path, seed: int = 0) -> Path:
    """A Karlo-style ``ViT-L-14_stats.th`` (mean, std) at the tiny embedding width, for tiny unCLIP-L."""
    generator = torch.Generator().manual_seed(seed)
    dim = TINY_CLIP_IMAGE["embed_dim"]
    mean = 0.1 * torch.randn(dim, generator=generator)
    std = 0.5 + torch.rand(dim, generator=generator)
    path = Path(folder) / "ViT-L-14_stats.th"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save((mean, std), path)
    return path


_CHECKPOINT_EXTRAS = {
    "sd1": ("cond_stage_model.transformer.text_model.embeddings.position_ids",),
    "sd2": ("cond_stage_model.model.logit_scale",),
    "sdxl": ("conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
             "conditioner.embedders.1.model.logit_scale"),
    "sdxl-refiner": ("conditioner.embedders.0.model.logit_scale",),
    "alt": (),
}


TINY_SSD_KEPT = {"input_blocks.3.1": 2, "output_blocks.0.1": 2, "output_blocks.1.1": 1, "middle_block": 1}
"""The tiny SSD-1B file's cut of the tiny SDXL UNet (depth 3 on level 1), in the spirit of SSD-1B's own
(see models/ssd.py): fewer transformer blocks in some blocks, different counts in the input and output
paths, and a middle block that is only its first ResBlock."""


def _drop_tiny_ssd_blocks(sd: dict[str, torch.Tensor]) -> None:
    prefix = "model.diffusion_model."
    for key in list(sd):
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix):].split(".")
        if parts[0] == "middle_block" and int(parts[1]) >= TINY_SSD_KEPT["middle_block"]:
            del sd[key]
        elif len(parts) > 3 and parts[3] == "transformer_blocks":
            kept = TINY_SSD_KEPT.get(".".join(parts[:3]))
            if kept is not None and int(parts[4]) >= kept:
                del sd[key]


def _perturb_norms(model: torch.nn.Module) -> None:
    """Give normalisation layers non-trivial scales and shifts, as trained checkpoints have.

    Fresh LayerNorms (weight 1, bias 0) make every token's output average exactly
    zero, which real text encoders never do and which A1111's "Original" emphasis
    (it divides by the mean) cannot handle.
    """
    generator = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.LayerNorm, torch.nn.GroupNorm)) and module.weight is not None:
                module.weight.mul_(1 + 0.1 * torch.randn(module.weight.shape, generator=generator))
                module.bias.add_(0.1 * torch.randn(module.bias.shape, generator=generator))


def tiny_state_dict(family: str, seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Random weights under the family's real checkpoint keys, plus the usual extra keys."""
    torch.manual_seed(seed)
    model = build_from_config(tiny_config(family), f"tiny {family}")
    _perturb_norms(model)
    if family == "sd2-depth":
        with torch.no_grad():
            # random weights leave MiDaS's last ReLU at zero everywhere (a flat map): shift it positive
            model.depth_model.model.scratch.output_conv[4].bias.fill_(1.0)
    sd = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    group = "sdxl-refiner" if family == "sdxl-refiner" else family.split("-")[0]
    group = {"instruct": "sd1", "ssd": "sdxl"}.get(group, group)
    if family == "ssd-1b":
        _drop_tiny_ssd_blocks(sd)
    for key in _CHECKPOINT_EXTRAS[group]:
        if key.endswith("position_ids"):
            sd[key] = torch.arange(77, dtype=torch.int64)[None]
        else:
            sd[key] = torch.tensor(4.6052, dtype=dtype)
    if not family.startswith(("sdxl", "ssd")):
        alphas = make_alphas_cumprod()
        sd["alphas_cumprod"] = alphas
        sd["betas"] = 1 - alphas / torch.cat([alphas.new_ones(1), alphas[:-1]])
    return sd


def make_tiny_checkpoint(family: str, directory: str | Path, name: str | None = None, seed: int = 0,
                         dtype: torch.dtype = torch.float32) -> Path:
    """Write ``<name>.safetensors`` and ``<name>.yaml`` into ``directory``; returns the checkpoint path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = name or f"tiny-{family}"
    path = directory / f"{name}.safetensors"
    save_file(tiny_state_dict(family, seed, dtype), str(path), metadata={"modelspec.title": name})
    OmegaConf.save(OmegaConf.create(tiny_config(family)), directory / f"{name}.yaml")
    return path


# --- the LDSR upscaler (models/LDSR: model.ckpt + project.yaml) --------------------------------------------

LDSR_PROJECT: dict[str, Any] = {"model": {
    "base_learning_rate": 1.0e-06,
    "target": "ldm.models.diffusion.ddpm.LatentDiffusion",
    "params": {
        "linear_start": 0.0015, "linear_end": 0.0155, "log_every_t": 100, "timesteps": 1000, "loss_type": "l2",
        "first_stage_key": "image", "cond_stage_key": "LR_image", "image_size": 64, "channels": 3,
        "concat_mode": True, "cond_stage_trainable": False,
        "unet_config": {"target": "ldm.modules.diffusionmodules.openaimodel.UNetModel", "params": {
            "image_size": 64, "in_channels": 6, "out_channels": 3, "model_channels": 160,
            "attention_resolutions": [16, 8], "num_res_blocks": 2, "channel_mult": [1, 2, 2, 4],
            "num_head_channels": 32}},
        "first_stage_config": {"target": "ldm.models.autoencoder.VQModelInterface", "params": {
            "embed_dim": 3, "n_embed": 8192, "monitor": "val/rec_loss",
            "ddconfig": {"double_z": False, "z_channels": 3, "resolution": 256, "in_channels": 3, "out_ch": 3,
                         "ch": 128, "ch_mult": [1, 2, 4], "num_res_blocks": 2, "attn_resolutions": [],
                         "dropout": 0.0},
            "lossconfig": {"target": "torch.nn.Identity"}}},
        "cond_stage_config": {"target": "torch.nn.Identity"},
    }}}
"""The released LDSR ``project.yaml`` (CompVis latent-diffusion's ``bsr_sr`` 4x model) as data."""


def tiny_ldsr_config() -> dict[str, Any]:
    """``LDSR_PROJECT`` with only sizes reduced (UNet width 32 over two levels; a VQ that still downsamples by 4)."""
    config = copy.deepcopy(LDSR_PROJECT)
    params = config["model"]["params"]
    params["unet_config"]["params"].update(model_channels=32, channel_mult=[1, 2], num_res_blocks=1,
                                           attention_resolutions=[2], num_head_channels=16)
    first = params["first_stage_config"]["params"]
    first["n_embed"] = 64
    first["ddconfig"].update(ch=32, ch_mult=[1, 1, 1], num_res_blocks=1)
    return config


def make_tiny_ldsr(directory: str | Path, seed: int = 0, ema: bool = True,
                   file_name: str = "model.ckpt") -> Path:
    """Write a tiny random LDSR ``model.ckpt`` (Lightning layout, EMA shadows when ``ema``) and ``project.yaml``."""
    from modules.models.ldsr import build_ldsr, ema_key  # ldsr imports this module's neighbours only when used

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = build_ldsr(tiny_ldsr_config(), "tiny LDSR")
    _perturb_norms(model)
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if ema:
        generator = torch.Generator().manual_seed(seed + 1)
        for key in [k for k in sd if k.startswith("model.diffusion_model.")]:
            # the shadows differ from the raw weights, so a test can tell which ones generate
            sd[ema_key(key)] = sd[key] + 0.01 * torch.randn(sd[key].shape, generator=generator)
        sd["model_ema.decay"] = torch.tensor(0.9999)
        sd["model_ema.num_updates"] = torch.tensor(1000, dtype=torch.int32)
    sd["alphas_cumprod"] = model.alphas_cumprod.clone()
    path = directory / file_name
    if path.suffix == ".safetensors":
        save_file(sd, str(path))
    else:
        torch.save({"state_dict": sd, "global_step": 1}, path)
    OmegaConf.save(OmegaConf.create(tiny_ldsr_config()), directory / "project.yaml")
    return path
