"""The flag set: A1111's 1.10.1 flags with their defaults; unknown flags are an error."""
from __future__ import annotations

import json
import os

import pytest

from modules.core.cmd_args import FlagError, build_parser, full_argv, is_listening_publicly, parse_flags
from modules.core.paths import resolve_path_flags

from tests.reference_answers import RESPONSES
SHARED = os.path.join(RESPONSES, "cmd-flags.json")
# Flags that built-in extensions add through preload.py (they come with those extensions).
EXTENSION_FLAGS = {"ldsr_models_path", "lora_dir", "lyco_dir_backcompat", "scunet_models_path", "swinir_models_path"}


def a1111_flags() -> dict:
    if not os.path.exists(SHARED):
        pytest.skip("shared/a1111-responses not present")
    with open(SHARED) as f:
        return json.load(f)["body"]


def test_every_a1111_flag_is_parsed_in_a1111_order():
    from modules.core.cmd_args import PROJECT_FLAGS

    ours = list(vars(build_parser().parse_args([])))
    theirs = [k for k in a1111_flags() if k not in EXTENSION_FLAGS]
    assert ours == theirs + list(PROJECT_FLAGS)  # this project's flags come after A1111's


def test_defaults_match_a1111_where_the_run_did_not_change_them():
    # the reference run used --nowebui --api --skip-torch-cuda-test ...; compare the flags it left alone
    changed_by_reference_run = {
        "skip_torch_cuda_test", "skip_prepare_environment", "data_dir", "config", "ckpt", "gfpgan_dir",
        "no_half", "embeddings_dir", "textual_inversion_templates_dir", "hypernetwork_dir", "localizations_dir",
        "codeformer_models_path", "gfpgan_models_path", "esrgan_models_path", "bsrgan_models_path",
        "realesrgan_models_path", "dat_models_path", "disable_nan_check", "use_cpu", "port", "ui_config_file",
        "ui_settings_file", "gradio_allowed_path", "styles_file", "api", "nowebui", "skip_version_check",
        "no_download_sd_model",
    }
    ours = vars(build_parser().parse_args([]))
    for key, value in a1111_flags().items():
        if key in EXTENSION_FLAGS or key in changed_by_reference_run:
            continue
        assert ours[key] == value, key


def test_unknown_flag_is_an_error_naming_it():
    with pytest.raises(FlagError, match="--no-such-flag"):
        parse_flags(["--no-such-flag"], environ={})


def test_unknown_flag_allowed_with_ignore_env():
    ns = parse_flags(["--no-such-flag", "--api"], environ={"IGNORE_CMD_ARGS_ERRORS": "1"})
    assert ns.api is True


def test_commandline_args_come_after_real_args():
    args = full_argv(["--port", "9000"], environ={"COMMANDLINE_ARGS": "--api --ckpt 'my model.safetensors'"})
    assert args == ["--port", "9000", "--api", "--ckpt", "my model.safetensors"]


def test_path_flags_follow_the_data_dir(tmp_path):
    ns = build_parser().parse_args(["--data-dir", str(tmp_path)])
    paths = resolve_path_flags(ns)
    assert ns.embeddings_dir == str(tmp_path / "embeddings")
    assert ns.ui_settings_file == str(tmp_path / "config.json")
    assert ns.ui_config_file == str(tmp_path / "ui-config.json")
    assert ns.esrgan_models_path == str(tmp_path / "models" / "ESRGAN")
    assert ns.hypernetwork_dir == str(tmp_path / "models" / "hypernetworks")
    assert ns.styles_file == [str(tmp_path / "styles.csv")]
    assert paths.sd_models_dir == str(tmp_path / "models" / "Stable-diffusion")
    assert paths.cache_dir == str(tmp_path / "cache")


def test_models_dir_and_single_folder_flags_override(tmp_path):
    ns = build_parser().parse_args(["--data-dir", str(tmp_path / "d"), "--models-dir", str(tmp_path / "m"),
                                    "--embeddings-dir", str(tmp_path / "e"), "--ui-settings-file", str(tmp_path / "c.json")])
    paths = resolve_path_flags(ns)
    assert paths.sd_models_dir == str(tmp_path / "m" / "Stable-diffusion")
    assert ns.gfpgan_models_path == str(tmp_path / "m" / "GFPGAN")
    assert paths.embeddings_dir == str(tmp_path / "e")
    assert paths.config_file == str(tmp_path / "c.json")
    assert paths.ui_config_file == str(tmp_path / "d" / "ui-config.json")


@pytest.mark.parametrize("flag", [["--share"], ["--listen"], ["--ngrok", "tok"], ["--server-name", "h"]])
def test_public_listening_flags(flag):
    assert is_listening_publicly(build_parser().parse_args(flag))


def test_local_by_default():
    assert not is_listening_publicly(build_parser().parse_args([]))
