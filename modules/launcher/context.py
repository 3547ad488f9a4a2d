"""What every launcher step needs, in one object (so tests can inject the runner and lookups)."""
from __future__ import annotations

import argparse
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any, Callable, MutableMapping, Sequence

from modules.core.cmd_args import build_parser, full_argv
from modules.core.paths import INSTALL_DIR, DataPaths, resolve_path_flags
from modules.core.commands import Runner, run
from modules.launcher.settings import LaunchSettings

FindSpec = Callable[[str], Any]


@dataclass
class LaunchContext:
    """The parsed flags, the combined argument list, the environment and the injectable effects."""

    args: argparse.Namespace
    argv: list[str]
    settings: LaunchSettings
    paths: DataPaths
    install_dir: str = INSTALL_DIR
    environ: MutableMapping[str, str] = field(default_factory=lambda: os.environ)
    runner: Runner = run
    find_spec: FindSpec = importlib.util.find_spec

    @classmethod
    def create(
        cls,
        argv: Sequence[str] | None = None,
        *,
        environ: MutableMapping[str, str] | None = None,
        install_dir: str = INSTALL_DIR,
        runner: Runner | None = None,
        find_spec: FindSpec | None = None,
        combine: bool = True,
    ) -> "LaunchContext":
        """Parse ``argv`` (real arguments, then ``COMMANDLINE_ARGS`` unless ``combine`` is off) for launcher decisions."""
        environ = os.environ if environ is None else environ
        args_list = full_argv(argv, dict(environ)) if combine else list(argv or [])
        args, _unknown = build_parser().parse_known_args(args_list)
        paths = resolve_path_flags(args, install_dir)
        return cls(
            args=args,
            argv=args_list,
            settings=LaunchSettings.from_env(environ, install_dir),
            paths=paths,
            install_dir=install_dir,
            environ=environ,
            runner=runner or run,
            find_spec=find_spec or importlib.util.find_spec,
        )
