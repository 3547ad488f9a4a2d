"""Live previews: Approx NN and TAESD load from the models folder; a missing file falls back to Approx cheap."""
from __future__ import annotations

import torch

from modules.models.preview_decoders import VAEApprox, load_preview_decoder, taesd_decoder
from modules.processing.live_preview import latent_to_preview


def test_taesd_layout_matches_the_published_key_names(tmp_path):
    keys = set(taesd_decoder().state_dict())
    # the published taesd_decoder.pth: Sequential indices, Block convs at .conv.0/.2/.4
    assert {"1.weight", "1.bias", "3.conv.0.weight", "3.conv.4.bias", "7.weight", "12.weight", "17.weight",
            "18.conv.0.weight", "19.weight", "19.bias"} <= keys
    assert "7.bias" not in keys  # the convs after each upsample have no bias
    assert len([k for k in keys if k.endswith("weight")]) == 1 + 10 * 3 + 3 + 1


def test_decoders_load_from_models_folder_and_decode(tmp_path):
    (tmp_path / "VAE-taesd").mkdir()
    (tmp_path / "VAE-approx").mkdir()
    torch.save(taesd_decoder().state_dict(), tmp_path / "VAE-taesd" / "taesd_decoder.pth")
    torch.save(VAEApprox().state_dict(), tmp_path / "VAE-approx" / "model.pt")
    latent = torch.randn(1, 4, 8, 8)
    taesd = load_preview_decoder("TAESD", str(tmp_path), is_sdxl=False)
    assert taesd(latent).shape == (1, 3, 64, 64)
    approx = load_preview_decoder("Approx NN", str(tmp_path), is_sdxl=False)
    out = approx(latent)
    assert out.shape == (1, 3, 16, 16) and 0 <= out.min() and out.max() <= 1
    assert load_preview_decoder("TAESD", str(tmp_path), is_sdxl=True) is None


def test_missing_preview_model_falls_back_with_a_notice(app, capsys):
    shared = app()
    shared.opts.set("show_progress_type", "TAESD")
    image = latent_to_preview(torch.randn(1, 4, 8, 8))
    assert image.size == (8, 8)  # Approx cheap is latent-sized
    assert "taesd_decoder.pth" in capsys.readouterr().out
    shared.opts.set("show_progress_type", "Full")
    assert latent_to_preview(torch.randn(1, 4, 8, 8)).size == (64, 64)
