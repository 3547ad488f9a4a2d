"""A throwaway install root + data dir with extensions written A1111-style, loaded through ``scripts.load_scripts()``."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest


class WebuiEnv:
    """Writes script files and extensions, then starts the scripts layer over them."""

    def __init__(self, root: Path) -> None:
        self.install = root / "install"
        self.data = root / "data"
        (self.install / "scripts").mkdir(parents=True)
        (self.install / "extensions-builtin").mkdir()
        (self.data / "extensions").mkdir(parents=True)

    def root_script(self, name: str, code: str) -> Path:
        path = self.install / "scripts" / name
        path.write_text(textwrap.dedent(code))
        return path

    def extension(self, name: str, files: dict[str, str], builtin: bool = False) -> Path:
        folder = (self.install / "extensions-builtin" if builtin else self.data / "extensions") / name
        for rel, code in files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(code))
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def load(self, settings: dict | None = None, argv: tuple[str, ...] = ()):
        """Set up ``modules.shared`` for this install (options, flags, paths, extensions) and load the scripts."""
        from modules import scripts, shared
        from modules.core.cmd_args import build_parser
        from modules.core.extensions import list_extensions
        from modules.core.options.catalogue import build_catalogue
        from modules.core.options.store import Options
        from modules.core.paths import resolve_path_flags

        cmd_opts = build_parser().parse_args(["--data-dir", str(self.data), *argv])
        paths = resolve_path_flags(cmd_opts, str(self.install))
        opts = Options(build_catalogue(cmd_opts))
        opts.data.update(settings or {})
        shared.opts, shared.cmd_opts, shared.paths = opts, cmd_opts, paths
        shared.extensions = list_extensions(paths, opts.data, cmd_opts)
        return scripts.load_scripts()


@pytest.fixture
def webui(tmp_path, restore_shared):
    """A :class:`WebuiEnv`; afterwards the scripts layer is put back as it was."""
    from modules import scripts
    from modules.scripting import callback_registry, reporting

    saved_runners = (scripts.scripts_txt2img, scripts.scripts_img2img, scripts.scripts_postproc)
    saved_postproc = list(scripts.postprocessing_scripts_data)
    saved_callbacks = {k: list(v) for k, v in callback_registry.callback_map.items()}
    saved_modules = set(sys.modules)
    reporting.recent.clear()
    yield WebuiEnv(tmp_path)
    scripts.scripts_txt2img, scripts.scripts_img2img, scripts.scripts_postproc = saved_runners
    scripts.postprocessing_scripts_data[:] = saved_postproc
    scripts._loaded_modules.clear()
    callback_registry.clear_callbacks()
    for key, callbacks in saved_callbacks.items():
        callback_registry.callback_map[key][:] = callbacks
    for name in set(sys.modules) - saved_modules:
        if name.endswith(".py") or ".py#" in name:
            del sys.modules[name]
    reporting.recent.clear()


def reported(substring: str = "") -> list[str]:
    """Messages reported since the test started that contain ``substring``."""
    from modules.scripting import reporting

    return [r.message for r in reporting.recent if substring in r.message]
