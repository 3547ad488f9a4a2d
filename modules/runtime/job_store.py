"""Asynchronous jobs on disk, so that they survive a restart: one SQLite table and a folder of pictures per job.

Layout (in the cache dir, ``<data dir>/cache`` unless ``SD_WEBUI_CACHE_DIR`` moves it)::

    jobs.sqlite3     one row per job: task id, kind, state, timestamps, the request as JSON (its
                     pictures left out), the error or the result's own fields as JSON
    jobs/<seq>/      that job's pictures: request-<n>.<ext> (the request's pictures, the bytes as
                     sent) and result-<n>.png (the answer's pictures, with their text chunks)

Only the standard library's :mod:`sqlite3` is used, in WAL mode, through one connection guarded
by a lock: the job worker and the HTTP threads both write.  The database file is created with
the first stored job; a file that is not a readable job store is moved into ``tmp/`` (with its
pictures) with a warning on the console, and an empty store starts.  Folders without a row (a
crash between writing the pictures and the row) are removed when the store opens.

Nothing here knows what a job does: rows are written and read for the job queue
(:mod:`modules.runtime.jobs`), which decides what to keep and for how long.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
"""The states a job passes through (stored as these strings)."""

DB_NAME = "jobs.sqlite3"
FILES_DIR_NAME = "jobs"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    progress REAL NOT NULL DEFAULT 0,
    request TEXT,
    request_files TEXT,
    error TEXT,
    result TEXT
);
"""
_COLUMNS = frozenset(("seq", "task_id", "kind", "name", "status", "created", "started", "finished", "progress",
                      "request", "request_files", "error", "result"))

PICTURE_MIN_CHARS = 64
"""Shorter strings of a request are never taken for pictures (a base64 picture is longer)."""
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
               (b"BM", "bmp"), (b"II*\x00", "tif"), (b"MM\x00*", "tif"))


class JobStoreError(RuntimeError):
    """The store could not do what was asked (closed, or a row is missing)."""


@dataclass
class StoredResult:
    """What a finished job keeps: its pictures (PNG bytes) and the rest of its answer (JSON-able)."""

    images: list[bytes]
    fields: dict[str, Any]


@dataclass
class StoredJob:
    """One row of the store, as the job queue restores it."""

    key: int
    """The row's number: arrival order, and the name of the job's folder."""
    task_id: str
    kind: str
    name: str
    status: str
    created: float
    started: float | None
    finished: float | None
    progress: float
    error: dict[str, Any] | None
    has_result: bool


