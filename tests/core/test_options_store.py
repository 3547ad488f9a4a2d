"""Settings: type-checked set, atomic config.json, corrupt files moved aside, unknown keys kept."""
from __future__ import annotations

import json
import os

import pytest

from modules.core.options.catalogue import build_catalogue
from modules.core.options.option_info import OptionInfo
from modules.core.options.store import (
    OptionFrozenError,
    Options,
    OptionValueError,
    SettingsRestrictions,
    atomic_write_json,
)


def fresh() -> Options:
    return Options(build_catalogue())


def test_defaults_read_as_attributes():
    opts = fresh()
    assert opts.samples_format == "png"
    assert opts.CLIP_stop_at_last_layers == 1
    assert opts.sd_model_checkpoint is None
    with pytest.raises(AttributeError):
        opts.no_such_setting  # noqa: B018


def test_set_changes_value_and_reports_change():
    opts = fresh()
    assert opts.set("samples_format", "jpg") is True
    assert opts.samples_format == "jpg"
    assert opts.set("samples_format", "jpg") is False


@pytest.mark.parametrize("key,value", [
    ("samples_format", 5), ("samples_save", "yes"), ("jpeg_quality", "80"), ("jpeg_quality", 80.5),
    ("quicksettings_list", "sd_model_checkpoint"), ("CLIP_stop_at_last_layers", True), ("samples_format", None),
])
def test_wrong_type_rejected_with_key_named(key, value):
    opts = fresh()
    before = opts.as_dict()
    with pytest.raises(OptionValueError) as e:
        opts.set(key, value)
    assert e.value.key == key
    assert opts.as_dict() == before


def test_int_accepted_for_float_and_whole_float_for_int():
    opts = fresh()
    opts.set("cfg_scale_placeholder_unknown", 1)  # unknown keys accept anything
    opts.set("code_former_weight", 1)
    assert opts.code_former_weight == 1
    opts.set("jpeg_quality", 90.0)
    assert opts.jpeg_quality == 90.0


def test_set_many_is_all_or_nothing():
    opts = fresh()
    with pytest.raises(OptionValueError) as e:
        opts.set_many({"samples_format": "jpg", "jpeg_quality": "high"})
    assert e.value.key == "jpeg_quality"
    assert opts.samples_format == "png"


def test_save_load_round_trip_keeps_unknown_keys(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"my_extension_key": {"a": [1, 2]}, "samples_format": "webp"}))
    opts = fresh()
    opts.load(str(path), aside_dir=str(tmp_path / "tmp"))
    assert opts.samples_format == "webp"
    opts.set("jpeg_quality", 95)
    opts.save()
    saved = json.loads(path.read_text())
    assert saved["my_extension_key"] == {"a": [1, 2]}
    assert saved["jpeg_quality"] == 95
    assert saved["samples_format"] == "webp"
    again = fresh()
    again.load(str(path), aside_dir=str(tmp_path / "tmp"))
    assert again.as_dict() == opts.as_dict()


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "", "\xff\xfe garbage"])
def test_corrupt_config_moved_aside_and_defaults_used(tmp_path, content):
    path = tmp_path / "config.json"
    path.write_bytes(content.encode("latin-1"))
    opts = fresh()
    opts.load(str(path), aside_dir=str(tmp_path / "tmp"))
    assert opts.samples_format == "png"
    assert not path.exists()
    assert (tmp_path / "tmp" / "config.json").read_bytes() == content.encode("latin-1")


def test_second_corrupt_file_does_not_overwrite_the_first(tmp_path):
    for content in ("{bad1", "{bad2"):
        (tmp_path / "config.json").write_text(content)
        fresh().load(str(tmp_path / "config.json"), aside_dir=str(tmp_path / "tmp"))
    kept = sorted(p.read_text() for p in (tmp_path / "tmp").iterdir())
    assert kept == ["{bad1", "{bad2"]


def test_bad_typed_value_in_file_falls_back_to_default(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"jpeg_quality": "best", "samples_format": "jpg"}))
    opts = fresh()
    assert opts.load(str(path), aside_dir=str(tmp_path)) == 1
    assert opts.jpeg_quality == 80 and opts.samples_format == "jpg"
    assert "jpeg_quality" in capsys.readouterr().out


def test_atomic_write_leaves_old_file_when_serialising_fails(tmp_path):
    path = tmp_path / "config.json"
    atomic_write_json(str(path), {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(str(path), {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["config.json"]


def test_frozen_settings():
    opts = fresh()
    opts.restrictions = SettingsRestrictions(freeze_all=True)
    with pytest.raises(OptionFrozenError):
        opts.set("samples_format", "jpg")
    opts.restrictions = SettingsRestrictions(frozen_keys=frozenset({"samples_format"}))
    with pytest.raises(OptionFrozenError):
        opts.set("samples_format", "jpg")
    assert opts.set("jpeg_quality", 50)


def test_restrict_api_options_skipped_silently_for_api():
    opts = fresh()
    opts.add_option("secret_path", OptionInfo("a", "Secret", restrict_api=True))
    assert opts.set("secret_path", "b", is_api=True) is False
    assert opts.secret_path == "a"
    assert opts.set("secret_path", "b") is True


def test_onchange_called_and_rolled_back_on_error():
    opts = fresh()
    calls = []
    opts.onchange("samples_format", lambda: calls.append(opts.samples_format), call=False)
    opts.set("samples_format", "jpg")
    assert calls == ["jpg"]

    def fail():
        raise RuntimeError("cannot load")

    opts.onchange("jpeg_quality", fail, call=False)
    with pytest.raises(RuntimeError):
        opts.set("jpeg_quality", 10)
    assert opts.jpeg_quality == 80


def test_extension_add_option_and_attribute_assignment():
    opts = fresh()
    opts.add_option("my_ext_strength", OptionInfo(0.5, "Strength", "Slider", {"minimum": 0, "maximum": 1}, section=("my", "My")))
    assert opts.my_ext_strength == 0.5
    opts.my_ext_strength = 0.7
    assert opts.data["my_ext_strength"] == 0.7
    assert opts.data_labels["my_ext_strength"].component_name == "Slider"
