"""Fixtures for the UI tests: the page built in-process (config checks, handlers) and a real server for the browser."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Callable, Iterator

import pytest

from tests.api.conftest import preserved_shared

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def build_ui(data_dir, *flags: str, checkpoints: tuple[str, ...] = ()):
    """Bootstrap in ``data_dir`` (tiny SD1 checkpoints named in ``checkpoints``) and build the page; returns
    (demo, its config)."""
    from modules.runtime.bootstrap import initialize
    from modules.ui.frame import create_ui

    for seed, name in enumerate(checkpoints):
        from modules.models.tiny_factory import make_tiny_checkpoint

        make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name=name, seed=seed)
    load = () if checkpoints else ("--skip-load-model-at-start",)
    initialize(["--data-dir", str(data_dir), *load, *flags])
    demo = create_ui()
    return demo, demo.get_config_file()


class Page:
    """The built page's components, looked up as a test would name them."""

    def __init__(self, demo, config) -> None:
        self.demo = demo
        self.config = config
        self.by_id = {c["id"]: c for c in config["components"]}
        self.blocks = demo.blocks

    def elem(self, elem_id: str) -> dict:
        found = [c for c in self.config["components"] if c["props"].get("elem_id") == elem_id]
        assert found, f"no component with elem_id {elem_id}"
        return found[0]

    def has(self, elem_id: str) -> bool:
        return any(c["props"].get("elem_id") == elem_id for c in self.config["components"])

    def component(self, elem_id: str):
        """The Python component object with ``elem_id``."""
        return self.blocks[self.elem(elem_id)["id"]]

    def order(self, elem_ids: list[str]) -> list[str]:
        """``elem_ids`` sorted by where they appear in the page layout."""
        position = {}

        def walk(node, counter=[0]):  # noqa: B006 - a running counter for this walk
            position.setdefault(node["id"], counter[0])
            counter[0] += 1
            for child in node.get("children", []):
                walk(child, counter)

        walk(self.config["layout"])
        ids = {e: self.elem(e)["id"] for e in elem_ids}
        return sorted(elem_ids, key=lambda e: position.get(ids[e], 10**9))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The page built without a model (module-wide); yields (Page, data dir)."""
    data_dir = tmp_path_factory.mktemp("data")
    with preserved_shared():
        demo, config = build_ui(data_dir)
        yield Page(demo, config), data_dir


# --- a real server for the browser tests -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout}s")


class Server:
    """A ``webui.py`` subprocess with tiny checkpoints in its own data dir."""

    def __init__(self, data_dir, port: int, proc: subprocess.Popen) -> None:
        self.data_dir = data_dir
        self.port = port
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}/"

    def log(self) -> str:
        return (self.data_dir / "server.log").read_text(errors="replace")

    @property
    def hold_file(self):
        """While this file exists, the sampling gate extension (``server`` fixture) holds every sampling step."""
        return self.data_dir / "hold-sampling"

    @contextlib.contextmanager
    def sampling_held(self) -> Iterator[None]:
        """Jobs started inside the block stay at their current sampling step until the block ends (a test sees a
        job running for as long as it needs, whatever the machine's speed)."""
        self.hold_file.write_text("held")
        try:
            yield
        finally:
            self.hold_file.unlink(missing_ok=True)

    def wait_for_release(self, timeout: float = 60) -> None:
        """Wait until the gate has let go of a held job because Skip or Interrupt reached the server."""
        deadline = time.monotonic() + timeout
        while self.hold_file.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not see Skip/Interrupt in {timeout}s:\n{self.log()[-2000:]}")
            time.sleep(0.05)


def require_browser() -> None:
    """Skip (with the reason) where the browser tests cannot run."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@contextlib.contextmanager
def running_webui(data_dir, *flags: str) -> Iterator[Server]:
    """``webui.py`` serving ``data_dir`` on a free port (its output in ``server.log``), stopped afterwards."""
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    # the caller's launcher settings must not reach the test server (webui.sh's restart marker, an index URL...)
    for name in ("COMMANDLINE_ARGS", "SD_WEBUI_RESTART", "WEBUI_EXTENSIONS_INDEX"):
        env.pop(name, None)
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "webui.py", "--data-dir", str(data_dir), "--port", str(port),
                             "--skip-prepare-environment", *flags], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # building the page takes long on a busy two-core machine
        wait_for(f"http://127.0.0.1:{port}/", proc, timeout=240)
        yield Server(data_dir, port, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="package")
def pw_driver():
    """The one Playwright driver of the test session (the sync API allows one per thread)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@contextlib.contextmanager
def chromium_context(pw: Any) -> Iterator[Any]:
    """A headless chromium (Debian's) with a fresh profile, from driver ``pw``: a Playwright browser context."""
    profile = tempfile.mkdtemp(prefix="webui-chromium-")
    context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                    args=BROWSER_ARGS, viewport={"width": 1400, "height": 1000})
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    """The main browser server (two tiny SD1 checkpoints, the sampling gate: ``Server.sampling_held``): one per
    worker process that runs modules needing it (the main browser unit, and the second-server unit of
    tests/parallel.py on the other worker)."""
    require_browser()
    from modules.models.tiny_factory import make_tiny_checkpoint
    from tests.ui.extension_files import write_sampling_gate

    data_dir = tmp_path_factory.mktemp("browser-data")
    make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name="tiny-a", seed=0)
    make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name="tiny-b", seed=1)
    write_sampling_gate(data_dir, data_dir / "hold-sampling")
    # tiny interrogation models in A1111's folders (CLIP in --clip-models-path): test_browser_interrogate
    from tests.interrogation.tiny_files import write_interrogation_files

    write_interrogation_files(data_dir)
    with running_webui(data_dir, "--clip-models-path", str(data_dir / "clip")) as running:
        yield running


