"""modules.core.extensions: listing order and every way of disabling."""
from __future__ import annotations

import argparse

import pytest

from modules.core.cmd_args import build_parser
from modules.core.extensions import Extension, active_extensions, disabled_reason, list_extensions
from modules.core.paths import resolve_path_flags


@pytest.fixture
def paths(tmp_path):
    install, data = tmp_path / "install", tmp_path / "data"
    for name in ("Lora", "canvas-zoom-and-pan"):
        (install / "extensions-builtin" / name).mkdir(parents=True)
    for name in ("zeta", "alpha", ".hidden", "__pycache__"):
        (data / "extensions" / name).mkdir(parents=True)
    (data / "extensions" / "put extensions here.txt").write_text("")
    return resolve_path_flags(build_parser().parse_args(["--data-dir", str(data)]), str(install))


def flags(*argv) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def names(exts):
    return [e.name for e in exts]


def test_builtins_first_then_user_extensions_sorted(paths):
    exts = list_extensions(paths, {}, flags())
    assert names(exts) == ["Lora", "canvas-zoom-and-pan", "alpha", "zeta"]
    assert [e.is_builtin for e in exts] == [True, True, False, False]
    assert all(e.enabled for e in exts)


def test_disabled_by_name(paths):
    assert names(active_extensions(paths, {"disabled_extensions": ["zeta", "Lora"]}, flags())) == ["canvas-zoom-and-pan", "alpha"]


@pytest.mark.parametrize("settings, argv, expected", [
    ({"disable_all_extensions": "extra"}, [], ["Lora", "canvas-zoom-and-pan"]),
    ({"disable_all_extensions": "all"}, [], []),
    ({"disable_all_extensions": "none"}, ["--disable-extra-extensions"], ["Lora", "canvas-zoom-and-pan"]),
    ({}, ["--disable-all-extensions"], []),
    ({"disable_all_extensions": "bogus"}, [], ["Lora", "canvas-zoom-and-pan", "alpha", "zeta"]),
])
def test_global_disabling(paths, settings, argv, expected):
    assert names(active_extensions(paths, settings, flags(*argv))) == expected
    assert len(list_extensions(paths, settings, flags(*argv))) == 4  # disabled ones are still listed
    assert (disabled_reason(settings, flags(*argv)) is None) == (len(expected) == 4)


def test_no_cmd_opts_and_missing_folders(tmp_path):
    paths = resolve_path_flags(build_parser().parse_args(["--data-dir", str(tmp_path / "none")]), str(tmp_path / "none"))
    assert list_extensions(paths, {}, None) == []


def test_extension_properties(tmp_path):
    ext = Extension(name="My-Ext", path=str(tmp_path))
    assert ext.canonical_name == "my-ext"
    assert ext.scripts_dir == str(tmp_path / "scripts")
    assert ext.install_script == str(tmp_path / "install.py")
    assert ext.preload_script == str(tmp_path / "preload.py")


def test_compat_module_reexports():
    import modules.extensions as compat

    assert compat.Extension is Extension and compat.list_extensions is list_extensions
    assert compat.active() == [] or all(e.enabled for e in compat.active())
