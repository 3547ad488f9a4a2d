"""Extensions' install.py: run once per change, failures reported and not fatal, disabled ones skipped."""
from __future__ import annotations

import json
import os
import textwrap

from modules.core.extensions import Extension
from modules.core.extension_installs import CACHE_FILE_NAME, run_extensions_installers
from modules.launcher.prepare import run_installers

INSTALLER = textwrap.dedent("""
    import os, sys
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "runs.txt"), "a") as f:
        f.write(os.environ["PYTHONPATH"].split(os.pathsep)[0] + "|" + os.getcwd() + "\\n")
    print("installed " + os.path.basename(here))
""")


def make_extension(root, name, script=INSTALLER):
    path = root / name
    path.mkdir(parents=True)
    (path / "install.py").write_text(script)
    return Extension(name=name, path=str(path))


def runs(ext: Extension) -> list[str]:
    try:
        return open(os.path.join(ext.path, "runs.txt")).read().splitlines()
    except FileNotFoundError:
        return []


def test_runs_once_then_again_after_a_change(tmp_path, capsys):
    ext = make_extension(tmp_path / "extensions", "ext-a")
    cache = tmp_path / "cache"
    install_dir = str(tmp_path / "install")
    os.mkdir(install_dir)

    report = run_extensions_installers([ext], cache_dir=str(cache), install_dir=install_dir)
    assert report.ran == ["ext-a"]
    assert runs(ext) == [f"{install_dir}|{install_dir}"]  # PYTHONPATH starts with the install root, which is the cwd
    assert "installed ext-a" in capsys.readouterr().out
    assert (cache / CACHE_FILE_NAME).is_file()

    report = run_extensions_installers([ext], cache_dir=str(cache), install_dir=install_dir)
    assert report.skipped == ["ext-a"] and report.ran == []
    assert len(runs(ext)) == 1

    with open(ext.install_script, "a") as f:
        f.write("# changed\n")
    report = run_extensions_installers([ext], cache_dir=str(cache), install_dir=install_dir)
    assert report.ran == ["ext-a"]
    assert len(runs(ext)) == 2


def test_failure_is_reported_not_fatal_and_retried(tmp_path, capsys):
    bad = make_extension(tmp_path / "extensions", "bad-ext", "import sys\nprint('something broke')\nsys.exit(3)\n")
    good = make_extension(tmp_path / "extensions", "good-ext")
    cache = str(tmp_path / "cache")

    report = run_extensions_installers([bad, good], cache_dir=cache)
    assert list(report.failed) == ["bad-ext"] and report.ran == ["good-ext"]
    err = capsys.readouterr().err
    assert "Error running install.py for extension bad-ext" in err
    assert "something broke" in err

    report = run_extensions_installers([bad, good], cache_dir=cache)
    assert list(report.failed) == ["bad-ext"] and report.skipped == ["good-ext"]


def test_disabled_extensions_skipped(make_ctx):
    data, install = make_ctx.data, make_ctx.install
    on = make_extension(data / "extensions", "on-ext")
    off = make_extension(data / "extensions", "off-ext")
    builtin = make_extension(install / "extensions-builtin", "builtin-ext")
    (data / "config.json").write_text(json.dumps({"disabled_extensions": ["off-ext"]}))

    from modules.core.commands import run

    run_installers(make_ctx([], runner=run))
    assert len(runs(on)) == 1 and runs(off) == [] and len(runs(builtin)) == 1

    (data / "config.json").write_text(json.dumps({"disable_all_extensions": "all"}))
    with open(on.install_script, "a") as f:
        f.write("# changed\n")
    run_installers(make_ctx([], runner=run))
    assert len(runs(on)) == 1


def test_skip_install_runs_no_installer(make_ctx):
    ext = make_extension(make_ctx.data / "extensions", "ext-a")
    from modules.core.commands import run

    run_installers(make_ctx(["--skip-install"], runner=run))
    assert runs(ext) == []


def test_corrupt_cache_and_config_do_not_crash(make_ctx, capsys):
    ext = make_extension(make_ctx.data / "extensions", "ext-a")
    (make_ctx.data / "cache").mkdir()
    (make_ctx.data / "cache" / CACHE_FILE_NAME).write_text("{not json")
    (make_ctx.data / "config.json").write_text("{broken")
    from modules.core.commands import run

    run_installers(make_ctx([], runner=run))
    assert len(runs(ext)) == 1
    assert "Could not read settings" in capsys.readouterr().out
