"""Start-up: A1111's order, the live objects on modules.shared, model loading skipped or attempted."""
from __future__ import annotations

import json
import os

import pytest

from modules.core.cmd_args import FlagError
from modules.runtime.bootstrap import STARTUP_STEPS


def make_checkpoint(path, payload=b"weights"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(payload)


def test_steps_run_in_a1111_order_and_are_timed(started, capsys):
    result = started()
    assert result.steps_run == list(STARTUP_STEPS)
    assert result.timer.order == list(STARTUP_STEPS)
    assert all(v >= 0 for v in result.timer.records.values())


def test_order_is_observable_through_the_objects_each_step_needs(started, data_dir, restore_shared):
    # each step sees the previous steps' objects: record what existed when each registry was built
    seen = {}
    from modules.models.checkpoints import registry as checkpoint_registry
    from modules.postprocess import upscaler_registry

    original_refresh = checkpoint_registry.CheckpointRegistry.refresh
    original_upscalers = upscaler_registry.UpscalerRegistry.refresh

    def spy_checkpoints(self):
        seen["checkpoints"] = (restore_shared.cmd_opts is not None, restore_shared.upscalers is None,
                               restore_shared.face_restorers is None)
        return original_refresh(self)

    def spy_upscalers(self):
        seen.setdefault("upscalers", (restore_shared.face_restorers is not None, restore_shared.vae_files is None))
        return original_upscalers(self)

    checkpoint_registry.CheckpointRegistry.refresh = spy_checkpoints
    upscaler_registry.UpscalerRegistry.refresh = spy_upscalers
    try:
        restore_shared.upscalers = restore_shared.face_restorers = restore_shared.vae_files = None
        started()
    finally:
        checkpoint_registry.CheckpointRegistry.refresh = original_refresh
        upscaler_registry.UpscalerRegistry.refresh = original_upscalers
    assert seen == {"checkpoints": (True, True, True), "upscalers": (True, True)}


def test_live_objects_named_on_shared(started, data_dir, restore_shared):
    started("--api")
    shared = restore_shared
    assert shared.cmd_opts.api is True
    assert shared.paths.data_dir == str(data_dir)
    assert shared.opts.samples_format == "png"
    assert [u["name"] for u in shared.upscalers.as_api_list()][:3] == ["None", "Lanczos", "Nearest"]
    assert shared.sd_upscalers == shared.upscalers.upscalers
    assert os.path.isdir(data_dir / "models" / "Stable-diffusion")
    from modules import sd_models  # A1111 import path reads the live registry

    assert sd_models.checkpoints_list == {}


def test_no_checkpoint_says_where_to_put_one(started, data_dir, capsys):
    result = started()
    assert result.model_load == "no checkpoint"
    out = capsys.readouterr().out
    assert str(data_dir / "models" / "Stable-diffusion") in out


def test_skip_load_model_at_start(started, data_dir):
    make_checkpoint(str(data_dir / "models" / "Stable-diffusion" / "a.safetensors"))
    calls = []
    result = started("--skip-load-model-at-start", model_loader=calls.append)
    assert result.model_load == "skipped" and calls == []


def test_model_loader_called_with_selected_checkpoint(started, data_dir, restore_shared):
    make_checkpoint(str(data_dir / "models" / "Stable-diffusion" / "b.ckpt"))
    make_checkpoint(str(data_dir / "models" / "Stable-diffusion" / "a.safetensors"))
    calls = []
    result = started(model_loader=lambda info: calls.append(info.name) or "MODEL")
    assert result.model_load == "loaded"
    assert calls == ["a.safetensors"]
    assert restore_shared.sd_model == "MODEL"


def test_unknown_flag_stops_start_up_with_its_name(started):
    with pytest.raises(FlagError, match="--bogus"):
        started("--bogus")


def test_corrupt_config_does_not_stop_start_up(started, data_dir, restore_shared):
    (data_dir / "config.json").write_text("{ this is not json")
    started()
    assert restore_shared.opts.samples_format == "png"
    assert (data_dir / "tmp" / "config.json").read_text() == "{ this is not json"


def test_ui_settings_file_flag_is_read(started, data_dir, restore_shared, tmp_path):
    settings = tmp_path / "elsewhere.json"
    settings.write_text(json.dumps({"samples_format": "webp"}))
    started("--ui-settings-file", str(settings))
    assert restore_shared.opts.samples_format == "webp"
    assert restore_shared.opts.config_filename == str(settings)


def test_stray_checkpoint_moved_into_stable_diffusion(started, data_dir):
    make_checkpoint(str(data_dir / "models" / "stray.safetensors"))
    started("--skip-load-model-at-start")
    assert (data_dir / "models" / "Stable-diffusion" / "stray.safetensors").exists()
    assert not (data_dir / "models" / "stray.safetensors").exists()


def test_extension_preload_flag_and_script_loaded(started, data_dir, restore_shared):
    ext = data_dir / "extensions" / "my-ext"
    (ext / "scripts").mkdir(parents=True)
    (ext / "preload.py").write_text("def preload(parser):\n    parser.add_argument('--my-flag', default='x')\n")
    (ext / "scripts" / "s.py").write_text(
        "from modules import scripts, shared\n"
        "SEEN_OPTS = shared.opts\n"
        "class MyScript(scripts.Script):\n    def title(self):\n        return 'Mine'\n")
    (ext / "scripts" / "broken.py").write_text("raise RuntimeError('broken extension')\n")
    started("--my-flag", "y")
    assert restore_shared.cmd_opts.my_flag == "y"
    from modules import scripts

    mine = [c for c in scripts.scripts_data if c.path.startswith(str(ext))]
    assert [c.script_class().title() for c in mine] == ["Mine"]
    assert mine[0].module.SEEN_OPTS is restore_shared.opts
    assert [os.path.basename(p) for p, _ in restore_shared.scripts.errors] == ["broken.py"]


def test_disabled_extension_not_loaded(started, data_dir, restore_shared):
    ext = data_dir / "extensions" / "off-ext"
    (ext / "scripts").mkdir(parents=True)
    (ext / "scripts" / "s.py").write_text("raise RuntimeError('must not run')\n")
    (data_dir / "config.json").write_text(json.dumps({"disabled_extensions": ["off-ext"]}))
    started()
    assert restore_shared.scripts.errors == []


def test_ui_config_read_and_corrupt_one_moved_aside(started, data_dir, restore_shared, tmp_path):
    (data_dir / "ui-config.json").write_text('{"txt2img/Steps/value": 30, "other/x": 1}')
    started()
    ui = restore_shared.ui_config
    assert ui.get("txt2img/Steps/value") == 30
    assert ui.apply_default("txt2img/Steps/value", 20) == 30
    assert ui.apply_default("txt2img/CFG Scale/value", 7.0) == 7.0
    ui.save()
    import json as _json

    assert _json.loads((data_dir / "ui-config.json").read_text()) == {
        "txt2img/Steps/value": 30, "other/x": 1, "txt2img/CFG Scale/value": 7.0}

    other = tmp_path / "ui2.json"
    other.write_text("[broken")
    started("--ui-config-file", str(other))
    assert restore_shared.ui_config.data == {}
    assert (data_dir / "tmp" / "ui2.json").read_text() == "[broken"
