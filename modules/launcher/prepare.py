"""``prepare_environment()``: A1111's launch-time steps, in A1111's order.

1. environment overrides (:class:`~modules.launcher.settings.LaunchSettings`);
2. delete ``tmp/restart`` and set ``SD_WEBUI_RESTARTING=1`` when it existed;
3. Python version check (a warning, never an abort);
4. print ``Python``, ``Version`` and ``Commit hash``;
5. torch + torchvision through ``TORCH_COMMAND`` when missing or ``--reinstall-torch``;
6. GPU test in a subprocess unless ``--skip-torch-cuda-test``;
7. xformers (``--xformers``/``--reinstall-xformers``), pyngrok (``--ngrok``);
8. ``repositories/`` checkouts, only when asked (:mod:`modules.launcher.repositories`);
9. the requirements check;
10. extensions' ``install.py`` (new or changed ones);
11. ``--update-check`` and ``--update-all-extensions``.

``--skip-install`` makes every pip call a no-op (``TORCH_COMMAND`` included) and
skips the extension installers.  A1111 also installs openai ``clip`` and
``open_clip`` from GitHub zips; here ``open_clip_torch`` is an ordinary
requirement and openai ``clip`` is not used.
"""
from __future__ import annotations

import os
import sys

from modules.core.extensions import list_extensions
from modules.core.commands import CommandError, LaunchError, check_run_python
from modules.launcher.config_file import read_config
from modules.launcher.context import LaunchContext
from modules.core.extension_installs import run_extensions_installers
from modules.core.git import commit_hash, git_tag
from modules.launcher.packages import is_installed, python_version_text, run_pip, torch_install_command
from modules.launcher.repositories import clone_repositories
from modules.launcher.requirements import install_requirements
from modules.launcher.updates import update_all_extensions, version_check

SUPPORTED_PYTHON = ((3, 10), (3, 13))
"""Oldest and newest tested Python (major, minor)."""

GPU_TEST_CODE = (
    "import sys, torch; "
    "mps = getattr(torch.backends, 'mps', None); "
    "sys.exit(0 if torch.cuda.is_available() or (mps is not None and mps.is_available()) else 1)"
)
GPU_ERROR = "Torch is not able to use GPU; add --skip-torch-cuda-test to COMMANDLINE_ARGS variable to disable this check"


def clear_restart_marker(ctx: LaunchContext) -> bool:
    """Delete ``tmp/restart`` (the signal to ``webui.sh`` to relaunch); True when it existed."""
    existed = False
    candidates = {os.path.join(ctx.install_dir, "tmp", "restart")}
    if ctx.environ.get("SD_WEBUI_RESTART"):
        candidates.add(os.path.abspath(ctx.environ["SD_WEBUI_RESTART"]))
    for path in candidates:
        try:
            os.remove(path)
            existed = True
        except OSError:
            pass
    if existed:
        ctx.environ.setdefault("SD_WEBUI_RESTARTING", "1")
    return existed


def python_version_warning(version: tuple[int, int, int] | None = None) -> str | None:
    """The warning to print for an untested Python, else ``None``."""
    major, minor, micro = version or tuple(sys.version_info[:3])
    if SUPPORTED_PYTHON[0] <= (major, minor) <= SUPPORTED_PYTHON[1]:
        return None
    low, high = (f"{a}.{b}" for a, b in SUPPORTED_PYTHON)
    return (
        "========================================================================\n"
        "INCOMPATIBLE PYTHON VERSION\n\n"
        f"This program is tested with Python {low} to {high}, but you have {major}.{minor}.{micro}.\n"
        "If you meet a problem, install a tested Python version first.\n"
        "Use --skip-python-version-check to suppress this warning.\n"
        "========================================================================"
    )


def print_version_info(ctx: LaunchContext) -> str:
    """Print ``Python``, ``Version`` and ``Commit hash``; returns the commit hash."""
    commit = commit_hash(ctx.install_dir, ctx.settings.git)
    print(f"Python {python_version_text()}")
    print(f"Version: {git_tag(ctx.install_dir, ctx.settings.git)}")
    print(f"Commit hash: {commit}")
    return commit


def torch_missing(ctx: LaunchContext) -> bool:
    """Whether torch or torchvision cannot be found (without importing them)."""
    return any(ctx.find_spec(name) is None for name in ("torch", "torchvision"))


