"""safetensors headers: metadata and tensor table from real files, and clear errors on bad ones."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from modules.core.safetensors_header import (
    MAX_HEADER_SIZE,
    SafetensorsHeaderError,
    TensorInfo,
    read_header,
    read_metadata,
    read_metadata_and_thumbnail,
    read_tensor_table,
)

METADATA = {
    "ss_network_dim": "16",
    "ss_tag_frequency": json.dumps({"set": {"cat": 3}}),
    "ss_list": "[1, 2, 3]",
    "note": "{not json at all",
    "modelspec.thumbnail": "data:image/png;base64,AAAA",
}


@pytest.fixture
def real_file(tmp_path):
    path = tmp_path / "model.safetensors"
    tensors = {
        "model.diffusion_model.input_blocks.0.0.weight": torch.zeros(8, 4, 3, 3, dtype=torch.float16),
        "cond_stage_model.transformer.text_model.final_layer_norm.weight": torch.ones(16),
        "first_stage_model.encoder.conv_in.bias": torch.zeros(2, dtype=torch.bfloat16),
    }
    save_file(tensors, str(path), metadata=METADATA)
    return path


def _write(path, length: int, body: bytes) -> str:
    path.write_bytes(length.to_bytes(8, "little") + body)
    return str(path)


def test_metadata_parsed_and_thumbnail_popped(real_file):
    meta = read_metadata(str(real_file))
    assert meta == {
        "ss_network_dim": "16",
        "ss_tag_frequency": {"set": {"cat": 3}},
        "ss_list": [1, 2, 3],
        "note": "{not json at all",
    }
    with_thumb = read_metadata(str(real_file), keep_thumbnail=True)
    assert with_thumb["modelspec.thumbnail"] == "data:image/png;base64,AAAA"
    meta2, thumb = read_metadata_and_thumbnail(str(real_file))
    assert meta2 == meta and thumb == "data:image/png;base64,AAAA"


def test_file_without_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(1)}, str(path))
    assert read_metadata(str(path)) == {}


def test_tensor_table(real_file):
    table = read_tensor_table(str(real_file))
    assert set(table) == {
        "model.diffusion_model.input_blocks.0.0.weight",
        "cond_stage_model.transformer.text_model.final_layer_norm.weight",
        "first_stage_model.encoder.conv_in.bias",
    }
    unet = table["model.diffusion_model.input_blocks.0.0.weight"]
    assert isinstance(unet, TensorInfo)
    assert (unet.dtype, unet.shape, unet.numel) == ("F16", (8, 4, 3, 3), 288)
    assert unet.data_offsets[1] - unet.data_offsets[0] == 288 * 2
    assert table["cond_stage_model.transformer.text_model.final_layer_norm.weight"].dtype == "F32"
    assert table["first_stage_model.encoder.conv_in.bias"].shape == (2,)


def test_header_and_data_size(real_file):
    header, data_size = read_header(str(real_file))
    n = int.from_bytes(real_file.read_bytes()[:8], "little")
    assert data_size == real_file.stat().st_size - 8 - n
    assert "__metadata__" in header


def _assert_error(path, *words):
    with pytest.raises(SafetensorsHeaderError) as info:
        read_tensor_table(str(path))
    message = str(info.value)
    assert str(path) in message
    assert info.value.filename == str(path)
    for word in words:
        assert word in message
    return info.value


def test_truncated_inside_the_header(real_file, tmp_path):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(real_file.read_bytes()[:40])
    _assert_error(cut, "past the end")
    with pytest.raises(SafetensorsHeaderError):
        read_metadata(str(cut))


def test_truncated_tensor_data(real_file, tmp_path):
    raw = real_file.read_bytes()
    cut = tmp_path / "cut-data.safetensors"
    cut.write_bytes(raw[:-10])
    read_metadata(str(cut))  # the header itself is intact
    _assert_error(cut, "data_offsets")


def test_shorter_than_the_length_prefix(tmp_path):
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(b"\x01\x02")
    _assert_error(path, "2 bytes")


def test_absurd_header_length_refused(tmp_path):
    path = _write(tmp_path / "huge.safetensors", MAX_HEADER_SIZE + 1, b'{"a": 1}')
    _assert_error(path, "limit")


def test_length_beyond_the_file(tmp_path):
    path = _write(tmp_path / "liar.safetensors", 5000, b'{"__metadata__": {}}')
    _assert_error(path, "5000")


def test_not_a_json_object(tmp_path):
    _assert_error(_write(tmp_path / "a.safetensors", 6, b"PK\x03\x04ab"), "JSON object")
    _assert_error(_write(tmp_path / "b.safetensors", 4, b'{"a"'), "not valid JSON")
    _assert_error(_write(tmp_path / "c.safetensors", 1, b"{"), "too short")


def test_lying_tensor_entries(tmp_path):
    def header(entries: dict) -> str:
        body = json.dumps(entries).encode()
        return _write(tmp_path / "x.safetensors", len(body), body + b"\0" * 16)

    _assert_error(header({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 64]}}), "outside")
    _assert_error(header({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}}), "needs 8 bytes")
    _assert_error(header({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}), "bad shape")
    _assert_error(header({"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}), "outside")
    _assert_error(header({"t": {"shape": [1], "data_offsets": [0, 4]}}), "dtype")
    _assert_error(header({"t": [1, 2]}), "'t'")
    ok = header({"t": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}})
    assert read_tensor_table(ok)["t"] == TensorInfo("F32", (2, 2), (0, 16))


def test_metadata_that_is_not_an_object(tmp_path):
    body = json.dumps({"__metadata__": "oops"}).encode()
    path = _write(tmp_path / "m.safetensors", len(body), body)
    with pytest.raises(SafetensorsHeaderError, match="__metadata__"):
        read_metadata(path)
