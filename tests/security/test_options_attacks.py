"""Options that poisoned live servers, replayed through the HTTP API (TestClient).

After each refused attack the server still answers ``GET /sdapi/v1/options`` with
200, ``config.json`` is byte for byte what it was, and a normal change still works.
"""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SMALL, preserved_shared, start_app

OPTIONS = "/sdapi/v1/options"

EXTENSION_SCRIPT = '''
import os

from modules import scripts

# importing this script is what "the extension ran" means here
with open(os.path.join(os.environ["OPTIONS_ATTACK_MARKER_DIR"], "evil-ran"), "w") as f:
    f.write("ran")


class Evil(scripts.Script):
    def title(self):
        return "evil"

    def show(self, is_img2img):
        return scripts.AlwaysVisible
'''


@pytest.fixture
def client_for(started, restore_shared, data_dir):
    def make(*flags: str) -> TestClient:
        from modules.app_server import create_app

        started("--nowebui", "--skip-load-model-at-start", *flags)
        return TestClient(create_app(restore_shared.cmd_opts, with_ui=False))

    return make


def raw_post(client: TestClient, body: str):
    """POST a JSON text as written (lone surrogates and NaN cannot be made by ``json=``)."""
    return client.post(OPTIONS, content=body.encode("ascii"), headers={"Content-Type": "application/json"})


def assert_still_serving(client: TestClient, config, before: bytes) -> None:
    r = client.get(OPTIONS)
    assert r.status_code == 200, r.text
    json.loads(r.content)
    assert config.read_bytes() == before
    assert client.post(OPTIONS, json={"jpeg_quality": 81}).status_code == 200
    assert client.get(OPTIONS).json()["jpeg_quality"] == 81


@pytest.mark.parametrize("body, key", [
    ('{"samples_filename_pattern": "\\ud800"}', "samples_filename_pattern"),
    ('{"jpeg_quality": 90, "samples_filename_pattern": "x\\udfff"}', "samples_filename_pattern"),
    ('{"my_extension_key": "\\ud800"}', "my_extension_key"),
    ('{"my_extension_key": NaN}', "my_extension_key"),
    ('{"cfg_unknown": [1, Infinity]}', "cfg_unknown"),
    ('{"CLIP_stop_at_last_layers": 1000000000}', "CLIP_stop_at_last_layers"),
    ('{"samples_format": "../../x"}', "samples_format"),
    ('{"grid_format": "png/../../../x"}', "grid_format"),
    ('{"jpeg_quality": -5}', "jpeg_quality"),
    ('{"outdir_samples": "../outside"}', "outdir_samples"),
    ('{"outdir_txt2img_grids": "/tmp/elsewhere"}', "outdir_txt2img_grids"),
    ('{"temp_dir": "/"}', "temp_dir"),
    ('{"directories_filename_pattern": "../../../x_[seed]"}', "directories_filename_pattern"),
    ('{"samples_filename_pattern": "/etc/cron.d/[seed]"}', "samples_filename_pattern"),
    ('{"sd_vae": "../../model.ckpt"}', "sd_vae"),
    ('{"randn_source": "GPU; rm -rf /"}', "randn_source"),
])
def test_poisoning_values_are_422_and_change_nothing(client_for, data_dir, body, key):
    client = client_for()
    assert client.post(OPTIONS, json={"samples_format": "jpg"}).status_code == 200
    config = data_dir / "config.json"
    before = config.read_bytes()
    r = raw_post(client, body)
    assert r.status_code == 422, r.text
    assert r.json()["key"] == key and key in r.json()["detail"]
    assert client.get(OPTIONS).json()["samples_format"] == "jpg"
    assert_still_serving(client, config, before)


def test_a_refused_value_takes_the_good_ones_of_its_request_with_it(client_for, data_dir):
    client = client_for()
    client.post(OPTIONS, json={})
    before = (data_dir / "config.json").read_bytes()
    r = client.post(OPTIONS, json={"samples_format": "webp", "jpeg_quality": 60, "CLIP_stop_at_last_layers": 13})
    assert r.status_code == 422 and r.json()["key"] == "CLIP_stop_at_last_layers"
    got = client.get(OPTIONS).json()
    assert got["samples_format"] == "png" and got["jpeg_quality"] == 80
    assert_still_serving(client, data_dir / "config.json", before)


def test_failed_save_is_answered_and_changes_nothing(client_for, data_dir, monkeypatch):
    from modules.core.options import store

    client = client_for()
    client.post(OPTIONS, json={"samples_format": "jpg"})
    before = (data_dir / "config.json").read_bytes()

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_bytes_atomically", disk_full)
    r = client.post(OPTIONS, json={"samples_format": "webp"})
    assert r.status_code == 500 and "nothing was changed" in r.json()["detail"]
    assert client.get(OPTIONS).json()["samples_format"] == "jpg"
    monkeypatch.undo()
    assert_still_serving(client, data_dir / "config.json", before)


def test_a1111_clients_posting_the_whole_answer_back_still_work(client_for, data_dir):
    client = client_for("--listen", "--freeze-specific-settings", "samples_format")
    everything = client.get(OPTIONS).json()
    r = client.post(OPTIONS, json={**everything, "jpeg_quality": 70})
    assert r.status_code == 200, r.text
    assert client.get(OPTIONS).json()["jpeg_quality"] == 70


