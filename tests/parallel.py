"""How ``./run_tests.sh`` spreads the suite over two pytest-xdist workers (``-n 2``).

A 2-core machine sits ~40 % idle during a one-process run (tests waiting on servers, browsers, subprocesses), so
two workers finish sooner. What must stay in one process stays in one work unit:

- the browser modules (``tests/ui/test_browser_*``) in three groups: those on the main browser server (they share
  it, one chromium and tabs that continue from module to module), those on the extensions server or a server
  of their own (:data:`EXTENSIONS_BROWSER_MODULES`), and a few long ones on a main-kind server of their own
  (:data:`SECOND_SERVER_BROWSER_MODULES`); the package-scoped fixtures they need are built in the worker that
  runs them (a worker that takes the third group starts its own main-kind server);
- every full-size module (``tests/fullsize``) in one group: one process loads one full-size model at a time
  (two would need twice the ~9 GB);
- every other module in a group of its own, so module-scoped fixtures (a started server, a built UI) are
  built once.

The controller's scheduler (:func:`make_scheduler`, xdist's module-scope scheduler with these units) hands them
out in the order the workers collected them (:func:`order_units`): the browser units first, then the other
modules with the full-size unit among them, timed to start about when the main browser unit ends.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.disk_space import make_run_folder

TESTS = Path(__file__).resolve().parent
BROWSER_GROUP = "browser"
EXTENSIONS_BROWSER_GROUP = "browser-extensions"
EXTENSIONS_BROWSER_MODULES = ("test_browser_a1111_js.py", "test_browser_extensions.py", "test_browser_login.py",
                              "test_browser_reload_ui.py")
"""Browser modules that use only the extensions server (or a server of their own), never the main browser server:
a unit of their own, so the other worker can take them (the browser unit is the longest)."""
SECOND_SERVER_BROWSER_GROUP = "browser-second-server"
SECOND_SERVER_BROWSER_MODULES = ("test_browser_canvas_zoom.py", "test_browser_interrogate.py",
                                 "test_browser_network_dirs.py", "test_browser_train.py")
"""Long browser modules (minutes each: training, interrogation, the canvas, folder views) that need the main kind of
server but nothing an earlier main-unit module left: a unit of their own, so they run beside the main browser unit
(the longest) on the other worker, which starts a main-kind server for them."""
BROWSER_GROUPS = (BROWSER_GROUP, EXTENSIONS_BROWSER_GROUP, SECOND_SERVER_BROWSER_GROUP)
"""In the order they are handed out."""
FULLSIZE_GROUP = "fullsize"
FULLSIZE_AFTER = "extensions_builtin"
"""The full-size unit is handed out after the modules of the test packages up to this one (alphabetical order):
~5 minutes of short modules on the worker that ran the extensions and second-server browser units."""


SHARED_RUN_DIR = "WEBUI_TEST_SHARED_RUN_DIR"
"""The environment variable naming the folder the workers of one run share (the full-size checkpoints)."""


def make_shared_run_dir(config: pytest.Config) -> None:
    """In the controller of an xdist run: a temporary folder for the run, named in the environment the workers
    inherit (they start after ``pytest_configure``)."""
    if not is_worker(config) and getattr(config.option, "numprocesses", None) and SHARED_RUN_DIR not in os.environ:
        os.environ[SHARED_RUN_DIR] = str(make_run_folder("webui-test-run-"))
        config.stash[_OWNED_DIR] = os.environ[SHARED_RUN_DIR]


def remove_shared_run_dir(config: pytest.Config) -> None:
    owned = config.stash.get(_OWNED_DIR, None)
    if owned:
        shutil.rmtree(owned, ignore_errors=True)
        os.environ.pop(SHARED_RUN_DIR, None)


def shared_run_dir() -> Path | None:
    """The folder the processes of this run share, or None outside an xdist run."""
    value = os.environ.get(SHARED_RUN_DIR)
    return Path(value) if value else None


_OWNED_DIR = pytest.StashKey[str]()


def is_worker(config: pytest.Config) -> bool:
    """True inside an xdist worker process."""
    return hasattr(config, "workerinput")


def group_of(nodeid: str) -> str:
    """The work unit of a test (by its node id, ``tests/<package>/<module>.py::...``): the browser group, the
    full-size group or its own module."""
    module = nodeid.split("::", 1)[0]
    parts = module.split("/")
    relative = parts[parts.index("tests") + 1:] if "tests" in parts else parts
    if relative[:1] == ["fullsize"]:
        return FULLSIZE_GROUP
    if relative[:1] == ["ui"] and relative[-1] in EXTENSIONS_BROWSER_MODULES:
        return EXTENSIONS_BROWSER_GROUP
    if relative[:1] == ["ui"] and relative[-1] in SECOND_SERVER_BROWSER_MODULES:
        return SECOND_SERVER_BROWSER_GROUP
    if relative[:1] == ["ui"] and relative[-1].startswith("test_browser_"):
        return BROWSER_GROUP
    return "/".join(relative)


def order_units(items: list[pytest.Item]) -> None:
    """In each worker's collection (the controller hands units out in this order, one at a time to the worker that
    runs low): the browser units first (the main one, ~13 min, on one worker; the extensions and second-server
    units, ~8 min together, on the other), then the other modules, with the full-size unit (~10 min) after those
    of the packages up to ``tests/<FULLSIZE_AFTER>``: it starts about when the main browser unit ends, beside
    short modules (run beside the browser unit, both took a third longer on the two cores) and early enough
    that the short modules after it even the two workers out."""
    groups = {item.nodeid: group_of(item.nodeid) for item in items}
    browser = [item for item in items if groups[item.nodeid] in BROWSER_GROUPS]
    browser.sort(key=lambda item: BROWSER_GROUPS.index(groups[item.nodeid]))  # stable: modules keep their order
    fullsize = [item for item in items if groups[item.nodeid] == FULLSIZE_GROUP]
    rest = [item for item in items if item not in browser and item not in fullsize]
    split = next((index for index, item in enumerate(rest)
                  if groups[item.nodeid] > f"{FULLSIZE_AFTER}/~"), len(rest))  # "~" sorts after every file name
    items[:] = browser + rest[:split] + fullsize + rest[split:]


def make_scheduler(config: pytest.Config, log):
    """The controller's scheduler: xdist's module-scope scheduler with :func:`group_of`'s units, handed out in
    collection order. (pytest-xdist's own ``loadgroup`` marks cannot be used: they rename node ids through an
    attribute pytest 9 no longer has.)"""
    # xdist is imported only here, in the controller of a run that uses it (plain pytest runs need not have it)
    from xdist.scheduler import LoadScopeScheduling

    class SuiteUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    config.option.loadscopereorder = False
    return SuiteUnits(config, log)
