"""The checkpoint merger: A1111's three methods on every ``model`` key, tensor for tensor, the 9/8-channel rules,
names, metadata with the merge recipe, VAE baking, discarded weights, the config beside the result, and refusals
that write nothing."""
from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from modules.models.merger import MergeError, MergeRequest, merge_checkpoints
from modules.models.tiny_factory import make_tiny_checkpoint

EXTRA_KEY = "extra_schedule_values"  # no "model" in the name: A1111 keeps it as in A
POSITION_IDS = "cond_stage_model.transformer.text_model.embeddings.position_ids"


@pytest.fixture
def merger(started, data_dir):
    """Three tiny SD1 checkpoints (A, B, C), an inpainting and an InstructPix2Pix one; returns (shared, folder)."""
    folder = data_dir / "models" / "Stable-diffusion"
    for seed, name in enumerate(("tiny-a", "tiny-b", "tiny-c")):
        path = make_tiny_checkpoint("sd1", folder, name=name, seed=seed)
        tensors = load_file(str(path))
        tensors[EXTRA_KEY] = torch.full((3,), float(seed))
        tensors[POSITION_IDS] = torch.arange(77)[None] + seed
        save_file(tensors, str(path), metadata={"modelspec.title": name, f"own_{name}": "yes"})
    make_tiny_checkpoint("sd1-inpaint", folder, name="tiny-inpaint", seed=5)
    make_tiny_checkpoint("instruct-pix2pix", folder, name="tiny-ip2p", seed=6)
    shared = started("--skip-load-model-at-start")
    from modules import shared as live

    return live, folder


def merge(shared, **kw) -> str:
    request = MergeRequest(**{"primary": "tiny-a", **kw})
    return merge_checkpoints(request, shared.checkpoints, dict(shared.vae_files.vae_dict), state=shared.state)


def tensors(folder, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(folder / f"{name}.safetensors"))


def test_weighted_sum_is_a_times_one_minus_m_plus_b_times_m(merger):
    shared, folder = merger
    out = merge(shared, secondary="tiny-b", interp_method="Weighted sum", multiplier=0.3)
    assert os.path.basename(out) == "0.7(tiny-a) + 0.3(tiny-b).safetensors"
    a, b, result = tensors(folder, "tiny-a"), tensors(folder, "tiny-b"), load_file(out)
    assert set(result) == set(a)
    merged = [k for k in a if "model" in k and k != POSITION_IDS]
    assert len(merged) > 100
    for key in merged:
        assert torch.equal(result[key], (1 - 0.3) * a[key] + 0.3 * b[key]), key
    assert not torch.equal(result[merged[0]], a[merged[0]])
    assert torch.equal(result[EXTRA_KEY], a[EXTRA_KEY]) and torch.equal(result[POSITION_IDS], a[POSITION_IDS])


def test_add_difference_is_a_plus_m_times_b_minus_c(merger):
    shared, folder = merger
    out = merge(shared, secondary="tiny-b", tertiary="tiny-c", interp_method="Add difference", multiplier=0.5,
                custom_name="diffed")
    assert os.path.basename(out) == "diffed.safetensors"
    a, b, c, result = (tensors(folder, n) for n in ("tiny-a", "tiny-b", "tiny-c", "diffed"))
    for key in (k for k in a if "model" in k and k != POSITION_IDS):
        assert torch.equal(result[key], a[key] + 0.5 * (b[key] - c[key])), key
    assert merge(shared, secondary="tiny-b", tertiary="tiny-c", interp_method="Add difference",
                 multiplier=0.5).endswith("tiny-a + 0.5(tiny-b - tiny-c).safetensors")


def test_metadata_recipe_names_the_inputs_by_sha256(merger):
    shared, folder = merger
    out = merge(shared, secondary="tiny-b", multiplier=0.25, metadata_json='{"author": "me"}')
    with safe_open(out, "pt") as f:
        metadata = f.metadata()
    sha = {n: hashlib.sha256((folder / f"{n}.safetensors").read_bytes()).hexdigest() for n in ("tiny-a", "tiny-b")}
    recipe = json.loads(metadata["sd_merge_recipe"])
    assert recipe["type"] == "webui" and recipe["interp_method"] == "Weighted sum" and recipe["multiplier"] == 0.25
    assert (recipe["primary_model_hash"], recipe["secondary_model_hash"], recipe["tertiary_model_hash"]) == \
        (sha["tiny-a"], sha["tiny-b"], None)
    models = json.loads(metadata["sd_merge_models"])
    assert models[sha["tiny-b"]]["name"] == "tiny-b.safetensors" and set(models) == set(sha.values())
    assert metadata["author"] == "me" and metadata["format"] == "pt"
    assert metadata["own_tiny-a"] == metadata["own_tiny-b"] == "yes", "fields copied from both inputs"
    # the new checkpoint is listed, with its hash in the title
    created = shared.checkpoints.get_closest_match("0.75(tiny-a) + 0.25(tiny-b)")
    assert created is not None and created.shorthash == hashlib.sha256(open(out, "rb").read()).hexdigest()[:10]
    plain = merge(shared, secondary="tiny-b", custom_name="bare", save_metadata=False)
    with safe_open(plain, "pt") as f:
        assert not f.metadata()


