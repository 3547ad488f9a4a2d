"""The extension loader keeps the extensions config.json turned off at start-up off while extension access is off."""
from __future__ import annotations

import pytest

from modules.core.cmd_args import build_parser
from modules.core.extensions import list_extensions
from modules.core.paths import resolve_path_flags


@pytest.fixture
def paths(tmp_path):
    install, data = tmp_path / "install", tmp_path / "data"
    (install / "extensions-builtin" / "Lora").mkdir(parents=True)
    for name in ("good", "evil"):
        (data / "extensions" / name).mkdir(parents=True)
    return resolve_path_flags(build_parser().parse_args(["--data-dir", str(data)]), str(install))


def enabled(paths, settings, startup, *flags):
    exts = list_extensions(paths, settings, build_parser().parse_args(list(flags)), startup_settings=startup)
    return sorted(e.name for e in exts if e.enabled)


AT_START = {"disabled_extensions": ["evil"], "disable_all_extensions": "none"}


@pytest.mark.parametrize("now", [
    {"disabled_extensions": [], "disable_all_extensions": "none"},
    {"disabled_extensions": ["good"]},
    {},
])
def test_listening_server_never_turns_on_what_was_off_at_start(paths, now):
    assert "evil" not in enabled(paths, now, AT_START, "--listen")
    assert "evil" not in enabled(paths, now, AT_START, "--share")


def test_extra_mode_at_start_keeps_user_extensions_off(paths):
    assert enabled(paths, {"disable_all_extensions": "none"}, {"disable_all_extensions": "extra"}, "--listen") == ["Lora"]


def test_turning_more_off_still_works(paths):
    assert enabled(paths, {"disabled_extensions": ["evil", "good"]}, AT_START, "--listen") == ["Lora"]


def test_local_or_allowed_servers_follow_the_settings(paths):
    now = {"disabled_extensions": []}
    assert enabled(paths, now, AT_START) == ["Lora", "evil", "good"]
    assert enabled(paths, now, AT_START, "--listen", "--enable-insecure-extension-access") == ["Lora", "evil", "good"]
    assert enabled(paths, now, None, "--listen") == ["Lora", "evil", "good"]  # start-up itself: the file is the truth
