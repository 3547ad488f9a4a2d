"""Real ``webui.py`` server processes for the live attack table: start, wait, ask, measure, stop.

A :class:`LiveServer` is a ``webui.py`` subprocess serving its own data folder on a free loopback port.
Requests go through :mod:`http.client` so that a test controls every byte the server sees (a ``Host``
of its choosing, a raw JSON text with a lone surrogate, a ``text/plain`` body) and can tell whether the
server kept the connection.  :class:`RssSampler` follows the resident memory of the server's process
tree from ``/proc`` while a request runs, to see its peak.
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic_auth(login: str) -> dict[str, str]:
    """The ``Authorization`` header of an API client logging in with ``user:password``."""
    return {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}


@dataclass
class Answer:
    """What the server answered: status, headers (names lower-cased), body, and whether it closes the
    connection after this answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    will_close: bool

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self, limit: int = 400) -> str:
        return self.body[:limit].decode("utf-8", errors="replace")


def encode_body(body: Any) -> bytes | None:
    """Request bytes for ``body``: JSON for dicts and lists, UTF-8 for text, bytes as they are."""
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def exchange(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None,
             headers: Mapping[str, str] | None = None) -> Answer:
    """One request over ``conn`` (opened if needed); JSON content type unless ``headers`` name one."""
    data = encode_body(body)
    sent = dict(headers or {})
    if data is not None and not any(k.lower() == "content-type" for k in sent):
        sent["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    payload = response.read()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, payload, response.will_close)


@dataclass
class LiveServer:
    """A ``webui.py`` subprocess; ``auth`` is the ``user:password`` the test logs in with (None: no login)."""

    name: str
    data_dir: Path
    port: int
    proc: subprocess.Popen
    log_path: Path
    auth: str | None = None
    idle_rss: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def connect(self, timeout: float = 600) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None,
                login: bool = False, timeout: float = 600) -> Answer:
        """One request on a fresh connection; ``login`` adds the server's Basic login."""
        sent = dict(headers or {})
        if login and self.auth:
            sent.update(basic_auth(self.auth))
        conn = self.connect(timeout)
        try:
            return exchange(conn, method, path, body, sent)
        finally:
            conn.close()

    def answers(self) -> bool:
        """Whether the server still answers ``GET /sdapi/v1/options`` with 200 (logged in where a login is set;
        ``/internal/ping`` is a route of the UI, missing with ``--nowebui``)."""
        try:
            return self.request("GET", "/sdapi/v1/options", login=True, timeout=300).status == 200
        except OSError:
            return False

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def rss(self) -> int:
        return tree_rss(self.proc.pid)

    def wait_until_up(self, timeout: float = 400) -> None:
        """Wait until the server answers any HTTP request (a 401 or 404 too); fail with its log if it exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.request("GET", "/internal/ping", timeout=5)
                return
            except OSError:
                time.sleep(0.25)
        raise AssertionError(f"{self.name} server did not answer in {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM to the server's own process group (it was started in a new session), SIGKILL if it lingers."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def launch(name: str, data_dir: Path, *flags: str, auth: str | None = None) -> LiveServer:
    """Start ``webui.py`` serving ``data_dir`` on a free port (output in ``<data_dir>/../<name>.log``); does not
    wait for it."""
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    # the caller's launcher settings must not reach the test server
    for key in ("COMMANDLINE_ARGS", "SD_WEBUI_RESTART", "WEBUI_EXTENSIONS_INDEX"):
        env.pop(key, None)
    log_path = data_dir.parent / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "webui.py", "--data-dir", str(data_dir), "--port", str(port),
                                 "--skip-prepare-environment", *flags], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return LiveServer(name, data_dir, port, proc, log_path, auth)


def _parent_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # the command name (field 2) may hold spaces and brackets: the parent comes after its last ")"
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def process_tree(pid: int) -> set[int]:
    """``pid`` and every process under it (from the parents in ``/proc/*/stat``: this kernel has no
    ``/proc/<pid>/task/<tid>/children``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent_of(entry)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in tree:
            tree.add(current)
            todo += children.get(current, [])
    return tree


def _vm_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int, tree: set[int] | None = None) -> int:
    """Resident bytes (``VmRSS``) of ``pid`` and every process under it (or of the processes in ``tree``)."""
    return sum(_vm_rss(p) for p in (tree if tree is not None else process_tree(pid)))


class RssSampler:
    """Samples :func:`tree_rss` of a process every ``interval`` seconds in a thread while in use; ``peak`` is the
    largest value seen (including one reading at the start and one at the end).  The process tree is looked
    up again every ``rescan`` samples (a child started by a request counts too)."""

    def __init__(self, pid: int, interval: float = 0.05, rescan: int = 20) -> None:
        self.pid = pid
        self.interval = interval
        self.rescan = rescan
        self.peak = 0
        self._tree: set[int] = {pid}
        self._count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss sampler")

    def _sample(self) -> None:
        if self._count % self.rescan == 0:
            self._tree = process_tree(self.pid)
        self._count += 1
        self.peak = max(self.peak, tree_rss(self.pid, self._tree))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "RssSampler":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._count = 0  # a last full look, children included
        self._sample()


@contextlib.contextmanager
def launched(servers: list[LiveServer]) -> Iterator[dict[str, LiveServer]]:
    """The servers by name, all stopped at the end (each one even when another fails to stop)."""
    try:
        yield {s.name: s for s in servers}
    finally:
        for server in servers:
            server.stop()