def test_inpainting_a_with_a_normal_b_merges_the_shared_channels_only(merger):
    shared, folder = merger
    key = "model.diffusion_model.input_blocks.0.0.weight"
    out = merge(shared, primary="tiny-inpaint", secondary="tiny-b", multiplier=0.5, custom_name="painted")
    assert out.endswith("painted.inpainting.safetensors")
    a, b, result = tensors(folder, "tiny-inpaint"), tensors(folder, "tiny-b"), load_file(out)
    assert result[key].shape[1] == 9
    assert torch.equal(result[key][:, :4], 0.5 * a[key][:, :4] + 0.5 * b[key])
    assert torch.equal(result[key][:, 4:], a[key][:, 4:])
    assert merge(shared, primary="tiny-ip2p", secondary="tiny-b", custom_name="edit").endswith(
        "edit.instruct-pix2pix.safetensors")
    with pytest.raises(MergeError, match="A must be the inpainting model"):
        merge(shared, primary="tiny-a", secondary="tiny-inpaint", custom_name="never")
    assert not list(folder.glob("never*"))


def test_no_interpolation_converts_halves_discards_and_bakes_a_vae(merger, data_dir):
    shared, folder = merger
    a = tensors(folder, "tiny-a")
    vae = {k.removeprefix("first_stage_model."): torch.randn_like(v) for k, v in a.items()
           if k.startswith("first_stage_model.")}
    vae_dir = data_dir / "models" / "VAE"
    vae_dir.mkdir(parents=True, exist_ok=True)
    save_file(vae, str(vae_dir / "other.vae.safetensors"))
    shared.vae_files.refresh()
    out = merge(shared, interp_method="No interpolation", save_as_half=True, bake_in_vae="other.vae.safetensors",
                discard_weights=r"^model_ema\.|extra_", checkpoint_format="ckpt", custom_name="converted")
    assert out.endswith("converted.ckpt")
    from modules.models.checkpoint_io import read_checkpoint

    result = read_checkpoint(out)  # the safe loader reads what the merger wrote
    assert EXTRA_KEY not in result
    assert all(v.dtype == torch.float16 for k, v in result.items() if v.is_floating_point())
    for key, value in vae.items():
        assert torch.equal(result["first_stage_model." + key], value.half())
    key = "model.diffusion_model.out.2.weight"
    assert torch.equal(result[key], a[key].half())


def test_config_of_a_is_copied_beside_the_result(merger):
    shared, folder = merger
    out = merge(shared, secondary="tiny-b", custom_name="with-config")
    assert (folder / "with-config.yaml").read_text() == (folder / "tiny-a.yaml").read_text()
    merge(shared, secondary="tiny-b", custom_name="no-config", config_source=3)
    assert not (folder / "no-config.yaml").exists() and os.path.exists(out)


@pytest.mark.parametrize("kw, message", [
    (dict(primary=""), "requires a primary model"),
    (dict(secondary=""), "requires a secondary model"),
    (dict(secondary="tiny-b", interp_method="Add difference"), "requires a tertiary model"),
    (dict(secondary="nope"), "secondary checkpoint 'nope' not found"),
    (dict(secondary="tiny-b", discard_weights="(unclosed"), "not a valid regular expression"),
    (dict(secondary="tiny-b", custom_name="../escape"), "not a file name"),
    (dict(secondary="tiny-b", custom_name="sub/x"), "not a file name"),
    (dict(secondary="tiny-b", metadata_json="{broken"), "not valid JSON"),
    (dict(secondary="tiny-b", bake_in_vae="missing.pt"), "VAE 'missing.pt' not found"),
])
def test_requests_that_cannot_be_done_are_refused_and_write_nothing(merger, kw, message):
    shared, folder = merger
    before = sorted(os.listdir(folder))
    with pytest.raises(MergeError, match=message.replace("(", r"\(")):
        merge(shared, **kw)
    assert sorted(os.listdir(folder)) == before
    assert not os.path.exists(folder.parent / "escape.safetensors")


def test_the_tab_handler_merges_through_the_job_queue(merger):
    shared, folder = merger
    from modules.ui.merger_tab import run_merge

    result = run_merge("tiny-a", "tiny-b", "", "Weighted sum", 0.5, False, "from-ui", "safetensors", 0, "None", "",
                       True, True, True, "{}")
    assert result[-1] == f"Checkpoint saved to {folder / 'from-ui.safetensors'}"
    assert any("from-ui" in title for title in result[0]["choices"])
    refused = run_merge("", "tiny-b", "", "Weighted sum", 0.5, False, "", "safetensors", 0, "None", "", True, True,
                        True, "{}")
    assert "Merging requires a primary model" in refused[-1]
    assert shared.state.job == "" and shared.state.current_task_id is None
