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


# --- all or nothing, saving, start-up ---------------------------------------------------------------------------

def saved_opts(tmp_path) -> tuple[Options, "os.PathLike"]:
    path = tmp_path / "config.json"
    opts = fresh()
    opts.load(str(path), aside_dir=str(tmp_path / "tmp"))
    opts.set_many({"samples_format": "jpg"}, save=True)
    return opts, path


def test_set_many_checks_everything_before_changing_anything(tmp_path):
    opts, path = saved_opts(tmp_path)
    before, memory = path.read_bytes(), opts.as_dict()
    for bad in ({"jpeg_quality": 50, "CLIP_stop_at_last_layers": 1000000000},
                {"jpeg_quality": 50, "samples_filename_pattern": "\ud800"},
                {"jpeg_quality": 50, "my_ext_key": float("nan")},
                {"jpeg_quality": 50, "samples_format": "../../x"}):
        with pytest.raises(OptionValueError):
            opts.set_many(bad, save=True)
        assert opts.as_dict() == memory and path.read_bytes() == before
    json.dumps(opts.as_dict(), ensure_ascii=False).encode("utf-8")  # what the options answer serialises


def test_failing_onchange_puts_every_value_back_and_reruns_the_handlers(tmp_path):
    opts, path = saved_opts(tmp_path)
    seen = []
    opts.onchange("jpeg_quality", lambda: seen.append(("jpeg_quality", opts.jpeg_quality)), call=False)

    def refuse():
        raise RuntimeError("cannot load")

    opts.onchange("sd_vae", refuse, call=False)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        opts.set_many({"jpeg_quality": 50, "sd_vae": "None"}, save=True)
    assert opts.jpeg_quality == 80 and opts.sd_vae == "Automatic"
    assert seen == [("jpeg_quality", 50), ("jpeg_quality", 80)]  # the app followed the new value, then the old
    assert path.read_bytes() == before


def test_failed_write_changes_nothing_in_memory_or_on_disk(tmp_path, monkeypatch):
    from modules.core.options import store

    opts, path = saved_opts(tmp_path)
    before = path.read_bytes()

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_bytes_atomically", disk_full)
    with pytest.raises(OSError):
        opts.set_many({"jpeg_quality": 50}, save=True)
    assert opts.jpeg_quality == 80 and path.read_bytes() == before


def test_save_serialises_before_writing_and_names_the_bad_key(tmp_path):
    opts, path = saved_opts(tmp_path)
    before = path.read_bytes()
    opts.data["smuggled"] = "\ud800"  # a value put in behind the store's back
    with pytest.raises(OptionValueError) as e:
        opts.save()
    assert e.value.key == "smuggled"
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["config.json"]


def test_stale_temporary_files_removed_at_start(tmp_path):
    from modules.core.options.store import remove_stale_temp_files

    config = tmp_path / "config.json"
    config.write_text("{}")
    stale, fresh_tmp = tmp_path / ".tmp-config.jsonab12cd", tmp_path / ".tmp-config.jsonzz99yy"
    other = tmp_path / ".tmp-ui-config.jsonab12cd"
    for f in (stale, fresh_tmp, other):
        f.write_text("{half")
    os.utime(stale, (1, 1))
    os.utime(other, (1, 1))
    assert remove_stale_temp_files(str(config)) == [str(stale)]
    assert not stale.exists() and fresh_tmp.exists() and other.exists() and config.exists()


def test_bootstrap_removes_stale_temporary_files(started, data_dir):
    leftover = data_dir / ".tmp-config.jsonq1w2e3"
    leftover.write_text('{"samples_format": ')
    os.utime(leftover, (1, 1))
    started("--nowebui", "--skip-load-model-at-start")
    assert not leftover.exists()


def test_unchanged_values_pass_even_when_frozen():
    opts = fresh()
    opts.restrictions = SettingsRestrictions(freeze_all=True)
    # a client posting back the whole options answer (A1111 skips unchanged values first)
    assert opts.set_many(opts.as_dict()) == []
    with pytest.raises(OptionFrozenError):
        opts.set_many({**opts.as_dict(), "jpeg_quality": 50})


