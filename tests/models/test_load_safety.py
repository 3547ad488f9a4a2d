"""Unsafe and broken checkpoint files are refused with a message naming the file."""
from __future__ import annotations

import json
import struct

import pytest
import torch

from modules.models.checkpoint_io import CheckpointError, load_pickle, read_checkpoint, read_safetensors_header
from modules.models.loader import load_model
from modules.models.tiny_factory import make_tiny_checkpoint, tiny_state_dict


class _WritesMarker:
    """Pickles to a call of ``open(marker, "w")``: code that runs during unpickling."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "payload": _WritesMarker(str(marker))}, path)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)
    assert "--disable-safe-unpickle" in str(info.value)
    assert not marker.exists()
    with pytest.raises(CheckpointError):
        load_model(path)
    assert not marker.exists()


def test_unsafe_load_only_when_asked(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "trusted.ckpt"
    torch.save({"payload": _WritesMarker(str(marker))}, path)
    load_pickle(path, allow_unsafe=True)
    assert marker.exists()


def test_torch_load_is_not_replaced(tmp_path):
    before = torch.load
    path = tmp_path / "x.ckpt"
    torch.save({"state_dict": {"w": torch.ones(1)}}, path)
    read_checkpoint(path)
    assert torch.load is before


class _FakeLightningCallback:
    def __init__(self) -> None:
        self.best_model_score = None
        self.monitor = "val/loss"


_FakeLightningCallback.__module__ = "pytorch_lightning.callbacks.model_checkpoint"
_FakeLightningCallback.__qualname__ = "ModelCheckpoint"


def test_lightning_ckpt_with_callbacks_loads(tmp_path, monkeypatch):
    import sys
    import types
    # Save an SD-1.x-style .ckpt whose pickle references Lightning's ModelCheckpoint class.
    for name in ("pytorch_lightning", "pytorch_lightning.callbacks", "pytorch_lightning.callbacks.model_checkpoint"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["pytorch_lightning.callbacks.model_checkpoint"].ModelCheckpoint = _FakeLightningCallback
    tiny = make_tiny_checkpoint("sd1", tmp_path, name="src")
    path = tmp_path / "tiny-sd1.ckpt"
    state = tiny_state_dict("sd1")
    torch.save({"epoch": 6, "global_step": 840000, "state_dict": state,
                "callbacks": {"ModelCheckpoint": _FakeLightningCallback()}}, path)
    monkeypatch.undo()
    (tmp_path / "tiny-sd1.yaml").write_text(tiny.with_suffix(".yaml").read_text())
    model = load_model(path)
    assert model.is_sd1


def write_raw(path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


@pytest.mark.parametrize("case", ["truncated_data", "lying_length", "bad_json", "short", "size_mismatch",
                                  "bad_dtype"])
def test_broken_safetensors_give_clear_errors(tmp_path, case):
    path = tmp_path / "broken.safetensors"
    good = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    if case == "truncated_data":
        write_raw(path, good, b"\0" * 8)
    elif case == "lying_length":
        path.write_bytes(struct.pack("<Q", 10 ** 9) + b"{}")
    elif case == "bad_json":
        path.write_bytes(struct.pack("<Q", 5) + b"{oops" + b"\0" * 16)
    elif case == "short":
        path.write_bytes(b"\x01\x02")
    elif case == "size_mismatch":
        write_raw(path, {"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 16]}}, b"\0" * 16)
    else:
        write_raw(path, {"w": {"dtype": "Q7", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)
    assert "safetensors" in str(info.value)


def test_valid_header_reads_shapes_and_metadata(tmp_path):
    path = make_tiny_checkpoint("sd1", tmp_path)
    entries, metadata = read_safetensors_header(path)
    assert entries["model.diffusion_model.out.2.weight"] == ("F32", (4, 32, 3, 3))
    assert metadata["modelspec.title"] == "tiny-sd1"


def test_missing_weights_are_an_error(tmp_path):
    from safetensors.torch import save_file
    path = make_tiny_checkpoint("sd1", tmp_path)
    state = tiny_state_dict("sd1")
    del state["model.diffusion_model.out.2.weight"]
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match="missing"):
        load_model(path)
