"""The README's run command, end to end: the launcher brings the server up with no checkpoint at all.

Runs ``./webui.sh -f`` exactly as the README says (plus a data dir), in API-only mode on
A1111's port 7861 and as the web UI on 7860, and reads what a user would see.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands() -> list[str]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf8") as f:
        return re.findall(r"```bash\n(.+?)\n```", f.read())


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start(command: str, data_dir, port: int, *flags: str) -> subprocess.Popen:
    if not port_free(port):
        pytest.skip(f"port {port} is in use on this machine")
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    env.pop("COMMANDLINE_ARGS", None)
    return subprocess.Popen(f"{command} --data-dir {data_dir} {' '.join(flags)}", shell=True, cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 120) -> bytes:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout}s")


def stop(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out


def test_readme_has_exactly_two_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].startswith("./webui.sh") and commands[1] == "./run_tests.sh"
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert "./run_tests.sh" in f.read()


@pytest.mark.slow
def test_run_command_serves_api_on_7861_without_checkpoint(tmp_path):
    proc = start(readme_commands()[0], tmp_path, 7861, "--nowebui")
    try:
        models = json.loads(wait_for("http://127.0.0.1:7861/sdapi/v1/sd-models", proc))
        options = json.loads(wait_for("http://127.0.0.1:7861/sdapi/v1/options", proc))
    finally:
        out = stop(proc)
    assert models == [] and options["samples_format"] == "png"
    sd_dir = str(tmp_path / "models" / "Stable-diffusion")
    assert "No checkpoints found" in out and sd_dir in out
    assert "Launching API server with arguments" in out and "Startup time" in out


@pytest.mark.slow
def test_run_command_serves_web_ui_on_7860_and_says_where_to_put_a_checkpoint(tmp_path):
    proc = start(readme_commands()[0], tmp_path, 7860)
    try:
        page = wait_for("http://127.0.0.1:7860/", proc, timeout=180)
        config = json.loads(wait_for("http://127.0.0.1:7860/config", proc))
    finally:
        stop(proc)
    assert b"<html" in page.lower()
    texts = json.dumps(config)
    assert "No checkpoint found" in texts and str(tmp_path / "models" / "Stable-diffusion") in texts
    assert '"elem_id": "setting_sd_model_checkpoint"' in texts
