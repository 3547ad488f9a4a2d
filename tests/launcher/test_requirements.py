"""The requirements check: satisfied files start no process; anything else runs pip once with -r."""
from __future__ import annotations

import subprocess

import pytest

from modules.launcher.requirements import install_requirements, iter_requirement_lines, requirements_met, unmet_requirements
from modules.launcher.settings import LaunchSettings
from tests.launcher.conftest import FakeRunner

INSTALLED = {"torch": "2.14.1+cu128", "gradio": "6.31.0", "pillow": "12.3.0", "open-clip-torch": "3.3.0", "numpy": "2.1.0"}


def lookup(name: str):
    return INSTALLED.get(name.lower().replace("_", "-"))


def settings(**over) -> LaunchSettings:
    base = dict(python="/py", git="git", index_url="", torch_command="pip install torch", requirements_file=None,
                xformers_package="xformers", live_output=False)
    base.update(over)
    return LaunchSettings(**base)


def write(tmp_path, text: str, name: str = "req.txt") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_parses_every_line_form(tmp_path):
    write(tmp_path, "numpy>=2\n", "more.txt")
    path = write(tmp_path, (
        "# a comment\n\n"
        "torch==2.14.1  # trailing comment\n"
        "gradio>=6,<7\n"
        "Pillow\n"
        "open_clip_torch[extra]==3.3.0\n"
        "--extra-index-url https://example.invalid/simple\n"
        "-r more.txt\n"
        "pywin32==306; sys_platform == 'win32'\n"
    ))
    texts = [line.text for line in iter_requirement_lines(path)]
    assert texts == ["torch==2.14.1", "gradio>=6,<7", "Pillow", "open_clip_torch[extra]==3.3.0", "numpy>=2",
                     "pywin32==306; sys_platform == 'win32'"]
    # local version (+cu128) matches a plain pin; names compare in PEP 503 form; a false marker is skipped
    assert unmet_requirements(path, lookup) == []


def test_satisfied_file_starts_no_process(tmp_path, monkeypatch):
    path = write(tmp_path, "torch==2.14.1\ngradio\nPillow>=10\n")

    def forbidden(*args, **kwargs):
        raise AssertionError("a subprocess was started")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    runner = FakeRunner(fail=lambda c: pytest.fail("runner called"))
    assert install_requirements(path, settings=settings(), runner=runner, version_of=lookup) is False
    assert runner.calls == []


def test_satisfied_with_real_metadata(tmp_path):
    # against the real environment: pytest itself is installed at its own version
    import importlib.metadata

    version = importlib.metadata.version("pytest")
    path = write(tmp_path, f"pytest=={version}\nPyTest>=1\n")
    assert requirements_met(path)


@pytest.mark.parametrize("line, reason", [
    ("missing-package==1.0", "missing-package is not installed"),
    ("gradio==5.0", "gradio 6.31.0 is installed, ==5.0 is required"),
    ("numpy<2", "numpy 2.1.0 is installed, <2 is required"),
    ("-e .", "cannot check"),
])
def test_unmet_lines_run_pip_with_the_file(tmp_path, line, reason):
    path = write(tmp_path, f"torch==2.14.1\n{line}\n")
    assert reason in unmet_requirements(path, lookup)[0]
    runner = FakeRunner()
    assert install_requirements(path, settings=settings(index_url="http://mirror/simple"), runner=runner, version_of=lookup)
    assert runner.calls == [["/py", "-m", "pip", "install", "-r", path, "--prefer-binary", "--index-url", "http://mirror/simple"]]
    assert runner.kwargs[0]["desc"] == "Installing requirements"


def test_skip_install_makes_pip_a_noop(tmp_path):
    path = write(tmp_path, "missing-package==1.0\n")
    runner = FakeRunner()
    assert install_requirements(path, settings=settings(), skip_install=True, runner=runner, version_of=lookup) is False
    assert runner.calls == []


def test_missing_file_is_skipped_with_a_message(tmp_path, capsys):
    runner = FakeRunner()
    assert install_requirements(str(tmp_path / "nope.txt"), settings=settings(), runner=runner) is False
    assert "Requirements file not found" in capsys.readouterr().out
    assert runner.calls == []
