"""A tiny SD1 app with a synthetic 4-picture dataset, an embedding and a hypernetwork to train."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image


def write_dataset(folder, size: int = 64) -> None:
    """Four 64x64 pictures: coloured stripes, captions from file names (two) and from .txt files (two)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(4):
        pixels = np.zeros((size, size, 3), np.uint8)
        pixels[..., i % 3] = 180
        pixels[:: 4 + i] = 60
        pixels = np.clip(pixels.astype(int) + rng.integers(0, 20, pixels.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:02d}-striped thing.png")
        if i >= 2:
            (folder / f"{i:02d}-striped thing.txt").write_text("red, stripes, thing", encoding="utf8")


@pytest.fixture
def training_app(app, tmp_path):
    """``(shared, dataset folder)``: tiny SD1 loaded, embedding ``tok`` (2 vectors) and hypernetwork ``hn`` created."""
    shared = app("sd1", "--api")
    dataset = tmp_path / "dataset"
    write_dataset(dataset)
    from modules.networks.hypernetworks.creation import create_hypernetwork
    from modules.prompting.textual_inversion.creation import create_embedding_and_reload

    create_embedding_and_reload("tok", 2, True, "cat")
    create_hypernetwork("hn", ["32"], True, "1, 2, 1", "relu", "Normal", True, True, "0, 0.1, 0")
    shared.opts.training_write_csv_every = 1
    yield shared, dataset
    shared.state.end()


def eval_loss(model, dataset, cond_fn, draws: int = 24) -> float:
    """The mean training loss over every picture with fixed timesteps and noise (the same before and after)."""
    from modules.training.diffusion_loss import diffusion_loss

    generator = torch.Generator().manual_seed(1234)
    latents = torch.stack([dataset[i].latent_sample for i in range(len(dataset))])
    total = 0.0
    with torch.no_grad():
        cond = cond_fn(len(dataset))
        for _ in range(draws):
            total += diffusion_loss(model, latents, cond, generator=generator).item()
    return total / draws


def strengthen_cross_attention(model, factor: float = 30.0) -> None:
    """The random tiny UNet barely listens to its text context; scaling every cross-attention's output makes the
    conditioning matter, so what an embedding or hypernetwork learns shows in the loss."""
    with torch.no_grad():
        for name, module in model.model.diffusion_model.named_modules():
            if name.endswith("attn2.to_out.0"):
                module.weight.mul_(factor)