def test_folders_outside_the_data_dir_need_gradio_allowed_path(client_for, data_dir, tmp_path):
    elsewhere = tmp_path / "pictures"
    r = client_for().post(OPTIONS, json={"outdir_samples": str(elsewhere)})
    assert r.status_code == 422 and "--gradio-allowed-path" in r.json()["detail"]
    client = client_for("--gradio-allowed-path", str(elsewhere))
    assert client.post(OPTIONS, json={"outdir_samples": str(elsewhere / "sd")}).status_code == 200
    assert client.post(OPTIONS, json={"outdir_grids": str(data_dir / "outputs" / "grids")}).status_code == 200


# --- extensions ---------------------------------------------------------------------------------------------------

def add_evil_extension(data_dir, tmp_path, monkeypatch):
    folder = data_dir / "extensions" / "evil" / "scripts"
    folder.mkdir(parents=True)
    (folder / "evil.py").write_text(EXTENSION_SCRIPT)
    monkeypatch.setenv("OPTIONS_ATTACK_MARKER_DIR", str(tmp_path))
    (data_dir / "config.json").write_text(json.dumps({"disabled_extensions": ["evil"]}))
    return tmp_path / "evil-ran"


@pytest.mark.parametrize("body", [
    {"disabled_extensions": [], "disable_all_extensions": "none"},
    {"disabled_extensions": []},
    {"jpeg_quality": 50, "disable_all_extensions": "extra"},
    {"restore_config_state_file": "config_states/evil.json"},
])
def test_listening_server_refuses_extension_settings_and_reload_keeps_them_off(client_for, data_dir, tmp_path,
                                                                               monkeypatch, restore_shared, body):
    from modules.runtime.ui_reload import reload_scripts_and_lists

    ran = add_evil_extension(data_dir, tmp_path, monkeypatch)
    client = client_for("--listen")
    before = (data_dir / "config.json").read_bytes()
    r = client.post(OPTIONS, json=body)
    assert r.status_code == 403, r.text
    assert r.json()["key"] in body and "--enable-insecure-extension-access" in r.json()["detail"]
    assert client.get(OPTIONS).json()["disabled_extensions"] == ["evil"]
    assert client.get(OPTIONS).json()["jpeg_quality"] == 80
    # even a value that got into memory some other way does not turn the extension on at Reload UI
    restore_shared.opts.data["disabled_extensions"] = []
    reload_scripts_and_lists()
    assert [e.enabled for e in restore_shared.extensions if e.name == "evil"] == [False]
    assert not ran.exists()
    restore_shared.opts.data["disabled_extensions"] = ["evil"]
    assert_still_serving(client, data_dir / "config.json", before)


def test_local_server_still_lets_its_owner_enable_extensions(client_for, data_dir, tmp_path, monkeypatch, restore_shared):
    from modules.runtime.ui_reload import reload_scripts_and_lists

    ran = add_evil_extension(data_dir, tmp_path, monkeypatch)
    client = client_for()
    assert not ran.exists()
    assert client.post(OPTIONS, json={"disabled_extensions": []}).status_code == 200
    reload_scripts_and_lists()
    assert [e.enabled for e in restore_shared.extensions if e.name == "evil"] == [True]
    assert ran.exists()


def test_insecure_extension_access_flag_allows_the_change(client_for):
    client = client_for("--listen", "--enable-insecure-extension-access")
    assert client.post(OPTIONS, json={"disable_all_extensions": "extra"}).status_code == 200


# --- override_settings of a generation ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    with preserved_shared() as shared:
        app = start_app(data_dir, checkpoints=("tiny-a",))
        with TestClient(app) as client:
            yield client, shared, data_dir


@pytest.mark.parametrize("override, key", [
    ({"CLIP_stop_at_last_layers": 1000000000}, "CLIP_stop_at_last_layers"),
    ({"samples_format": "../../x"}, "samples_format"),
    ({"jpeg_quality": -5}, "jpeg_quality"),
    ({"outdir_samples": "../outside"}, "outdir_samples"),
    ({"outdir_txt2img_samples": "/tmp/elsewhere"}, "outdir_txt2img_samples"),
    ({"directories_filename_pattern": "../../../x_[seed]"}, "directories_filename_pattern"),
    ({"samples_filename_pattern": "../../[seed]"}, "samples_filename_pattern"),
])
def test_override_settings_are_checked_like_options(tiny, override, key):
    client, shared, data_dir = tiny
    before = client.get(OPTIONS).json()
    outside = {p.name for p in data_dir.parent.iterdir()}
    r = client.post("/sdapi/v1/txt2img", json=dict(SMALL, steps=1, override_settings=override))
    assert r.status_code == 422, r.text
    assert r.json()["key"] in (key, "override_settings") and key in r.json()["detail"]
    assert client.get(OPTIONS).json() == before
    assert {p.name for p in data_dir.parent.iterdir()} == outside


def test_after_refused_overrides_good_ones_still_generate_and_save(tiny):
    client, _, data_dir = tiny
    r = client.post("/sdapi/v1/txt2img", json=dict(SMALL, steps=1, save_images=True, override_settings={
        "CLIP_stop_at_last_layers": 2, "samples_format": "jpg", "jpeg_quality": 90.0,
        "directories_filename_pattern": "sub/[seed]"}))
    assert r.status_code == 200, r.text
    saved = list((data_dir / "outputs" / "txt2img-images" / "sub").rglob("*.jpg"))
    assert len(saved) == 1