class JobStore:
    """The job table and its picture folders; every method may be called from any thread."""

    def __init__(self, db_path: str, files_dir: str, aside_dir: str) -> None:
        self.db_path = os.path.abspath(db_path)
        self.files_dir = os.path.abspath(files_dir)
        self.aside_dir = aside_dir
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    def for_paths(cls, paths: Any) -> "JobStore":
        """The store of a data dir: ``<cache dir>/jobs.sqlite3`` and ``<cache dir>/jobs/`` (``tmp/`` for bad ones)."""
        return cls(os.path.join(paths.cache_dir, DB_NAME), os.path.join(paths.cache_dir, FILES_DIR_NAME),
                   paths.tmp_dir)

    def same_place(self, other: "JobStore") -> bool:
        return self.db_path == other.db_path

    # --- the connection -------------------------------------------------------------------------------------
    def _connection(self, create: bool) -> sqlite3.Connection | None:
        """The open connection; None when closed, or when there is no file yet and ``create`` is false."""
        if self._closed:
            return None
        if self._conn is None:
            if not create and not os.path.exists(self.db_path):
                return None
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
        try:
            return self._connect_checked()
        except sqlite3.DatabaseError as e:
            self._move_aside(e)
            return self._connect_checked()

    def _connect_checked(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun explicitly (see _write), nothing is left open by accident
        conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check[0] if check else 'no answer'}")
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
            if not _COLUMNS <= columns:
                raise sqlite3.DatabaseError(f"table jobs lacks columns {sorted(_COLUMNS - columns)}")
        except sqlite3.DatabaseError:
            conn.close()
            raise
        self._remove_orphans(conn)
        return conn

    def _move_aside(self, error: Exception) -> None:
        """Put an unreadable store (database, its journal files, its pictures) into ``tmp/``; warn on the console."""
        os.makedirs(self.aside_dir, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        n = 0
        while os.path.exists(os.path.join(self.aside_dir, f"{DB_NAME}-{stamp}")):
            n += 1
            stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{n}"
        target = os.path.join(self.aside_dir, f"{DB_NAME}-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db_path + suffix):
                os.replace(self.db_path + suffix, target + suffix)
        if os.path.isdir(self.files_dir):
            shutil.move(self.files_dir, os.path.join(self.aside_dir, f"{FILES_DIR_NAME}-{stamp}"))
        log.warning("job store %s could not be read (%s); moved to %s", self.db_path, error, target)
        print(f"*** Job store {self.db_path} could not be read ({error}); moved to {target}, "
              f"starting with an empty store", flush=True)

    def _remove_orphans(self, conn: sqlite3.Connection) -> None:
        if not os.path.isdir(self.files_dir):
            return
        keys = {str(row[0]) for row in conn.execute("SELECT seq FROM jobs")}
        for name in os.listdir(self.files_dir):
            if name.isdigit() and name not in keys:
                shutil.rmtree(os.path.join(self.files_dir, name), ignore_errors=True)

    def close(self) -> None:
        """Close the connection; later calls do nothing (reads answer nothing)."""
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def closed(self) -> bool:
        return self._closed

    def _folder(self, key: int) -> str:
        return os.path.join(self.files_dir, str(int(key)))

    # --- writing --------------------------------------------------------------------------------------------
    def add(self, task_id: str, kind: str, name: str, created: float, request: dict[str, Any]) -> int | None:
        """Store a new queued job with its request (pictures written to files); returns its key (None when closed).

        A row with the same task id (a finished job whose id is used again) is replaced.
        """
        body, pictures = split_pictures(request)
        with self._lock:
            conn = self._connection(create=True)
            if conn is None:
                return None
            key, replaced = None, []
            try:
                with _Transaction(conn):
                    replaced = [row[0] for row in conn.execute("SELECT seq FROM jobs WHERE task_id = ?", (task_id,))]
                    conn.execute("DELETE FROM jobs WHERE task_id = ?", (task_id,))
                    cursor = conn.execute("INSERT INTO jobs (task_id, kind, name, status, created) "
                                          "VALUES (?, ?, ?, ?, ?)", (task_id, kind, name, QUEUED, created))
                    key = int(cursor.lastrowid)
                    files = self._write_pictures(key, pictures)
                    conn.execute("UPDATE jobs SET request = ?, request_files = ? WHERE seq = ?",
                                 (_dumps(body), _dumps(files), key))
            except BaseException:
                if key is not None:  # the row was rolled back: its pictures go too
                    shutil.rmtree(self._folder(key), ignore_errors=True)
                raise
            for old in replaced:
                shutil.rmtree(self._folder(old), ignore_errors=True)
            return key

    def _write_pictures(self, key: int, pictures: list["_Picture"]) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = []
        if not pictures:
            return files
        folder = self._folder(key)
        os.makedirs(folder, exist_ok=True)
        for n, picture in enumerate(pictures):
            filename = f"request-{n}.{picture.ext}"
            _write_file(os.path.join(folder, filename), picture.data)
            files.append({"path": picture.path, "prefix": picture.prefix, "file": filename})
        return files

    def set_running(self, key: int, started: float) -> None:
        self._update(key, "UPDATE jobs SET status = ?, started = ? WHERE seq = ?", (RUNNING, started, key))

    def set_finished(self, key: int, status: str, finished: float, progress: float,
                     error: dict[str, Any] | None = None, result: StoredResult | None = None) -> None:
        """Record the end of a job; ``result``'s pictures are written before the row says they exist."""
        with self._lock:
            conn = self._connection(create=False)
            if conn is None or conn.execute("SELECT 1 FROM jobs WHERE seq = ?", (key,)).fetchone() is None:
                return  # closed, or a job of another store (the row is gone): nothing to record
            stored = None
            if result is not None:
                folder = self._folder(key)
                os.makedirs(folder, exist_ok=True)
                names = []
                for n, data in enumerate(result.images):
                    names.append(f"result-{n}.png")
                    _write_file(os.path.join(folder, names[-1]), data)
                stored = {"images": names, "fields": result.fields}
            with _Transaction(conn):
                # the request is not needed any more: its pictures go, the row keeps the rest
                conn.execute("UPDATE jobs SET status = ?, finished = ?, progress = ?, error = ?, result = ?, "
                             "request_files = NULL WHERE seq = ?",
                             (status, finished, progress, _dumps(error), _dumps(stored), key))
            self._remove_files(key, "request-")

    def drop_result(self, key: int) -> None:
        """Forget a job's result (its pictures are deleted); the row stays."""
        with self._lock:
            if self._update(key, "UPDATE jobs SET result = NULL WHERE seq = ?", (key,)):
                self._remove_files(key, "result-")

    def delete(self, key: int) -> None:
        """Forget a job: its row and its folder."""
        with self._lock:
            conn = self._connection(create=False)
            if conn is None:
                return
            with _Transaction(conn):
                conn.execute("DELETE FROM jobs WHERE seq = ?", (key,))
            shutil.rmtree(self._folder(key), ignore_errors=True)

    def fail_running(self, error: dict[str, Any], finished: float) -> list[str]:
        """Mark every job the store says is running as failed with ``error`` (it was running when the process died).

        Returns their task ids.
        """
        with self._lock:
            conn = self._connection(create=False)
            if conn is None:
                return []
            rows = conn.execute("SELECT seq, task_id FROM jobs WHERE status = ? ORDER BY seq", (RUNNING,)).fetchall()
            with _Transaction(conn):
                for key, _ in rows:
                    conn.execute("UPDATE jobs SET status = ?, finished = ?, error = ?, request_files = NULL "
                                 "WHERE seq = ?", (FAILED, finished, _dumps(error), key))
            for key, _ in rows:
                self._remove_files(key, "request-")
            return [task_id for _, task_id in rows]

    def _update(self, key: int, sql: str, params: tuple) -> bool:
        with self._lock:
            conn = self._connection(create=False)
            if conn is None:
                return False
            with _Transaction(conn):
                return conn.execute(sql, params).rowcount > 0

    def _remove_files(self, key: int, prefix: str) -> None:
        folder = self._folder(key)
        if not os.path.isdir(folder):
            return
        for name in os.listdir(folder):
            if name.startswith(prefix):
                os.remove(os.path.join(folder, name))

    # --- reading --------------------------------------------------------------------------------------------
    def jobs(self) -> list[StoredJob]:
        """Every stored job, in arrival order."""
        with self._lock:
            conn = self._connection(create=False)
            if conn is None:
                return []
            rows = conn.execute("SELECT seq, task_id, kind, name, status, created, started, finished, progress, "
                                "error, result IS NOT NULL FROM jobs ORDER BY seq").fetchall()
        return [StoredJob(key=row[0], task_id=row[1], kind=row[2], name=row[3], status=row[4], created=row[5],
                          started=row[6], finished=row[7], progress=row[8] or 0.0, error=_loads(row[9]),
                          has_result=bool(row[10])) for row in rows]

    def request(self, key: int) -> dict[str, Any] | None:
        """The job's request as it was sent (pictures put back); None when unknown or unreadable.

        Raises :class:`JobStoreError` when its pictures are missing.
        """
        with self._lock:
            conn = self._connection(create=False)
            row = None if conn is None else conn.execute(
                "SELECT request, request_files FROM jobs WHERE seq = ?", (key,)).fetchone()
        if row is None:
            return None
        body, files = _loads(row[0]), _loads(row[1]) or []
        if not isinstance(body, dict):
            return None
        try:
            for entry in files:
                with open(os.path.join(self._folder(key), os.path.basename(entry["file"])), "rb") as f:
                    data = f.read()
                _set_at(body, entry["path"], entry["prefix"] + base64.b64encode(data).decode("ascii"))
        except (OSError, KeyError, IndexError, TypeError) as e:
            raise JobStoreError(f"the stored request is incomplete ({e})") from e
        return body

    def result(self, key: int) -> StoredResult | None:
        """The job's stored result; None when it has none (or it is unreadable)."""
        with self._lock:
            conn = self._connection(create=False)
            row = None if conn is None else conn.execute("SELECT result FROM jobs WHERE seq = ?", (key,)).fetchone()
        stored = _loads(row[0]) if row is not None else None
        if not isinstance(stored, dict):
            return None
        images = []
        for name in stored.get("images", []):
            with open(os.path.join(self._folder(key), os.path.basename(name)), "rb") as f:
                images.append(f.read())
        return StoredResult(images, dict(stored.get("fields") or {}))


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on an exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


# --- pictures inside requests ---------------------------------------------------------------------------------

@dataclass
class _Picture:
    path: list[str | int]
    prefix: str
    data: bytes
    ext: str


def split_pictures(request: dict[str, Any]) -> tuple[dict[str, Any], list[_Picture]]:
    """(a copy of ``request`` with every base64 picture replaced by ``""``, the pictures found).

    A picture is a string of at least :data:`PICTURE_MIN_CHARS` characters, optionally with a
    ``data:...;base64,`` prefix, that decodes to bytes starting with a picture format's signature
    (PNG, JPEG, WEBP, GIF, BMP, TIFF).  Anything else (URLs, prompts) stays in the JSON.
    """
    found: list[_Picture] = []
    return _split(request, [], found), found


def _split(value: Any, path: list[str | int], found: list[_Picture]) -> Any:
    if isinstance(value, dict):
        return {k: _split(v, path + [k], found) for k, v in value.items()}
    if isinstance(value, list):
        return [_split(v, path + [i], found) for i, v in enumerate(value)]
    if isinstance(value, str) and len(value) >= PICTURE_MIN_CHARS:
        picture = _as_picture(value)
        if picture is not None:
            prefix, data, ext = picture
            found.append(_Picture(list(path), prefix, data, ext))
            return ""
    return value


def _as_picture(text: str) -> tuple[str, bytes, str] | None:
    prefix, payload = "", text
    if text.startswith("data:"):
        head, comma, payload = text.partition(",")
        if not comma or not head.endswith(";base64"):
            return None
        prefix = head + comma
    if any(c.isspace() for c in payload[:256]) or any(c.isspace() for c in payload[-256:]):
        payload = "".join(payload.split())
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    ext = _picture_format(data)
    return (prefix, data, ext) if ext is not None else None


def _picture_format(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((ext for signature, ext in _SIGNATURES if data.startswith(signature)), None)


def _set_at(body: Any, path: list[str | int], value: str) -> None:
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _write_file(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None

