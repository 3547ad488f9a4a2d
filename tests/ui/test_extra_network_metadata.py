"""The checkpoint card's user metadata: "Preferred VAE" is offered from the install's VAEs, saved into
``<checkpoint>.json`` and then chosen for that checkpoint by the VAE rules (A1111's "from user metadata")."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file


def test_preferred_vae_is_offered_saved_and_used(started, data_dir):
    from modules.models.tiny_factory import make_tiny_checkpoint

    checkpoint = make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name="tiny-v")
    vae_dir = data_dir / "models" / "VAE"
    vae_dir.mkdir(parents=True, exist_ok=True)
    save_file({"decoder.conv_in.weight": torch.zeros(1)}, str(vae_dir / "better.vae.safetensors"))
    started("--skip-load-model-at-start")
    from modules import shared
    from modules.models.vae_selection import resolve_vae
    from modules.ui.extra_network_pages import UserMetadataError, find_item, save_user_metadata, user_metadata_view

    page, item = find_item("checkpoints", "tiny-v")
    view = user_metadata_view(page, item)
    assert "vae" in view["fields"] and view["values"]["vae"] == "Automatic"
    assert view["vae_choices"] == ["Automatic", "None", "better.vae.safetensors"]

    def chosen():
        return resolve_vae(str(checkpoint), shared.opts, shared.cmd_opts, shared.vae_files.vae_dict)

    assert chosen().source == "the checkpoint's own"
    save_user_metadata(page, item, {"vae": "better.vae.safetensors", "notes": "sharper"})
    stored = json.loads(checkpoint.with_suffix(".json").read_text())
    assert stored == {"vae": "better.vae.safetensors", "notes": "sharper"}
    assert (chosen().path, chosen().source) == (str(vae_dir / "better.vae.safetensors"), "from user metadata")
    save_user_metadata(page, item, {"vae": "None"})
    assert (chosen().path, chosen().source) == (None, "from user metadata")
    with pytest.raises(UserMetadataError, match="not a VAE of this install"):
        save_user_metadata(page, item, {"vae": "../../elsewhere.pt"})
    assert json.loads(checkpoint.with_suffix(".json").read_text())["vae"] == "None"


def test_replace_preview_accepts_pictures_only(started, data_dir):
    import base64
    import io

    from PIL import Image

    from modules.models.tiny_factory import make_tiny_checkpoint

    checkpoint = make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name="tiny-p")
    started("--skip-load-model-at-start")
    from modules.ui.extra_network_pages import UserMetadataError, find_item, replace_preview

    _, item = find_item("checkpoints", "tiny-p")
    for bad in ("", "http://127.0.0.1/secret", "data:image/png;base64,bm90IGEgcGljdHVyZQ==", None):
        with pytest.raises(UserMetadataError):
            replace_preview(item, bad)
    assert not checkpoint.with_suffix(".png").exists()
    picture = Image.new("RGB", (8, 6), (1, 2, 3))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG")
    path = replace_preview(item, "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode())
    assert path == str(checkpoint.with_suffix(".png"))
    assert Image.open(path).size == (8, 6) and Image.open(path).format == "PNG"


def test_training_tags_are_summed_over_datasets_most_frequent_first():
    from modules.ui.extra_network_pages import training_tags

    metadata = {"ss_tag_frequency": {"a": {"cat": 3, " dog ": 1, "": 5}, "b": {"cat": 2, "bird": 4, "x": "n/a"}}}
    assert training_tags(metadata) == [("cat", 5), ("bird", 4), ("dog", 1)]
    assert training_tags({}) == [] and training_tags({"ss_tag_frequency": "broken"}) == []
