"""webui.sh, run with bash in a temp copy, with a fake python that records its arguments."""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest

from modules.core.paths import INSTALL_DIR

FAKE_PYTHON = textwrap.dedent("""\
    #!/usr/bin/env bash
    # records each launch as one line: the arguments separated by '|', then the restart variables
    if [[ "$1" == "-c" ]]; then exit 0; fi
    if [[ "$1" == "-m" && "$2" == "venv" ]]; then
        mkdir -p "$3/bin"; printf 'export VIRTUAL_ENV=1\\n' > "$3/bin/activate"
        cp "$0" "$3/bin/python"; echo "venv $3" >> "$LOG"; exit 0
    fi
    (IFS='|'; echo "$*|RESTART=$SD_WEBUI_RESTART|RESTARTING=${SD_WEBUI_RESTARTING:-}|cwd=$PWD|CLA=${COMMANDLINE_ARGS:-}") >> "$LOG"
    n=$(wc -l < "$LOG")
    if [[ -n "$RESTARTS" && $n -le $RESTARTS ]]; then mkdir -p tmp; touch tmp/restart; exit 0; fi
    exit ${EXIT_CODE:-0}
""")


@pytest.fixture
def checkout(tmp_path):
    """A copy of webui.sh in a folder that looks like a checkout, with a fake python."""
    root = tmp_path / "webui"
    root.mkdir()
    shutil.copy(os.path.join(INSTALL_DIR, "webui.sh"), root / "webui.sh")
    (root / "launch.py").write_text("")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    (root / "webui-user.sh").write_text(f'venv_dir="-"\npython_cmd="{fake}"\n')
    return root


def run_sh(root, *args, log=None, **env_over):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "COMMANDLINE_ARGS", "VIRTUAL_ENV", "ACCELERATE")}
    env.update(NO_TCMALLOC="1", LOG=str(log or root.parent / "log.txt"))
    env.update(env_over)
    return subprocess.run(["bash", str(root / "webui.sh"), *args], cwd=str(root.parent), env=env, capture_output=True,
                          text=True, timeout=60)


def launches(root) -> list[list[str]]:
    try:
        lines = (root.parent / "log.txt").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [line.split("|") for line in lines]


@pytest.mark.skipif(os.geteuid() != 0, reason="root refusal needs the tests to run as root")
def test_refuses_root_without_f(checkout):
    result = run_sh(checkout, "--api")
    assert result.returncode == 1
    assert "must not be launched as root" in result.stderr
    assert launches(checkout) == []


def test_passes_all_arguments_to_launch_script(checkout):
    result = run_sh(checkout, "-f", "--api", "two words", "--port=9")
    assert result.returncode == 0, result.stderr
    (launch,) = launches(checkout)
    assert launch[:6] == ["-u", "launch.py", "-f", "--api", "two words", "--port=9"]
    assert "RESTART=tmp/restart" in launch
    assert f"cwd={checkout}" in launch


def test_restart_loop_relaunches_while_marker_exists(checkout):
    result = run_sh(checkout, "-f", "--x", RESTARTS="2", EXIT_CODE="5")
    assert result.returncode == 5  # the last launch's exit status
    runs = launches(checkout)
    assert len(runs) == 3
    assert all(run[:4] == ["-u", "launch.py", "-f", "--x"] for run in runs)
    assert [r for r in runs[0] if r.startswith("RESTARTING")] == ["RESTARTING="]
    assert "RESTARTING=1" in runs[1] and "RESTARTING=1" in runs[2]
    assert not (checkout / "tmp" / "restart").exists()


def test_custom_launch_script_and_commandline_args_untouched(checkout):
    (checkout / "webui-user.sh").write_text((checkout / "webui-user.sh").read_text()
                                            + 'export LAUNCH_SCRIPT="other.py"\nexport COMMANDLINE_ARGS="--listen"\n')
    result = run_sh(checkout, "-f")
    assert result.returncode == 0, result.stderr
    launch = launches(checkout)[0]
    assert launch[:3] == ["-u", "other.py", "-f"]
    assert "CLA=--listen" in launch  # exported for launch.py to append, not added to the arguments


def test_creates_venv_on_first_run(checkout):
    user = (checkout / "webui-user.sh").read_text().replace('venv_dir="-"', 'venv_dir="myvenv"')
    (checkout / "webui-user.sh").write_text(user)
    result = run_sh(checkout, "-f")
    assert result.returncode == 0, result.stderr
    log = (checkout.parent / "log.txt").read_text().splitlines()
    assert log[0] == "venv myvenv"
    assert (checkout / "myvenv" / "bin" / "python").is_file()
    assert "pip" not in result.stdout  # no pip upgrade over the network


def test_clones_when_not_inside_a_checkout(tmp_path, checkout):
    source = tmp_path / "source"
    source.mkdir()
    (source / "launch.py").write_text("")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "launch.py"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", *args], cwd=source, env=env, check=True)

    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(checkout / "webui.sh", lone / "webui.sh")
    user = (checkout / "webui-user.sh").read_text()
    (lone / "webui-user.sh").write_text(user + f'clone_url="{tmp_path / "missing"}"\n')
    result = run_sh(lone, "-f")
    assert result.returncode == 1
    assert "Couldn't clone" in result.stderr
    assert not (lone / "stable-diffusion-webui").exists()

    (lone / "webui-user.sh").write_text(user + f'clone_url="{source}"\n')
    result = run_sh(lone, "-f", log=tmp_path / "log.txt")
    assert result.returncode == 0, result.stderr
    assert (lone / "stable-diffusion-webui" / "launch.py").is_file()
    assert f"cwd={lone / 'stable-diffusion-webui'}" in launches(checkout)[0]
