"""The other roads a setting takes: the Settings tab's Apply, a quicksetting, a pasted infotext."""
from __future__ import annotations

import pytest

from modules.processing.infotext_overrides import get_override_settings


@pytest.fixture
def app(started, data_dir, restore_shared):
    started("--nowebui", "--skip-load-model-at-start")
    restore_shared.opts.set_many({"jpeg_quality": 85}, save=True)
    return restore_shared


@pytest.mark.parametrize("key, value", [
    ("CLIP_stop_at_last_layers", 1000000000), ("jpeg_quality", -5), ("samples_format", "../../x"),
    ("samples_filename_pattern", "\ud800"), ("outdir_samples", "../outside"),
    ("directories_filename_pattern", "../../../x_[seed]"),
])
def test_settings_tab_apply_refuses_and_changes_nothing(app, data_dir, key, value):
    from modules.ui.settings_tab import run_settings

    before = (data_dir / "config.json").read_bytes()
    keys = ["samples_format", "jpeg_quality", key] if key not in ("samples_format", "jpeg_quality") else [key]
    values = ["webp", 70, value] if len(keys) == 3 else [value]
    _json, message = run_settings(keys, *values)
    assert "Nothing was changed" in message and key in message
    assert app.opts.samples_format == "png" and app.opts.jpeg_quality == 85
    assert (data_dir / "config.json").read_bytes() == before


def test_settings_tab_apply_with_good_values(app, data_dir):
    from modules.ui.settings_tab import run_settings

    _json, message = run_settings(["samples_format", "jpeg_quality"], "webp", 70.0)
    assert "2 settings changed" in message
    assert app.opts.jpeg_quality == 70 and type(app.opts.jpeg_quality) is int


@pytest.mark.parametrize("key, value", [("CLIP_stop_at_last_layers", 1000000000), ("sd_vae", "../../x.ckpt"),
                                        ("samples_format", "../../x")])
def test_quicksetting_refuses_and_keeps_the_old_value(app, data_dir, key, value):
    from modules.ui.quicksettings import apply_setting

    before = (data_dir / "config.json").read_bytes()
    old = getattr(app.opts, key)
    update, _json = apply_setting(key, value)
    assert update["value"] == old and getattr(app.opts, key) == old
    assert (data_dir / "config.json").read_bytes() == before


def test_pasted_infotext_offers_only_values_the_settings_take(app):
    params = {"Clip skip": "1000000000", "ENSD": "31337", "RNG": "Quantum", "Emphasis": "No norm", "Eta": "nan"}
    offered = {key: value for _label, key, value in get_override_settings(params, settings=app.opts)}
    assert offered == {"eta_noise_seed_delta": 31337, "emphasis": "No norm"}


def test_pasted_infotext_that_is_not_a_number_is_not_offered(app):
    assert get_override_settings({"Clip skip": "two"}, settings=app.opts) == []
