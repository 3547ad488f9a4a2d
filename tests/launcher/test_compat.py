"""A1111 import paths: ``launch`` and ``modules.launch_utils`` for extensions' install.py files."""
from __future__ import annotations

import os
import subprocess
import sys

from modules.core.paths import INSTALL_DIR


def test_importing_launch_does_nothing_heavy():
    code = ("import sys, launch, modules.launch_utils, modules.extensions; "
            "heavy = [m for m in ('torch', 'gradio', 'webui') if m in sys.modules]; "
            "assert not heavy, heavy; print('ok')")
    env = {**os.environ, "PYTHONPATH": INSTALL_DIR}
    result = subprocess.run([sys.executable, "-c", code], cwd=INSTALL_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_launch_utils_args_are_lazy_and_include_commandline_args(monkeypatch):
    import launch
    import modules.launch_utils as lu

    monkeypatch.setattr(sys, "argv", ["install.py", "--xformers"])
    monkeypatch.setenv("COMMANDLINE_ARGS", "--skip-install --some-extension-flag")
    lu._args.cache_clear()
    try:
        assert lu.args.xformers and lu.args.skip_install
        assert launch.args is lu.args
        assert lu.run_pip("install surely-not-a-package", "nothing") == ""  # --skip-install: no pip
    finally:
        lu._args.cache_clear()
    assert launch.python == sys.executable
    for name in ("run", "run_pip", "is_installed", "repo_dir", "git_clone", "prepare_environment", "commit_hash", "git_tag"):
        assert callable(getattr(launch, name))
    assert lu.is_installed("pytest") and not lu.is_installed("surely-not-a-package")
    assert lu.repo_dir("BLIP") == os.path.join(INSTALL_DIR, "repositories", "BLIP")
