"""Tiny models loaded once per session (their weights are restored by the patcher after each test)."""
from __future__ import annotations

import pytest

from modules.models.loader import load_model
from modules.models.tiny_factory import make_tiny_checkpoint

_models: dict[str, object] = {}


@pytest.fixture
def tiny_model(tmp_path_factory):
    """``tiny_model(family)``: a loaded tiny checkpoint; every patch is undone when the test ends."""
    from modules.models.patcher import patcher_for

    used = []

    def get(family: str = "sd1"):
        if family not in _models:
            directory = tmp_path_factory.mktemp(f"tiny-{family}")
            _models[family] = load_model(make_tiny_checkpoint(family, directory))
        used.append(_models[family])
        return _models[family]

    yield get
    for model in used:
        patcher_for(model).unpatch()


@pytest.fixture
def lora_state(tmp_path):
    """A :class:`LoraNetworks` over ``tmp_path/Lora`` with no cache or settings."""
    from modules.networks.lora.lora_networks import LoraNetworks
    from modules.networks.lora.network_files import NetworkFiles

    folder = tmp_path / "Lora"
    folder.mkdir()
    files = NetworkFiles(lambda: [str(folder)])
    return LoraNetworks(files), folder
