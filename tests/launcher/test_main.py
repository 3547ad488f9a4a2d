"""launch(): argument assembly, --exit, --test-server, --dump-sysinfo, and the hand-over to webui."""
from __future__ import annotations

import glob
import json
import os
import re
import sys

import pytest

from modules.launcher.main import launch


@pytest.fixture
def started(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["launch.py"])
    calls = []

    def start(argv):
        calls.append(list(argv))
        return 7

    start.calls = calls
    return start


def run_launch(tmp_path, argv, environ=None, **kw):
    env = {"PATH": os.environ.get("PATH", "")}
    env.update(environ or {})
    install = tmp_path / "install"
    install.mkdir(exist_ok=True)
    rc = launch([*argv, "--data-dir", str(tmp_path / "data")], environ=env, install_dir=str(install), **kw)
    return rc, env


def test_commandline_args_come_after_real_args(tmp_path, started, capsys):
    rc, env = run_launch(tmp_path, ["--skip-prepare-environment", "--port", "1"], {"COMMANDLINE_ARGS": "--api --theme 'dark'"},
                         start=started)
    assert rc == 7
    data = str(tmp_path / "data")
    assert started.calls == [["--skip-prepare-environment", "--port", "1", "--data-dir", data, "--api", "--theme", "dark"]]
    assert sys.argv[1:] == started.calls[0]
    assert env["SD_WEBUI_ARGS_APPENDED"] == "1"
    assert env["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert "Launching Web UI with arguments: --skip-prepare-environment --port 1" in capsys.readouterr().out


def test_api_only_message_and_secrets_hidden_in_console(tmp_path, started, capsys):
    run_launch(tmp_path, ["--skip-prepare-environment", "--nowebui", "--api-auth", "me:hunter2"], start=started)
    out = capsys.readouterr().out
    assert "Launching API server with arguments:" in out
    assert "hunter2" not in out
    assert started.calls[0][-3:-2] == ["me:hunter2"]  # webui still gets the real value


def test_gradio_analytics_setting_kept(tmp_path, started):
    _rc, env = run_launch(tmp_path, ["--skip-prepare-environment"], {"GRADIO_ANALYTICS_ENABLED": "True"}, start=started)
    assert env["GRADIO_ANALYTICS_ENABLED"] == "True"


def test_exit_after_prepare(tmp_path, started, capsys):
    from tests.launcher.conftest import FakeRunner, has_torch

    runner = FakeRunner()
    rc, _env = run_launch(tmp_path, ["--skip-torch-cuda-test", "--exit"], runner=runner, find_spec=has_torch, start=started)
    assert rc == 0 and started.calls == []
    assert "Exiting because of --exit argument" in capsys.readouterr().out


def test_test_server_adds_flags(tmp_path, started):
    run_launch(tmp_path, ["--skip-prepare-environment", "--test-server", "--api"], start=started)
    argv = started.calls[0]
    assert argv.count("--api") == 1
    assert "--skip-torch-cuda-test" in argv and "--disable-nan-check" in argv


def test_bad_flag_value_is_an_error(tmp_path, started, capsys):
    rc, _env = run_launch(tmp_path, ["--port", "notanumber"], start=started)
    assert rc == 2 and started.calls == []
    assert "--port" in capsys.readouterr().err


def test_prepare_failure_is_reported_without_traceback(tmp_path, started, capsys):
    from tests.launcher.conftest import FakeRunner

    # torch is missing and TORCH_COMMAND fails: nothing can start
    runner = FakeRunner(fail=lambda c: "torch" in (c if isinstance(c, str) else " ".join(c)))
    rc, _env = run_launch(tmp_path, [], runner=runner, start=started, find_spec=lambda name: None)
    assert rc == 1 and started.calls == []
    err = capsys.readouterr().err
    assert "Couldn't install torch" in err and "Traceback" not in err


def test_no_gpu_warns_and_starts_on_the_cpu(tmp_path, started, capsys):
    from tests.launcher.conftest import FakeRunner

    runner = FakeRunner(fail=lambda c: isinstance(c, list) and "-c" in c)
    rc, _env = run_launch(tmp_path, [], runner=runner, start=started)
    assert rc == 7 and len(started.calls) == 1
    assert "Torch is not able to use GPU" in capsys.readouterr().out


def test_dump_sysinfo_writes_redacted_file(tmp_path, started, capsys):
    data = tmp_path / "data"
    (data / "extensions" / "my-ext").mkdir(parents=True)
    (data / "extensions" / "off-ext").mkdir()
    (data / "config.json").write_text(json.dumps({"sd_model_checkpoint": "model.safetensors", "disabled_extensions": ["off-ext"],
                                                  "civitai_api_key": "secret-config", "keyedit_precision_attention": 0.1}))
    argv = ["--dump-sysinfo", "--api-auth", "u:secret-a", "--gradio-auth=u:secret-b", "--ngrok", "secret-c"]
    environ = {"HF_TOKEN": "secret-d", "MY_PASSWORD": "secret-e", "COMMANDLINE_ARGS": "--ngrok secret-f --listen",
               "HTTPS_PROXY": "http://user:secret-g@proxy:8080", "SOME_SETTING": "visible"}
    rc, _env = run_launch(tmp_path, argv, environ, start=started)
    assert rc == 0 and started.calls == []
    files = glob.glob(str(data / "sysinfo-*.json"))
    assert len(files) == 1
    assert re.fullmatch(r"sysinfo-\d{4}-\d\d-\d\d-\d\d-\d\d\.json", os.path.basename(files[0]))
    text = open(files[0], encoding="utf8").read()
    assert "secret" not in text
    info = json.loads(text)
    assert info["Environment"]["SOME_SETTING"] == "visible"
    assert info["Environment"]["HF_TOKEN"] == "<redacted>"
    assert info["Environment"]["COMMANDLINE_ARGS"] == "--ngrok '<redacted>' --listen"
    assert "--listen" in info["Commandline"]
    assert info["Config"]["sd_model_checkpoint"] == "model.safetensors"
    assert info["Config"]["keyedit_precision_attention"] == 0.1
    assert [e["name"] for e in info["Extensions"]] == ["my-ext"]
    assert [e["name"] for e in info["Inactive extensions"]] == ["off-ext"]
    assert info["Python"] == ".".join(map(str, sys.version_info[:3]))
    assert "torch" in info["Versions"] and "CPU" in info and "RAM" in info
    assert info["Checksum"]
    assert "Sysinfo saved as" in capsys.readouterr().out
