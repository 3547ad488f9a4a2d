"""The built-in "extra-options-section" extension: chosen settings inside txt2img/img2img, for one job only."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SMALL, preserved_shared, start_app
from tests.ui.conftest import Page, build_ui

CHOSEN = {"extra_options_txt2img": ["CLIP_stop_at_last_layers", "eta_noise_seed_delta"],
          "extra_options_img2img": ["CLIP_stop_at_last_layers"]}


def write_config(data_dir, settings: dict) -> str:
    path = data_dir / "config.json"
    path.write_text(json.dumps(settings, indent=4))
    return path.read_text()


def pixels(b64: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """An API app with a tiny SD1 checkpoint and two settings chosen for txt2img: (client, shared, data dir, config)."""
    data_dir = tmp_path_factory.mktemp("data")
    config = write_config(data_dir, CHOSEN)
    with preserved_shared() as shared:
        with TestClient(start_app(data_dir, checkpoints=("tiny-a",))) as client:
            yield client, shared, data_dir, config


def test_page_has_one_component_per_setting_in_columns_and_accordion(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_config(data_dir, {**CHOSEN, "extra_options_cols": 2, "extra_options_accordion": True})
    with preserved_shared() as shared:
        demo, config = build_ui(data_dir)
        page = Page(demo, config)
        from modules import scripts

        box = page.elem("extra_options_txt2img")
        assert box["type"] == "accordion" and box["props"]["label"] == "Options" and box["props"]["open"] is False
        assert page.elem("extra_options_img2img")["type"] == "accordion"

        script = next(s for s in scripts.scripts_txt2img.alwayson_scripts if s.title() == "Extra options")
        assert script.section == "extra_options" and script.setting_names == CHOSEN["extra_options_txt2img"]
        clip, ensd = script.comps
        assert (clip.label, clip.value, clip.minimum, clip.maximum) == ("Clip skip", 1, 1, 12)
        assert (ensd.label, ensd.value) == ("Eta noise seed delta", 0)
        i2i = next(s for s in scripts.scripts_img2img.alwayson_scripts if s.title() == "Extra options")
        assert i2i.setting_names == ["CLIP_stop_at_last_layers"] and len(i2i.comps) == 1

        # both settings share one row (two columns), in the tab's left column after the seed, before the scripts
        def row_of(node, target, rows=()):
            if node["id"] == target:
                return rows[-1]
            if type(demo.blocks.get(node["id"])).__name__ == "Row":
                rows = (*rows, node["id"])
            for child in node.get("children", []):
                found = row_of(child, target, rows)
                if found is not None:
                    return found
            return None

        assert row_of(config["layout"], clip._id) == row_of(config["layout"], ensd._id)
        assert page.order(["txt2img_seed", "extra_options_txt2img", "script_list"]) == [
            "txt2img_seed", "extra_options_txt2img", "script_list"]

        # infotext paste fills the components of settings that have an infotext label
        fields = [(c, t) for c, t in scripts.scripts_txt2img.infotext_fields if isinstance(t, str)]
        assert (clip, "Clip skip") in fields and (ensd, "ENSD") in fields
        from modules.ui import paste

        params = paste.parse_for_paste("a cat\nSteps: 5, Seed: 1, Clip skip: 2, ENSD: 31337")
        assert paste.value_for(clip, "Clip skip", params)["value"] == 2
        assert paste.value_for(ensd, "ENSD", params)["value"] == 31337
        # the override dropdown leaves alone what the extra options already show
        assert paste.override_settings_update(params, skip_fields={"Clip skip", "ENSD"})["value"] == []
        assert shared.opts.CLIP_stop_at_last_layers == 1


def test_no_settings_chosen_builds_an_empty_group(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with preserved_shared():
        demo, config = build_ui(data_dir)
        page = Page(demo, config)
        from modules import scripts

        assert page.elem("extra_options_txt2img")["type"] == "group"
        script = next(s for s in scripts.scripts_txt2img.alwayson_scripts if s.title() == "Extra options")
        assert script.comps == [] and script.setting_names == []


def test_script_info_lists_extra_options_for_both_tabs(api):
    client, *_ = api
    listed = client.get("/sdapi/v1/scripts").json()
    assert "extra options" in listed["txt2img"] and "extra options" in listed["img2img"]
    infos = {(i["name"], i["is_img2img"]): i for i in client.get("/sdapi/v1/script-info").json()}
    t2i, i2i = infos[("extra options", False)], infos[("extra options", True)]
    assert t2i["is_alwayson"] is True and i2i["is_alwayson"] is True
    assert [(a["label"], a["value"]) for a in t2i["args"]] == [("Clip skip", 1), ("Eta noise seed delta", 0)]
    assert [a["label"] for a in i2i["args"]] == ["Clip skip"]


def test_values_override_settings_for_the_job_only(api):
    client, shared, data_dir, config = api
    base = dict(SMALL, steps=2, seed=5)
    plain = client.post("/sdapi/v1/txt2img", json=base).json()
    assert "Clip skip" not in json.loads(plain["info"])["infotexts"][0]

    chosen = client.post("/sdapi/v1/txt2img", json=dict(base, alwayson_scripts={"extra options": {"args": [2, 31337]}}))
    assert chosen.status_code == 200, chosen.text
    infotext = json.loads(chosen.json()["info"])["infotexts"][0]
    assert "Clip skip: 2" in infotext and "ENSD: 31337" in infotext
    # the second-to-last CLIP layer conditions the picture: the same seed gives another picture
    assert np.abs(pixels(chosen.json()["images"][0]) - pixels(plain["images"][0])).max() > 0

    # for the job only: settings and config.json are as before
    assert shared.opts.CLIP_stop_at_last_layers == 1 and shared.opts.eta_noise_seed_delta == 0
    assert (data_dir / "config.json").read_text() == config
    again = client.post("/sdapi/v1/txt2img", json=base).json()
    assert np.array_equal(pixels(again["images"][0]), pixels(plain["images"][0]))


def test_explicit_override_settings_win_over_the_extra_options(api):
    client, shared, *_ = api
    body = dict(SMALL, steps=2, seed=5, override_settings={"CLIP_stop_at_last_layers": 3},
                alwayson_scripts={"extra options": {"args": [2, 0]}})
    infotext = json.loads(client.post("/sdapi/v1/txt2img", json=body).json()["info"])["infotexts"][0]
    assert "Clip skip: 3" in infotext and "ENSD" not in infotext
    assert shared.opts.CLIP_stop_at_last_layers == 1


def test_before_process_casts_ui_numbers_to_the_settings_type(api):
    from types import SimpleNamespace

    from modules import scripts

    script = next(s for s in scripts.scripts_txt2img.alwayson_scripts if s.title() == "Extra options")
    p = SimpleNamespace(override_settings={})
    script.before_process(p, 2.0, 7.0)
    assert p.override_settings == {"CLIP_stop_at_last_layers": 2, "eta_noise_seed_delta": 7}
    assert all(type(v) is int for v in p.override_settings.values())
