"""What ``launch.py`` does: parse, dump sysinfo or prepare the environment, then start ``webui``.

The argument list is the real arguments followed by ``COMMANDLINE_ARGS``
(:func:`modules.core.cmd_args.full_argv`).  Before ``webui`` is imported, that
list becomes ``sys.argv[1:]`` and ``SD_WEBUI_ARGS_APPENDED=1`` is set, so code
that re-reads ``sys.argv`` + ``COMMANDLINE_ARGS`` does not see them twice.
"""
from __future__ import annotations

import logging
import os
import shlex
import sys
from typing import Callable, MutableMapping, Sequence

from modules.core.cmd_args import FlagError
from modules.core.paths import INSTALL_DIR
from modules.core.commands import LaunchError, Runner
from modules.launcher.context import FindSpec, LaunchContext
from modules.launcher.prepare import prepare_environment
from modules.launcher.sysinfo import redact_argv, write_sysinfo

StartFn = Callable[[list[str]], int]

TEST_SERVER_ARGS = ("--api", "--skip-torch-cuda-test", "--disable-nan-check")


def configure_for_tests(argv: list[str]) -> list[str]:
    """``--test-server``: add ``--api --skip-torch-cuda-test --disable-nan-check`` where missing (A1111)."""
    return argv + [flag for flag in TEST_SERVER_ARGS if flag not in argv]


def configure_logging(loglevel: str | None) -> None:
    """``--loglevel``: the root logger's level (env ``SD_WEBUI_LOG_LEVEL`` as a fallback, as A1111)."""
    level = loglevel or os.environ.get("SD_WEBUI_LOG_LEVEL")
    if level:
        logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                            format="%(asctime)s %(levelname)s [%(name)s] %(message)s")


def start_webui(argv: list[str]) -> int:
    """Import ``webui`` and run it with ``argv``; returns its exit status."""
    import webui  # the lead's module: ``def main(argv: list[str]) -> int``

    return int(webui.main(argv) or 0)


def launch(
    argv: Sequence[str] | None = None,
    *,
    environ: MutableMapping[str, str] | None = None,
    install_dir: str = INSTALL_DIR,
    runner: Runner | None = None,
    find_spec: FindSpec | None = None,
    start: StartFn | None = None,
) -> int:
    """The whole launcher; returns the process exit status."""
    environ = os.environ if environ is None else environ
    environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        ctx = LaunchContext.create(argv, environ=environ, install_dir=install_dir, runner=runner, find_spec=find_spec)
    except FlagError as e:
        print(f"launch.py: error: {e}", file=sys.stderr)
        return 2
    configure_logging(ctx.args.loglevel)

    if ctx.args.dump_sysinfo:
        path = write_sysinfo(ctx.argv, ctx.paths, ctx.args, environ)
        print(f"Sysinfo saved as {path}. Exiting...")
        return 0

    if ctx.args.test_server:
        # applied before the preparation (A1111: after), so the GPU test is skipped as the flag asks
        ctx = LaunchContext.create(configure_for_tests(ctx.argv), environ=environ, install_dir=install_dir,
                                   runner=runner, find_spec=find_spec, combine=False)

    if not ctx.args.skip_prepare_environment:
        try:
            prepare_environment(ctx)
        except LaunchError as e:
            print(f"*** {e}", file=sys.stderr)
            return 1

    if "--exit" in ctx.argv:
        print("Exiting because of --exit argument")
        return 0

    kind = "API server" if ctx.args.nowebui else "Web UI"
    print(f"Launching {kind} with arguments: {shlex.join(redact_argv(ctx.argv))}")
    sys.argv = [sys.argv[0] if sys.argv else "launch.py", *ctx.argv]
    environ["SD_WEBUI_ARGS_APPENDED"] = "1"
    return (start or start_webui)(ctx.argv)