@pytest.fixture(scope="package")
def browser(pw_driver):
    """A headless chromium (Debian's) with a fresh profile, shared by every browser test of the session."""
    with chromium_context(pw_driver) as context:
        yield context


@pytest.fixture(scope="package")
def extensions_server(tmp_path_factory):
    """The second server of the session, for the tests that install, disable and reload extensions and that
    translate the page (test_browser_a1111_js, test_browser_extensions, test_browser_reload_ui): its page differs
    from ``server``'s (a localization, extra scripts) and it rebuilds itself, so it is not the main server; sharing
    one saves a server start and a cold page load per module.  A tiny checkpoint and the extensions of
    ``tests/ui/extension_files.py``."""
    require_browser()
    from modules.models.tiny_factory import make_tiny_checkpoint
    from tests.ui.extension_files import write_extensions_server_data

    data_dir = tmp_path_factory.mktemp("extensions-data")
    make_tiny_checkpoint("sd1", data_dir / "models" / "Stable-diffusion", name="tiny-x", seed=0)
    write_extensions_server_data(data_dir)
    with running_webui(data_dir) as running:
        yield running


@pytest.fixture(scope="package")
def extensions_server_tab(extensions_server, browser):
    """One tab on ``extensions_server`` for the whole session: (page, errors seen in its console)."""
    page, errors = open_ui(browser, extensions_server)
    page.set_default_timeout(120000)  # every step waits longer on a busy two-core machine
    yield page, errors
    page.close()


@pytest.fixture
def extensions_page(extensions_server_tab):
    """The session's tab on ``extensions_server``, in front (a background tab gets no animation frames and slow
    timers, and other modules open tabs over it); (page, errors seen in its console).  The first test to use it gets
    the page as loaded (test_browser_a1111_js counts the page's load callbacks)."""
    extensions_server_tab[0].bring_to_front()
    return extensions_server_tab


def open_ui(context, server):
    """Open the UI of ``server`` in a new tab of ``context`` once its scripts are in; returns (page, errors seen
    in its console)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_selector("#txt2img_prompt textarea", timeout=180000)
    page.wait_for_function("() => window.webuiAssetsLoaded === true", timeout=120000)
    return page, errors


@pytest.fixture
def open_page(server, browser):
    """Open the UI in a new browser tab; returns (page, errors seen in its console)."""
    opened = []

    def open_one():
        page, errors = open_ui(browser, server)
        opened.append(page)
        return page, errors

    yield open_one
    for p in opened:
        p.close()


def reset_tab(page) -> None:
    """Put a tab that an earlier module used back where a freshly opened page starts: wide window, txt2img shown,
    the Generation sub-tab of both tabs (not an extra-networks page) and img2img's plain img2img mode."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.evaluate("() => { if (window.generateOnRepeatInterval) clearInterval(window.generateOnRepeatInterval); }")
    for tab in ("img2img", "txt2img"):
        page.click(f"#tab_{tab}-button")
        page.locator(f"#tab_{tab}").get_by_role("tab", name="Generation", exact=True).click()
        if tab == "img2img":
            page.click("#img2img_img2img_tab-button")


@pytest.fixture(scope="package")
def shared_tabs(server, browser):
    """The tabs that modules naming the same ``SHARED_TAB`` continue in, by that name."""
    tabs: dict[str, tuple[Any, list[str]]] = {}
    yield tabs
    for page, _ in tabs.values():
        page.close()


@pytest.fixture(scope="module")
def module_page(request, server, browser, shared_tabs):
    """One browser tab for the tests of a module (opening the page takes seconds); each test starts by
    choosing the tab it needs.  Yields (page, errors seen in its console while this module ran).

    Loading the page costs a browser on two busy cores 10-30 s, so modules that set every field they rely on
    name a group in a module-level ``SHARED_TAB``: the first of the group (in file-name order, the order pytest
    runs them) gets a fresh page, the next ones continue in it after ``reset_tab``.  A module without
    ``SHARED_TAB`` gets a tab of its own."""
    group = getattr(request.module, "SHARED_TAB", None)
    if group is None:
        page, errors = open_ui(browser, server)
        yield page, errors
        page.close()
        return
    errors: list[str] = []

    def record(error) -> None:
        errors.append(str(error))

    if group not in shared_tabs:
        shared_tabs[group] = page, load_errors = open_ui(browser, server)
        errors.extend(load_errors)  # what went wrong while the page loaded counts for the module that opened it
        page.on("pageerror", record)
    else:
        page = shared_tabs[group][0]
        page.on("pageerror", record)
        page.bring_to_front()  # tabs opened since left it in the background: no animation frames, slow timers
        reset_tab(page)
    yield page, errors
    page.remove_listener("pageerror", record)


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> bool:
    """Poll ``condition`` (something outside the page: a file the server writes) until it holds or ``timeout``
    seconds pass; returns its last answer."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        time.sleep(0.1)
    return True


def set_number(page, elem_id: str, value) -> None:
    """Type a value into a slider's number box, as a person would."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def screenshot_dir() -> str:
    """Where browser tests leave their screenshots (``WEBUI_TEST_SCREENSHOTS``, else a temporary folder)."""
    folder = os.environ.get("WEBUI_TEST_SCREENSHOTS") or os.path.join(tempfile.gettempdir(), "webui-ui-screenshots")
    os.makedirs(folder, exist_ok=True)
    return folder
