"""YAML targets go through the allow-list; training-only keys are ignored; anything else is refused."""
from __future__ import annotations

import copy

import pytest
import torch

from modules.models.config_registry import MODEL_TARGETS, ConfigError, build_from_config
from modules.models.model_config import bundled_config, configs_dir, read_config
from modules.models.tiny_factory import tiny_config

A1111_CONFIG_NAMES = {"v1-inference.yaml", "v1-inpainting-inference.yaml", "v2-inference.yaml",
                      "v2-inference-v.yaml", "v2-inpainting-inference.yaml", "sd_xl_base.yaml",
                      "sd_xl_refiner.yaml", "sd_xl_inpaint.yaml", "instruct-pix2pix.yaml"}


def build_meta(config):
    with torch.device("meta"):
        return build_from_config(config, "test.yaml")


def test_bundled_configs_exist_and_build():
    assert A1111_CONFIG_NAMES <= {p.name for p in configs_dir().glob("*.yaml")}
    for name in A1111_CONFIG_NAMES:
        model = build_meta(read_config(bundled_config(name)))
        assert model.alphas_cumprod.dtype == torch.float32


def test_family_flags_and_parameterization():
    sd1 = build_meta(read_config(bundled_config("v1-inference.yaml")))
    sd2v = build_meta(read_config(bundled_config("v2-inference-v.yaml")))
    xl = build_meta(read_config(bundled_config("sd_xl_inpaint.yaml")))
    assert (sd1.is_sd1, sd1.is_sd2, sd1.is_sdxl, sd1.scale_factor, sd1.parameterization) == (
        True, False, False, 0.18215, "eps")
    assert (sd2v.is_sd1, sd2v.is_sd2, sd2v.parameterization) == (False, True, "v")
    assert (xl.is_sdxl, xl.is_sdxl_inpaint, xl.scale_factor) == (True, True, 0.13025)


def test_unknown_target_is_an_error_not_an_import():
    config = tiny_config("sd1")
    config["model"]["params"]["unet_config"]["target"] = "os.system"
    with pytest.raises(ConfigError, match=r"model\.params\.unet_config.*'os\.system' is not an allowed"):
        build_from_config(config, "evil.yaml")
    config = tiny_config("sd1")
    config["model"]["target"] = "subprocess.Popen"
    with pytest.raises(ConfigError, match="evil.yaml"):
        build_from_config(config, "evil.yaml")
    config = tiny_config("sd1")
    config["model"]["params"]["first_stage_config"]["params"]["lossconfig"]["target"] = "builtins.eval"
    with pytest.raises(ConfigError, match="lossconfig"):
        build_from_config(config, "evil.yaml")
    assert all(name.startswith(("ldm.", "sgm.", "modules.models.")) for name in MODEL_TARGETS)


def test_unknown_parameter_is_refused_known_training_keys_ignored():
    config = tiny_config("sd1")
    params = config["model"]["params"]
    params["ckpt_path"] = "/somewhere/else.ckpt"
    params["scheduler_config"] = {"target": "anything.at.All", "params": {"x": 1}}
    params["unet_config"]["params"]["use_checkpoint"] = True
    build_from_config(config, "ok.yaml")
    bad = copy.deepcopy(config)
    bad["model"]["params"]["unet_config"]["params"]["use_scale_shift_norm"] = True
    with pytest.raises(ConfigError, match="use_scale_shift_norm"):
        build_from_config(bad, "bad.yaml")
    bad = copy.deepcopy(config)
    bad["model"]["params"]["unet_config"]["params"]["mystery"] = 3
    with pytest.raises(ConfigError, match="mystery"):
        build_from_config(bad, "bad.yaml")


def test_text_versions_never_download():
    config = tiny_config("sd1")
    config["model"]["params"]["cond_stage_config"]["params"]["version"] = "someone/else-clip"
    with pytest.raises(ValueError, match="unknown CLIP text model version"):
        build_from_config(config, "x.yaml")


def test_interpolations_are_not_resolved(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("model:\n  target: ${oc.env:HOME}\n")
    config = read_config(path)
    assert config["model"]["target"] == "${oc.env:HOME}"
    with pytest.raises(ConfigError, match="not an allowed"):
        build_from_config(config, str(path))


def test_sdxl_v_scaling_selects_v():
    config = read_config(bundled_config("sd_xl_base.yaml"))
    scaling = config["model"]["params"]["denoiser_config"]["params"]["scaling_config"]
    scaling["target"] = "sgm.modules.diffusionmodules.denoiser_scaling.VScaling"
    assert build_meta(config).parameterization == "v"


def test_unreadable_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="broken.yaml"):
        read_config(path)