def install_torch(ctx: LaunchContext) -> bool:
    """Run ``TORCH_COMMAND`` when torch is missing or ``--reinstall-torch``; True when it ran."""
    if not (ctx.args.reinstall_torch or torch_missing(ctx)):
        return False
    if ctx.args.skip_install:
        print("Skipping torch installation (--skip-install).")
        return False
    ctx.runner(torch_install_command(ctx.settings), desc="Installing torch and torchvision",
               errdesc="Couldn't install torch", live=True)
    return True


def check_gpu(ctx: LaunchContext) -> bool:
    """Warn when torch sees no GPU, unless skipped (``--use-ipex`` skips it too, as A1111); True when a GPU works.

    A1111 stops here.  This web UI runs on the CPU as well, so a machine without a
    usable GPU gets A1111's message as a warning and starts on the CPU.
    """
    if ctx.args.use_ipex:
        ctx.args.skip_torch_cuda_test = True
    if ctx.args.skip_torch_cuda_test:
        return True
    if check_run_python(GPU_TEST_CODE, ctx.runner, ctx.settings.python):
        return True
    print(f"Warning: {GPU_ERROR}. Continuing on the CPU, which is much slower.", flush=True)
    return False


FACEXLIB_PACKAGE = "facexlib==0.3.0"


def install_optional_packages(ctx: LaunchContext) -> None:
    """xformers with ``--xformers`` (when missing) or ``--reinstall-xformers``; pyngrok with ``--ngrok``."""
    pip = dict(settings=ctx.settings, skip_install=ctx.args.skip_install, runner=ctx.runner)
    if ctx.args.reinstall_xformers or (ctx.args.xformers and not is_installed("xformers")):
        run_pip(["install", "-U", "-I", "--no-deps", ctx.settings.xformers_package], "xformers", **pip)
    if ctx.args.ngrok and not is_installed("pyngrok"):
        run_pip(["install", "pyngrok"], "pyngrok", **pip)
    if not is_installed("facexlib"):
        # face detection for GFPGAN/CodeFormer; its declared dependencies (numba, opencv-python, matplotlib)
        # are not needed for what we use, and opencv-python-headless comes from the requirements file
        run_pip(["install", "--no-deps", FACEXLIB_PACKAGE], "facexlib", **pip)


def run_installers(ctx: LaunchContext) -> None:
    """Run extensions' ``install.py`` (new or changed ones); never fatal."""
    if ctx.args.skip_install:
        return
    settings = read_config(ctx.paths.config_file)
    extensions = list_extensions(ctx.paths, settings, ctx.args)
    run_extensions_installers(extensions, cache_dir=ctx.paths.cache_dir, install_dir=ctx.install_dir,
                              python=ctx.settings.python, runner=ctx.runner)


def prepare_environment(ctx: LaunchContext) -> None:
    """Run every step in order (see the module docstring); raises :class:`LaunchError` on a fatal failure."""
    clear_restart_marker(ctx)

    if not ctx.args.skip_python_version_check:
        warning = python_version_warning()
        if warning:
            print(warning, file=sys.stderr)

    commit = print_version_info(ctx)

    install_torch(ctx)
    check_gpu(ctx)
    install_optional_packages(ctx)

    clone_repositories(ctx.environ, install_dir=ctx.install_dir, git=ctx.settings.git, runner=ctx.runner)

    install_requirements(ctx.settings.requirements_file, settings=ctx.settings, skip_install=ctx.args.skip_install,
                         runner=ctx.runner)

    if getattr(ctx.args, "ray", None):  # scale-out is optional: its packages only when --ray asks for it
        install_requirements(os.path.join(ctx.install_dir, "requirements-ray.txt"), settings=ctx.settings,
                             skip_install=ctx.args.skip_install, runner=ctx.runner)

    run_installers(ctx)

    if ctx.args.update_check:
        version_check(commit, install_dir=ctx.install_dir, git=ctx.settings.git, runner=ctx.runner)
    if ctx.args.update_all_extensions:
        update_all_extensions(ctx.paths.extensions_dir, git=ctx.settings.git, runner=ctx.runner)


__all__ = ["CommandError", "LaunchError", "prepare_environment"]
