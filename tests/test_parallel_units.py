"""The work units ``./run_tests.sh`` hands its two xdist workers (tests/parallel.py)."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests import parallel


@dataclass
class FakeItem:
    nodeid: str


def test_browser_and_fullsize_modules_each_make_one_unit_and_other_modules_their_own():
    assert parallel.group_of("tests/ui/test_browser_progress.py::test_b[x]") == "browser"
    assert parallel.group_of("tests/ui/test_browser_login.py::test_a") == "browser-extensions"
    assert parallel.group_of("tests/ui/test_browser_a1111_js.py::test_a") == "browser-extensions"
    assert parallel.group_of("tests/ui/test_browser_train.py::test_a") == "browser-second-server"
    assert parallel.group_of("tests/fullsize/test_families.py::test_sd2") == "fullsize"
    assert parallel.group_of("tests/ui/test_handlers.py::test_c") == "ui/test_handlers.py"
    assert parallel.group_of("tests/api/test_txt2img.py::Test::test_d") == "api/test_txt2img.py"
    assert parallel.group_of("tests/test_architecture.py::test_e") == "test_architecture.py"


def test_browser_units_first_and_the_fullsize_unit_after_the_first_packages():
    ids = ["tests/api/test_a.py::t", "tests/extensions_builtin/test_e.py::t", "tests/generation/test_g.py::t",
           "tests/models/test_m.py::t", "tests/ui/test_browser_a1111_js.py::t", "tests/ui/test_browser_train.py::t",
           "tests/ui/test_browser_x.py::t", "tests/ui/test_handlers.py::t",
           "tests/fullsize/test_f.py::t1", "tests/fullsize/test_f.py::t2"]
    items = [FakeItem(i) for i in ids]
    parallel.order_units(items)
    assert [i.nodeid for i in items] == [
        "tests/ui/test_browser_x.py::t", "tests/ui/test_browser_a1111_js.py::t", "tests/ui/test_browser_train.py::t",
        "tests/api/test_a.py::t", "tests/extensions_builtin/test_e.py::t",
        "tests/fullsize/test_f.py::t1", "tests/fullsize/test_f.py::t2",
        "tests/generation/test_g.py::t", "tests/models/test_m.py::t", "tests/ui/test_handlers.py::t"]


def test_the_extensions_browser_unit_never_uses_the_main_browser_server():
    """Its modules run on either worker: they must not need the main browser server's fixtures (the worker would
    start a second main server) nor continue a shared tab of the main unit."""
    main = {"server", "module_page", "open_page", "shared_tabs"}
    for name in parallel.EXTENSIONS_BROWSER_MODULES:
        tree = ast.parse((Path(parallel.TESTS) / "ui" / name).read_text())
        requested = {arg.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                     and (node.name.startswith("test_") or node.decorator_list) for arg in node.args.args}
        assert not requested & main, name
        assert not any(isinstance(node, ast.Name) and node.id == "SHARED_TAB" for node in ast.walk(tree)), name


def test_no_module_outside_the_browser_units_uses_the_browser_servers():
    """The browser servers and chromium are package fixtures of tests/ui: a module outside the browser units
    that used them would start another set on the worker that runs it (minutes of a 2-core machine)."""
    shared = ("module_page", "open_page", "extensions_page", "pw_driver", "(server", " server,", "browser,")
    for path in sorted((Path(parallel.TESTS) / "ui").glob("test_*.py")):
        if parallel.group_of(f"tests/ui/{path.name}::t") in parallel.BROWSER_GROUPS:
            continue
        signatures = [line for line in path.read_text().splitlines() if line.startswith("def test_")]
        assert not [s for s in signatures if any(name in s for name in shared)], path.name


def test_the_second_server_unit_continues_no_tab_of_the_main_unit():
    """Its modules run on a server of their own: a tab group (``SHARED_TAB``) they share with a main-unit module
    would start fresh there, without what the main unit's earlier modules did in it."""
    def tab_group(name: str) -> str | None:
        tree = ast.parse((Path(parallel.TESTS) / "ui" / name).read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SHARED_TAB" for t in node.targets):
                return ast.literal_eval(node.value)
        return None

    second = {tab_group(name) for name in parallel.SECOND_SERVER_BROWSER_MODULES} - {None}
    main = {tab_group(path.name) for path in (Path(parallel.TESTS) / "ui").glob("test_browser_*.py")
            if parallel.group_of(f"tests/ui/{path.name}::t") == parallel.BROWSER_GROUP} - {None}
    assert not second & main
