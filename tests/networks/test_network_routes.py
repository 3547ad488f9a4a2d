"""``/sdapi/v1/loras``, ``/sdapi/v1/refresh-loras`` and ``/sdapi/v1/hypernetworks`` as A1111 answers them,
the extension's flags, names and aliases, and user metadata."""
from __future__ import annotations

import json
import os

import pytest
import torch
from fastapi.testclient import TestClient

from tests.networks.lora_files import lora_tensors, write

from tests.reference_answers import RESPONSES


def reference(name: str):
    path = os.path.join(RESPONSES, f"{name}.json")
    if not os.path.exists(path):
        pytest.skip("no reference answers")
    with open(path) as f:
        return json.load(f)


@pytest.fixture
def client(started, restore_shared):
    def make(*flags: str) -> TestClient:
        from modules.app_server import create_app

        started("--nowebui", "--skip-load-model-at-start", *flags)
        return TestClient(create_app(restore_shared.cmd_opts, with_ui=False))

    return make


def test_loras_route_answers_like_a1111(client, data_dir):
    expected = reference("loras")
    c = client()
    r = c.get("/sdapi/v1/loras")
    assert r.status_code == expected["status"] and r.json() == expected["body"]

    folder = data_dir / "models" / "Lora"
    write(str(folder / "style.safetensors"), lora_tensors("lora_unet_x", 4, 4, 2, 1.0, 0),
          {"ss_output_name": "nice_style", "ss_tag_frequency": '{"a": {"b": 1}}', "ss_sd_model_name": "v1-5"})
    write(str(data_dir / "models" / "LyCORIS" / "old.safetensors"), lora_tensors("lora_unet_x", 4, 4, 2, 1.0, 1))
    assert c.get("/sdapi/v1/loras").json() == []  # listed once; new files appear after a refresh, as in A1111
    r = c.post("/sdapi/v1/refresh-loras")
    assert r.status_code == 200 and r.json() is None
    items = c.get("/sdapi/v1/loras").json()
    assert [list(i) for i in items] == [["name", "alias", "path", "metadata"]] * 2
    style, old = items
    assert style["name"] == "style" and style["alias"] == "nice_style" and style["path"] == str(folder / "style.safetensors")
    # metadata: JSON-looking values parsed, the well-known keys first
    assert list(style["metadata"]) == ["ss_sd_model_name", "ss_tag_frequency", "ss_output_name"]
    assert style["metadata"]["ss_tag_frequency"] == {"a": {"b": 1}}
    assert old == {"name": "old", "alias": "old", "path": str(data_dir / "models" / "LyCORIS" / "old.safetensors"),
                   "metadata": {}}


def test_lora_dir_flags_and_cmd_flags(client, tmp_path):
    other = tmp_path / "elsewhere"
    write(str(other / "a.safetensors"), lora_tensors("lora_unet_x", 4, 4, 2, 1.0, 0))
    c = client("--lora-dir", str(other))
    flags = c.get("/sdapi/v1/cmd-flags").json()
    assert flags["lora_dir"] == str(other)
    assert flags["lyco_dir_backcompat"].endswith(os.path.join("models", "LyCORIS"))
    assert [i["name"] for i in c.get("/sdapi/v1/loras").json()] == ["a"]


def test_names_aliases_forbidden_aliases_versions_and_user_metadata(tmp_path):
    from modules.networks.lora.network_files import NetworkFiles, SdVersion

    folder = tmp_path / "Lora"
    t = lora_tensors("lora_unet_x", 4, 4, 2, 1.0, 0)
    write(str(folder / "a.safetensors"), t, {"ss_output_name": "shared_alias", "ss_base_model_version": "sdxl_base_v1-0"})
    write(str(folder / "b.safetensors"), t, {"ss_output_name": "shared_alias", "ss_v2": "True"})
    write(str(folder / "c.safetensors"), t, {"ss_output_name": "None"})
    write(str(folder / "d.safetensors"), t)
    torch.save(t, folder / "e.pt")
    (folder / "d.json").write_text(json.dumps({"activation text": "trigger", "preferred weight": 0.8,
                                               "notes": "n", "sd version": "SD2"}))
    files = NetworkFiles(lambda: [str(folder)])
    files.ensure_listed()
    assert list(files.available) == ["a", "b", "c", "d", "e"]
    found = files.resolve(["shared_alias", "None", "c", "e"])
    assert found[0] is None and found[1] is None  # an alias two files share, and "none", reach no file
    assert found[2].name == "c" and found[3].name == "e"
    assert files.available["a"].sd_version is SdVersion.SDXL and files.available["b"].sd_version is SdVersion.SD2
    assert files.available["d"].sd_version is SdVersion.Unknown
    assert files.available["d"].effective_sd_version is SdVersion.SD2
    assert files.available["d"].user_metadata["activation text"] == "trigger"
    assert files.available["a"].get_alias() == "a" and files.available["c"].get_alias() == "c"


def test_hypernetworks_route(started, data_dir, restore_shared):
    from modules.app_server import create_app
    from modules.networks.extra_networks import registry
    from modules.networks.hypernetworks.setup import reload_hypernetworks, setup_hypernetworks

    (data_dir / "models" / "hypernetworks" / "sub").mkdir(parents=True)
    started("--nowebui", "--skip-load-model-at-start")
    expected = reference("hypernetworks")
    try:
        setup_hypernetworks()
        c = TestClient(create_app(restore_shared.cmd_opts, with_ui=False))
        r = c.get("/sdapi/v1/hypernetworks")
        assert r.status_code == expected["status"] and r.json() == expected["body"]
        path = data_dir / "models" / "hypernetworks" / "sub" / "Anime.pt"
        torch.save({"layer_structure": [1, 2, 1]}, path)
        torch.save({}, data_dir / "models" / "hypernetworks" / "None.pt")
        reload_hypernetworks()
        assert c.get("/sdapi/v1/hypernetworks").json() == [{"name": "Anime", "path": str(path)}]
        assert restore_shared.hypernetworks == {"Anime": str(path)}
    finally:
        registry.unregister("hypernet")
        for name in ("hypernetworks_registry", "hypernetworks", "loaded_hypernetworks"):
            vars(restore_shared).pop(name, None)