@pytest.mark.parametrize("key, value", [
    ("disabled_extensions", []), ("disabled_extensions", ["a", "b"]), ("disable_all_extensions", "all"),
    ("restore_config_state_file", "config_states/x.json"),
])
def test_extension_settings_frozen_while_extension_access_is_off(key, value):
    opts = fresh()
    opts.restrictions = SettingsRestrictions(extension_access=False)
    with pytest.raises(OptionFrozenError) as e:
        opts.set(key, value if opts.data[key] != value else ["other"])
    assert e.value.key == key and "--enable-insecure-extension-access" in str(e.value)
    opts.set(key, opts.data[key])  # unchanged: fine
    opts.restrictions = SettingsRestrictions(extension_access=True)
    opts.set(key, value)


def test_extension_access_follows_the_flags():
    from modules.core.cmd_args import build_parser

    def restrictions(*flags):
        return SettingsRestrictions.from_cmd_opts(build_parser().parse_args(list(flags)))

    assert restrictions().extension_access is True
    for flag in (["--listen"], ["--share"], ["--server-name", "0.0.0.0"], ["--ngrok", "token"]):
        assert restrictions(*flag).extension_access is False, flag
    assert restrictions("--listen", "--enable-insecure-extension-access").extension_access is True


def test_startup_extension_settings_are_those_of_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"disabled_extensions": ["evil"], "disable_all_extensions": "extra"}))
    opts = fresh()
    opts.load(str(path), aside_dir=str(tmp_path / "tmp"))
    opts.set_many({"disabled_extensions": [], "disable_all_extensions": "none"})
    assert opts.startup_extension_settings == {"disable_all_extensions": "extra", "disabled_extensions": ["evil"],
                                               "restore_config_state_file": ""}


@pytest.mark.parametrize("value", [
    {"samples_filename_pattern": "\\ud800"}, {"CLIP_stop_at_last_layers": 1000000000}, {"jpeg_quality": -5},
    {"samples_format": "../../x"}, {"directories_filename_pattern": "../../../x_[seed]"},
    {"disabled_extensions": [{}]}, {"my_ext_key": "NaN"},
])
def test_bad_values_in_the_file_fall_back_to_defaults(tmp_path, value, capsys):
    path = tmp_path / "config.json"
    key = next(iter(value))
    text = json.dumps(value).replace('"NaN"', "NaN").replace("\\\\ud800", "\\ud800")
    path.write_text(text)
    opts = fresh()
    assert opts.load(str(path), aside_dir=str(tmp_path)) == 1
    assert opts.as_dict().get(key) == opts.get_default(key)
    assert key in capsys.readouterr().out
    json.dumps(opts.as_dict(), ensure_ascii=False, allow_nan=False).encode("utf-8")


def test_extension_setting_declared_later_keeps_a_good_saved_value_only(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"ext_a": 5, "ext_b": 50}))
    opts = fresh()
    opts.load(str(path), aside_dir=str(tmp_path))
    opts.add_option("ext_a", OptionInfo(1, "A", "Slider", {"minimum": 0, "maximum": 10, "step": 1}))
    opts.add_option("ext_b", OptionInfo(1, "B", "Slider", {"minimum": 0, "maximum": 10, "step": 1}))
    assert opts.ext_a == 5 and opts.ext_b == 1


def test_cast_value_for_infotext_strings():
    opts = fresh()
    assert opts.cast_value("CLIP_stop_at_last_layers", "2") == 2
    assert opts.cast_value("eta_noise_seed_delta", "31337.0") == 31337
    assert opts.cast_value("s_noise", "0.5") == 0.5
    assert opts.cast_value("tiling", "True") is True
    with pytest.raises(OptionValueError) as e:
        opts.cast_value("CLIP_stop_at_last_layers", "two")
    assert e.value.key == "CLIP_stop_at_last_layers"
