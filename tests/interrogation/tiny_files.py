"""Tiny random-weight files of the interrogators' real layouts (same keys as the released files, small widths)."""
from __future__ import annotations

import os

import torch

from modules.models.interrogation.blip import BlipCaptionModel, BlipConfig
from modules.models.interrogation.clip_model import ClipConfig, ClipModel
from modules.models.interrogation.deepdanbooru import DeepDanbooruModel

WORDS = ["a", "picture", "of", "cat", "dog", "red", "blue", "house", "tree", "sitting", "on", "the", "table", "##s",
         "green", "small", ".", ",", "'", "sky", "big", "with", "and", "car"]
VOCAB = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
"""A stand-in ``vocab.txt`` (BERT's special tokens and a few words); BLIP adds ``[DEC]`` and ``[ENC]`` after it."""

TINY_BLIP = BlipConfig(image_size=32, patch_size=8, vision_width=64, vision_layers=2, vision_heads=1,
                       vocab_size=len(VOCAB) + 2, text_width=64, text_layers=2, text_heads=1, intermediate_size=128,
                       max_positions=64)
TINY_CLIP = ClipConfig(embed_dim=32, image_resolution=28, vision_width=64, vision_layers=2, vision_patch_size=14,
                       context_length=77, vocab_size=49408, text_width=64, text_layers=2)
TAGS = [f"tag_{i}" for i in range(10)] + ["rating:safe", "smile_(happy)", "long_hair"]


def _randomize(model: torch.nn.Module, seed: int, scale: float = 0.2) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            parts = name.split(".")
            if len(parts) > 1 and parts[-1] == "weight" and parts[-2].startswith(("LayerNorm", "ln_", "norm")):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=gen))


def tiny_blip(seed: int = 0) -> BlipCaptionModel:
    model = BlipCaptionModel(TINY_BLIP)
    _randomize(model, seed)
    preds = model.text_decoder.cls.predictions
    with torch.no_grad():
        # tied in BLIP (transformers' tie_weights): the file holds the same values twice
        preds.bias.copy_(preds.decoder.bias)
        preds.decoder.weight.copy_(model.text_decoder.bert.embeddings.word_embeddings.weight)
    return model.eval()


def tiny_clip(seed: int = 0) -> ClipModel:
    model = ClipModel(TINY_CLIP)
    _randomize(model, seed, scale=0.1)
    return model.eval()


def tiny_deepdanbooru(seed: int = 0) -> DeepDanbooruModel:
    model = DeepDanbooruModel(tag_count=len(TAGS), width_divisor=16)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = p[0].numel() if name.endswith("weight") else 2500  # biases small beside the pictures' signal
            p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
        # small residual branches and classifier: 57 blocks deep, activations stay in range and the tags vary
        for block in model.blocks:
            model.conv(block.expand).weight.mul_(0.1)
        model.n_Conv_178.weight.mul_(0.5)
    model.tags = list(TAGS)
    return model.eval()


def write_blip(folder: str | os.PathLike, seed: int = 0) -> BlipCaptionModel:
    """``model_base_caption_capfilt_large.pth`` ({"model": weights}, as released) and ``vocab.txt`` in ``folder``."""
    os.makedirs(folder, exist_ok=True)
    model = tiny_blip(seed)
    torch.save({"model": model.state_dict()}, os.path.join(folder, "model_base_caption_capfilt_large.pth"))
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")
    return model


def write_clip(folder: str | os.PathLike, seed: int = 0) -> ClipModel:
    """``ViT-L-14.pt`` as OpenAI ships it: a TorchScript archive (traced image tower holding every weight)."""
    os.makedirs(folder, exist_ok=True)
    model = tiny_clip(seed)

    class Whole(torch.nn.Module):
        def __init__(self, inner: ClipModel) -> None:
            super().__init__()
            for name, child in inner.named_children():
                self.add_module(name, child)
            for name, p in inner.named_parameters(recurse=False):
                self.register_parameter(name, p)

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.visual(pixels) + self.text_projection.sum() * 0 + self.logit_scale * 0 + \
                self.positional_embedding.sum() * 0 + self.token_embedding.weight.sum() * 0

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(Whole(model), torch.zeros(1, 3, 28, 28), check_trace=False)
        torch.jit.save(traced, os.path.join(folder, "ViT-L-14.pt"))
    return model


def write_deepdanbooru(folder: str | os.PathLike, seed: int = 0) -> DeepDanbooruModel:
    """``model-resnet_custom_v3.pt``: the weights and the ``tags`` list in one pickled dict."""
    os.makedirs(folder, exist_ok=True)
    model = tiny_deepdanbooru(seed)
    torch.save({**model.state_dict(), "tags": list(TAGS)}, os.path.join(folder, "model-resnet_custom_v3.pt"))
    return model


def write_categories(folder: str | os.PathLike) -> None:
    os.makedirs(folder, exist_ok=True)
    for name, words in {"artists": ["by an artist", "by a painter"], "mediums": ["a photo", "an oil painting"],
                        "flavors.top2.x": ["shiny", "dark", "bright"]}.items():
        with open(os.path.join(folder, f"{name}.txt"), "w", encoding="utf8") as f:
            f.write("\n".join(words) + "\n")


def write_interrogation_files(data_dir: str | os.PathLike, seed: int = 0) -> None:
    """Every interrogation model of a data dir: ``models/BLIP``, ``models/torch_deepdanbooru`` and ``clip/``
    (to be given as ``--clip-models-path``)."""
    models = os.path.join(data_dir, "models")
    write_blip(os.path.join(models, "BLIP"), seed)
    write_deepdanbooru(os.path.join(models, "torch_deepdanbooru"), seed)
    write_clip(os.path.join(data_dir, "clip"), seed)
