"""Embeddings bundled in a LoRA file (``bundle_emb.<name>.*``) work in the prompt while the LoRA is named,
exactly as the same embedding from the embeddings folder would; a folder embedding of that name wins."""
from __future__ import annotations

import logging

import torch
from safetensors.torch import save_file

from modules.processing import StableDiffusionProcessingTxt2Img, process_images


def txt2img(prompt: str):
    p = StableDiffusionProcessingTxt2Img(prompt=prompt, negative_prompt="", steps=2, width=64, height=64, seed=7,
                                         sampler_name="Euler", do_not_save_samples=True, do_not_save_grid=True)
    return process_images(p).images[0].tobytes()


def vectors(width: int, seed: int) -> torch.Tensor:
    return torch.randn(2, width, generator=torch.Generator().manual_seed(seed)) * 0.5


def bundle_only_lora(path, name: str, vec: torch.Tensor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({f"bundle_emb.{name}.string_to_param.*": vec.contiguous()}, str(path))


def test_a_bundled_embedding_acts_as_the_same_embedding_from_the_folder(app, data_dir, caplog):
    shared = app()
    width = shared.embeddings.expected_shape
    assert width > 0
    vec = vectors(width, 1)
    bundle_only_lora(data_dir / "models" / "Lora" / "bundled.safetensors", "zqtok", vec)

    plain = txt2img("a cat zqtok")
    with_bundle = txt2img("a cat zqtok <lora:bundled:1>")
    assert with_bundle != plain, "the bundled embedding replaced the word"
    assert shared.embeddings.word_embeddings["zqtok"].loaded is True

    # the same vectors as a file in the embeddings folder give the same picture
    save_file({"emb_params": vec.contiguous()}, str(data_dir / "embeddings" / "zqtok.safetensors"))
    shared.embeddings.word_embeddings.pop("zqtok")
    shared.embeddings.load_textual_inversion_embeddings(force_reload=True)
    assert txt2img("a cat zqtok") == with_bundle

    # another LoRA bundling other vectors under that name: the folder's embedding wins, with a warning
    bundle_only_lora(data_dir / "models" / "Lora" / "other.safetensors", "zqtok", vectors(width, 2))
    with caplog.at_level(logging.WARNING):
        assert txt2img("a cat zqtok <lora:other:1>") == with_bundle
    assert 'Skip bundle embedding: "zqtok"' in caplog.text


def test_a_bundled_embedding_of_another_width_is_skipped_not_used(app, data_dir):
    shared = app()
    width = shared.embeddings.expected_shape
    bundle_only_lora(data_dir / "models" / "Lora" / "wide.safetensors", "zqwide", vectors(width + 8, 3))
    plain = txt2img("a cat zqwide")
    assert txt2img("a cat zqwide <lora:wide:1>") == plain
    assert "zqwide" in shared.embeddings.skipped_embeddings and "zqwide" not in shared.embeddings.word_embeddings
