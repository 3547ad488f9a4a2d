"""The first /sdapi/v1 routes, through FastAPI's TestClient, against A1111's field names and values."""
from __future__ import annotations

import hashlib
import json
import os

import pytest
from fastapi.testclient import TestClient

from tests.reference_answers import RESPONSES


def reference(name: str):
    path = os.path.join(RESPONSES, f"{name}.json")
    if not os.path.exists(path):
        pytest.skip("no reference answers")
    with open(path) as f:
        return json.load(f)["body"]


def write_checkpoint(path, size=1024 * 1024 + 70000, seed=0):
    """A file big enough for the legacy hash (64 KiB at offset 1 MiB) with known bytes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = bytes((i * 7 + seed) % 251 for i in range(size))
    with open(path, "wb") as f:
        f.write(data)
    return data


@pytest.fixture
def client_for(started, restore_shared):
    def make(*flags: str) -> TestClient:
        from modules.app_server import create_app

        started("--nowebui", "--skip-load-model-at-start", *flags)
        return TestClient(create_app(restore_shared.cmd_opts, with_ui=False))

    return make


def test_sd_models_lists_both_folders_with_a1111_fields(client_for, data_dir, tmp_path, restore_shared):
    ckpt_dir = tmp_path / "more"
    write_checkpoint(str(data_dir / "models" / "Stable-diffusion" / "sub" / "one.safetensors"))
    write_checkpoint(str(ckpt_dir / "two.ckpt"), seed=3)
    (ckpt_dir / "two.yaml").write_text("model: {}\n")
    client = client_for("--ckpt-dir", str(ckpt_dir))
    items = client.get("/sdapi/v1/sd-models").json()
    assert [list(i) for i in items] == [list(reference("sd-models")[0])] * 2
    by_name = {i["model_name"]: i for i in items}
    assert set(by_name) == {"sub_one", "two"}
    assert by_name["two"]["config"] == str(ckpt_dir / "two.yaml")
    assert by_name["sub_one"]["title"] == os.path.join("sub", "one.safetensors")
    assert by_name["sub_one"]["hash"] is None  # sha256 is computed lazily, as A1111


def test_hashes_equal_independent_values_and_cache_is_reused(client_for, data_dir, restore_shared):
    path = data_dir / "models" / "Stable-diffusion" / "m.safetensors"
    data = write_checkpoint(str(path))
    client = client_for()
    info = restore_shared.checkpoints.get_closest_match("m")
    assert info.hash == hashlib.sha256(data[0x100000:0x100000 + 0x10000]).hexdigest()[:8]
    info.calculate_shorthash()
    full = hashlib.sha256(data).hexdigest()
    item = client.get("/sdapi/v1/sd-models").json()[0]
    assert item["sha256"] == full and item["hash"] == full[:10]
    assert item["title"] == f"m.safetensors [{full[:10]}]"

    # a new start reads the hash from the cache, without hashing the file again
    from modules.core import hashing

    real = hashing.calculate_sha256
    hashing.calculate_sha256 = lambda *a, **k: pytest.fail("hashed again")
    try:
        client = client_for()
        assert client.get("/sdapi/v1/sd-models").json()[0]["sha256"] == full
    finally:
        hashing.calculate_sha256 = real

    # the file changes: the cached value is not used any more
    new = write_checkpoint(str(path), seed=9)
    os.utime(path, (os.path.getmtime(path) + 10, os.path.getmtime(path) + 10))
    client.post("/sdapi/v1/refresh-checkpoints")
    info = restore_shared.checkpoints.get_closest_match("m")
    assert info.sha256 is None
    info.calculate_shorthash()
    assert client.get("/sdapi/v1/sd-models").json()[0]["sha256"] == hashlib.sha256(new).hexdigest()


def test_refresh_checkpoints_picks_up_new_file(client_for, data_dir):
    client = client_for()
    assert client.get("/sdapi/v1/sd-models").json() == []
    write_checkpoint(str(data_dir / "models" / "Stable-diffusion" / "new.ckpt"))
    assert client.post("/sdapi/v1/refresh-checkpoints").status_code == 200
    assert [i["model_name"] for i in client.get("/sdapi/v1/sd-models").json()] == ["new"]


def test_options_get_has_every_a1111_key_with_a1111_values(client_for):
    ours = client_for().get("/sdapi/v1/options").json()
    theirs = reference("options")
    assert list(theirs) == [k for k in ours if k in theirs]
    differ = {k for k in theirs if ours[k] != theirs[k]}
    # run-specific values of the reference: its loaded model and absolute output paths
    assert differ <= {"sd_model_checkpoint", "sd_checkpoint_hash"} | {k for k in theirs if k.startswith("outdir_")}
    for k in differ:
        if k.startswith("outdir_"):
            assert theirs[k].replace("<data-dir>/", "") == ours[k]


def test_options_post_round_trips_through_config_json(client_for, data_dir):
    client = client_for()
    r = client.post("/sdapi/v1/options", json={"samples_format": "jpg", "jpeg_quality": 95, "my_ext_key": [1, "a"]})
    assert r.status_code == 200
    saved = json.loads((data_dir / "config.json").read_text())
    assert saved["samples_format"] == "jpg" and saved["jpeg_quality"] == 95 and saved["my_ext_key"] == [1, "a"]
    got = client.get("/sdapi/v1/options").json()
    assert got["samples_format"] == "jpg" and got["my_ext_key"] == [1, "a"]
    # a restart reads the same values back
    again = client_for().get("/sdapi/v1/options").json()
    assert again == got


def test_options_wrong_type_is_422_naming_the_key_and_changes_nothing(client_for, data_dir):
    client = client_for()
    client.post("/sdapi/v1/options", json={"samples_format": "jpg"})
    before = (data_dir / "config.json").read_bytes()
    r = client.post("/sdapi/v1/options", json={"samples_format": "webp", "jpeg_quality": "high"})
    assert r.status_code == 422
    assert r.json()["key"] == "jpeg_quality" and "jpeg_quality" in r.json()["detail"]
    assert (data_dir / "config.json").read_bytes() == before
    assert client.get("/sdapi/v1/options").json()["samples_format"] == "jpg"
    assert client.post("/sdapi/v1/options", json={"jpeg_quality": 70}).status_code == 200


def test_options_unknown_checkpoint_is_422_naming_it(client_for):
    r = client_for().post("/sdapi/v1/options", json={"sd_model_checkpoint": "nope.safetensors"})
    assert r.status_code == 422 and "nope.safetensors" in r.json()["detail"]


def test_options_frozen_is_403(client_for):
    r = client_for("--freeze-specific-settings", "samples_format").post("/sdapi/v1/options", json={"samples_format": "jpg"})
    assert r.status_code == 403 and r.json()["key"] == "samples_format"


def test_corrupt_config_json_server_still_answers(client_for, data_dir):
    (data_dir / "config.json").write_text('{"samples_format": ')
    client = client_for()
    assert client.get("/sdapi/v1/options").json()["samples_format"] == "png"
    assert client.post("/sdapi/v1/options", json={"samples_format": "jpg"}).status_code == 200
    assert json.loads((data_dir / "config.json").read_text())["samples_format"] == "jpg"


def test_cmd_flags_has_a1111_keys(client_for, data_dir):
    flags = client_for().get("/sdapi/v1/cmd-flags").json()
    # every flag, the built-in extensions' (LDSR, Lora, ScuNET, SwinIR) last, as in A1111
    from modules.core.cmd_args import PROJECT_FLAGS

    assert [k for k in flags if k not in PROJECT_FLAGS] == list(reference("cmd-flags"))
    assert set(PROJECT_FLAGS) <= set(flags)  # this project's flags, listed too
    assert flags["data_dir"] == str(data_dir) and flags["nowebui"] is True
    assert flags["embeddings_dir"] == str(data_dir / "embeddings")
    assert flags["swinir_models_path"] == str(data_dir / "models" / "SwinIR")
    assert flags["lora_dir"] == str(data_dir / "models" / "Lora")


def test_listing_routes_match_a1111(client_for, data_dir):
    client = client_for()
    assert client.get("/sdapi/v1/face-restorers").json() == reference("face-restorers")
    assert client.get("/sdapi/v1/sd-vae").json() == reference("sd-vae")
    assert client.get("/sdapi/v1/latent-upscale-modes").json() == reference("latent-upscale-modes")
    assert client.get("/sdapi/v1/realesrgan-models").json() == reference("realesrgan-models")
    names = [u["name"] for u in client.get("/sdapi/v1/upscalers").json()]
    assert names[:3] == ["None", "Lanczos", "Nearest"] and "R-ESRGAN 4x+" in names
    vae = data_dir / "models" / "VAE" / "my.vae.safetensors"
    vae.write_bytes(b"x")
    client.post("/sdapi/v1/refresh-vae")
    assert client.get("/sdapi/v1/sd-vae").json() == [{"model_name": "my.vae.safetensors", "filename": str(vae)}]


def test_no_cors_by_default_and_allowed_origin_when_asked(client_for):
    r = client_for().get("/sdapi/v1/options", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = client_for("--cors-allow-origins", "http://ok.example").get("/sdapi/v1/options", headers={"Origin": "http://ok.example"})
    assert r.headers["access-control-allow-origin"] == "http://ok.example"
