"""The on-disk caches: persistence, mtime-keyed file data, legacy cache.json conversion, threads."""
from __future__ import annotations

import json
import os
import threading

from modules.core.cache import DiskCache
from modules.core.cmd_args import build_parser
from modules.core.paths import resolve_path_flags


def _touch_later(path, seconds: float = 10.0) -> None:
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + seconds))


def test_nothing_is_opened_until_used(tmp_path):
    c = DiskCache(str(tmp_path / "cache"))
    assert not (tmp_path / "cache").exists()
    c.cache("hashes")["a"] = 1
    assert (tmp_path / "cache" / "hashes").is_dir()
    c.close()


def test_values_persist_across_instances(tmp_path):
    first = DiskCache(str(tmp_path / "cache"))
    first.cache("hashes")["checkpoint/x"] = {"mtime": 1.5, "sha256": "ab"}
    first.cache("other")["k"] = [1, 2]
    first.close()

    second = DiskCache(str(tmp_path / "cache"))
    assert second.cache("hashes")["checkpoint/x"] == {"mtime": 1.5, "sha256": "ab"}
    assert second.cache("other")["k"] == [1, 2]
    assert "k" not in second.cache("hashes")
    assert second.cache("hashes") is second.cache("hashes")
    second.close()


def test_cached_data_for_file_recomputes_only_when_the_file_changes(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"one")
    c = DiskCache(str(tmp_path / "cache"))
    calls = []

    def compute():
        calls.append(1)
        return {"size": f.stat().st_size}

    assert c.cached_data_for_file("meta", "x/model", str(f), compute) == {"size": 3}
    assert c.cached_data_for_file("meta", "x/model", str(f), compute) == {"size": 3}
    assert len(calls) == 1
    stored = c.cache("meta")["x/model"]
    assert stored == {"mtime": os.path.getmtime(f), "value": {"size": 3}}

    f.write_bytes(b"three")
    _touch_later(f)
    assert c.cached_data_for_file("meta", "x/model", str(f), compute) == {"size": 5}
    assert len(calls) == 2

    # an older mtime (file restored from a backup) also counts as a change
    st = os.stat(f)
    os.utime(f, (st.st_atime, st.st_mtime - 100))
    c.cached_data_for_file("meta", "x/model", str(f), compute)
    assert len(calls) == 3

    # reused by a fresh instance: the value is on disk
    c.close()
    again = DiskCache(str(tmp_path / "cache"))
    assert again.cached_data_for_file("meta", "x/model", str(f), compute) == {"size": 5}
    assert len(calls) == 3
    again.close()


def test_none_is_returned_but_not_stored(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"")
    c = DiskCache(str(tmp_path / "cache"))
    assert c.cached_data_for_file("meta", "t", str(f), lambda: None) is None
    assert "t" not in c.cache("meta")
    c.close()


def test_one_computation_per_key_across_threads(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x")
    c = DiskCache(str(tmp_path / "cache"))
    calls = []
    gate = threading.Barrier(8)

    def compute():
        calls.append(1)
        return "v"

    results = []

    def worker():
        gate.wait()
        results.append(c.cached_data_for_file("meta", "same", str(f), compute))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["v"] * 8
    assert len(calls) == 1
    c.close()


def test_legacy_cache_json_is_converted_on_first_use(tmp_path):
    legacy = tmp_path / "cache.json"
    legacy.write_text(json.dumps({
        "hashes": {"checkpoint/a.safetensors": {"mtime": 12.0, "sha256": "f" * 64}},
        "safetensors-metadata": {"checkpoint/a.safetensors": {"mtime": 12.0, "value": {"k": "v"}}},
    }))
    c = DiskCache(str(tmp_path / "cache"))  # default legacy file: cache.json beside the cache folder
    assert c.cache("hashes")["checkpoint/a.safetensors"]["sha256"] == "f" * 64
    assert c.cache("safetensors-metadata")["checkpoint/a.safetensors"]["value"] == {"k": "v"}
    c.close()


def test_legacy_file_is_not_converted_when_the_cache_folder_exists(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache.json").write_text(json.dumps({"hashes": {"x": {"sha256": "1"}}}))
    c = DiskCache(str(tmp_path / "cache"))
    assert "x" not in c.cache("hashes")
    c.close()


def test_corrupt_legacy_file_is_moved_aside(tmp_path, capsys):
    legacy = tmp_path / "cache.json"
    legacy.write_text("{not json")
    c = DiskCache(str(tmp_path / "cache"), aside_dir=str(tmp_path / "tmp"))
    assert len(c.cache("hashes")) == 0
    assert not legacy.exists()
    assert (tmp_path / "tmp" / "cache.json").read_text() == "{not json"
    assert "cache.json" in capsys.readouterr().err
    c.close()


def test_for_paths_uses_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("SD_WEBUI_CACHE_DIR", raising=False)
    monkeypatch.delenv("SD_WEBUI_CACHE_FILE", raising=False)
    paths = resolve_path_flags(build_parser().parse_args(["--data-dir", str(tmp_path)]))
    (tmp_path / "cache.json").write_text(json.dumps({"hashes": {"k": {"sha256": "1"}}}))
    c = DiskCache.for_paths(paths)
    assert c.cache_dir == str(tmp_path / "cache")
    assert c.cache("hashes")["k"] == {"sha256": "1"}
    c.close()


def test_cache_dir_env_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SD_WEBUI_CACHE_DIR", str(tmp_path / "elsewhere"))
    paths = resolve_path_flags(build_parser().parse_args(["--data-dir", str(tmp_path / "data")]))
    c = DiskCache.for_paths(paths)
    c.cache("hashes")["a"] = 1
    assert (tmp_path / "elsewhere" / "hashes").is_dir()
    c.close()


def test_unwritable_cache_folder_falls_back_to_memory(tmp_path, capsys):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    c = DiskCache(str(blocker / "cache"), legacy_file="")
    store = c.cache("hashes")
    store["a"] = 1
    assert store["a"] == 1
    assert "cannot open cache" in capsys.readouterr().err
