"""Legacy, full and addnet hashes against hashlib on known bytes; the sha256 cache."""
from __future__ import annotations

import hashlib
import os
import random

import pytest
import torch
from safetensors.torch import save_file

from modules.core import hashing
from modules.core.cache import DiskCache


def _known_bytes(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
def big_file(tmp_path):
    # larger than 1 MiB + 64 KiB so the legacy hash reads real data, and not a multiple of the block size
    data = _known_bytes(0x100000 + 0x10000 + 12345)
    path = tmp_path / "model.ckpt"
    path.write_bytes(data)
    return path, data


@pytest.fixture
def cache(tmp_path):
    c = DiskCache(str(tmp_path / "cache"), legacy_file="")
    yield c
    c.close()


def test_legacy_hash_is_sha256_of_64k_at_1mib(big_file):
    path, data = big_file
    expected = hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert hashing.legacy_model_hash(str(path)) == expected
    assert len(expected) == 8


def test_legacy_hash_of_missing_file(tmp_path):
    assert hashing.legacy_model_hash(str(tmp_path / "nope.ckpt")) == "NOFILE"


def test_legacy_hash_of_short_file_hashes_nothing(tmp_path):
    path = tmp_path / "small.ckpt"
    path.write_bytes(b"tiny")
    assert hashing.legacy_model_hash(str(path)) == hashlib.sha256(b"").hexdigest()[:8]


def test_full_sha256(big_file):
    path, data = big_file
    assert hashing.calculate_sha256(str(path)) == hashlib.sha256(data).hexdigest()


def test_sha256_is_cached_and_reused(big_file, cache, monkeypatch, capsys):
    path, data = big_file
    expected = hashlib.sha256(data).hexdigest()
    calls = []
    real = hashing.calculate_sha256
    monkeypatch.setattr(hashing, "calculate_sha256", lambda f: calls.append(f) or real(f))

    assert hashing.sha256_from_cache(cache, str(path), "checkpoint/model.ckpt") is None
    assert hashing.sha256(cache, str(path), "checkpoint/model.ckpt") == expected
    assert capsys.readouterr().out == f"Calculating sha256 for {path}: {expected}\n"
    assert cache.cache("hashes")["checkpoint/model.ckpt"] == {"mtime": os.path.getmtime(path), "sha256": expected}

    assert hashing.sha256(cache, str(path), "checkpoint/model.ckpt") == expected
    assert hashing.sha256_from_cache(cache, str(path), "checkpoint/model.ckpt") == expected
    assert len(calls) == 1
    assert capsys.readouterr().out == ""

    # a new process (fresh cache object) reuses the stored value too
    again = DiskCache(cache.cache_dir, legacy_file="")
    assert hashing.sha256(again, str(path), "checkpoint/model.ckpt") == expected
    assert len(calls) == 1
    again.close()


def test_sha256_recomputed_after_the_file_changes(big_file, cache):
    path, data = big_file
    first = hashing.sha256(cache, str(path), "checkpoint/model.ckpt")
    changed = data[:-1] + bytes([data[-1] ^ 0xFF])
    path.write_bytes(changed)
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 5))

    assert hashing.sha256_from_cache(cache, str(path), "checkpoint/model.ckpt") is None
    second = hashing.sha256(cache, str(path), "checkpoint/model.ckpt")
    assert second == hashlib.sha256(changed).hexdigest() != first


def test_no_hashing_uses_only_the_cache(big_file, cache, monkeypatch):
    path, data = big_file
    monkeypatch.setattr(hashing, "calculate_sha256", lambda f: pytest.fail("must not hash"))
    assert hashing.sha256(cache, str(path), "checkpoint/model.ckpt", no_hashing=True) is None
    cache.cache("hashes")["checkpoint/model.ckpt"] = {"mtime": os.path.getmtime(path), "sha256": "ab" * 32}
    assert hashing.sha256(cache, str(path), "checkpoint/model.ckpt", no_hashing=True) == "ab" * 32


def test_sha256_from_cache_of_missing_file(tmp_path, cache):
    cache.cache("hashes")["t"] = {"mtime": 1.0, "sha256": "aa"}
    assert hashing.sha256_from_cache(cache, str(tmp_path / "gone"), "t") is None


def test_sha256_without_a_cache(big_file, capsys):
    path, data = big_file
    assert hashing.sha256(None, str(path), "t") == hashlib.sha256(data).hexdigest()


def test_addnet_hash_skips_length_and_header(tmp_path, cache):
    path = tmp_path / "lora.safetensors"
    save_file({"w": torch.arange(1000, dtype=torch.float32)}, str(path), metadata={"ss_output_name": "x"})
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    expected = hashlib.sha256(raw[8 + n:]).hexdigest()

    assert hashing.calculate_addnet_hash(str(path)) == expected
    with open(path, "rb") as f:
        assert hashing.addnet_hash_safetensors(f) == expected
    assert hashing.sha256(cache, str(path), "lora/lora", use_addnet_hash=True) == expected
    assert cache.cache("hashes-addnet")["lora/lora"]["sha256"] == expected
    assert "lora/lora" not in cache.cache("hashes")
    assert hashing.sha256_from_cache(cache, str(path), "lora/lora", use_addnet_hash=True) == expected

    # editing only the metadata keeps the addnet hash
    other = tmp_path / "renamed.safetensors"
    save_file({"w": torch.arange(1000, dtype=torch.float32)}, str(other), metadata={"ss_output_name": "a much longer name"})
    assert hashing.calculate_addnet_hash(str(other)) == expected
