"""Nothing happens at import: no argument parsing, no files written, no heavy imports on the API start path."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

IMPORT_ALL = r"""
import importlib, pkgutil, sys
sys.argv = ["webui", "--this-flag-does-not-exist"]
import modules
failed = []
for info in pkgutil.walk_packages(modules.__path__, "modules."):
    try:
        importlib.import_module(info.name)
    except Exception as e:
        failed.append(f"{info.name}: {e!r}")
import webui, launch
print("FAILED" if failed else "OK", *failed, sep="\n")
"""

START_PATH = r"""
import sys
import webui, modules.runtime.bootstrap, modules.api.api, modules.app_server, modules.shared
heavy = sorted(m for m in ("torch", "gradio", "transformers", "open_clip", "diffusers") if m in sys.modules)
print(",".join(heavy) or "none")
"""


def run_python(code: str, cwd: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_every_module_imports_without_side_effects(tmp_path):
    before_root = set(os.listdir(ROOT))
    result = run_python(IMPORT_ALL, str(tmp_path))
    assert result == "OK", result
    assert os.listdir(tmp_path) == []
    created = set(os.listdir(ROOT)) - before_root
    assert not {c for c in created if c not in ("__pycache__",)}, created


def test_api_start_path_imports_no_torch_or_gradio(tmp_path):
    # API-only start-up without a model must stay fast: torch and gradio are imported only when needed
    assert run_python(START_PATH, str(tmp_path)) == "none"
