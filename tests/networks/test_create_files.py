"""Create embedding / Create hypernetwork (Train tab and API): A1111's file layouts, the init-text vectors, the
weight initialisations, and refusals that leave files alone."""
from __future__ import annotations

import os

import pytest
import torch

from modules.prompting.textual_inversion.creation import CreationError


@pytest.fixture
def api(app):
    from fastapi.testclient import TestClient

    from modules.app_server import create_app

    shared = app("sd1", "--api")
    with TestClient(create_app(shared.cmd_opts, with_ui=False)) as client:
        yield shared, client


def test_create_embedding_spreads_the_init_text_vectors_and_is_usable_at_once(api):
    shared, client = api
    r = client.post("/sdapi/v1/create/embedding",
                    json={"name": "my/../word!", "num_vectors_per_token": 3, "overwrite_old": False,
                          "init_text": "red cat"})
    path = os.path.join(shared.cmd_opts.embeddings_dir, "my..word.pt")
    assert r.status_code == 200 and r.json() == {"info": f"create embedding filename: {path}"}
    data = torch.load(path, weights_only=True)
    vec = data["string_to_param"]["*"]
    encoder = shared.sd_model.text_conditioning
    tokens = encoder.encode_embedding_init_text("red cat", 3)
    assert tokens.shape[0] == 2 and vec.shape == (3, tokens.shape[1])
    # vector i is token i * 2 // 3 of "red cat": red, red, cat
    assert torch.equal(vec[0], tokens[0]) and torch.equal(vec[1], tokens[0]) and torch.equal(vec[2], tokens[1])
    assert data["string_to_token"] == {"*": 265} and data["name"] == "my..word" and data["step"] == 0
    assert shared.embeddings.word_embeddings["my..word"].vectors == 3, "registered without a refresh"

    again = client.post("/sdapi/v1/create/embedding", json={"name": "my..word", "num_vectors_per_token": 1,
                                                              "overwrite_old": False})
    assert again.json()["info"] == f"create embedding error: file {path} already exists"
    assert torch.equal(torch.load(path, weights_only=True)["string_to_param"]["*"], vec), "left alone"
    blank = client.post("/sdapi/v1/create/embedding", json={"name": "x", "num_vectors_per_token": 2,
                                                              "overwrite_old": True, "init_text": ""})
    assert blank.status_code == 200
    assert torch.count_nonzero(torch.load(os.path.join(shared.cmd_opts.embeddings_dir, "x.pt"),
                                          weights_only=True)["string_to_param"]["*"]) == 0
    assert client.post("/sdapi/v1/create/embedding", json={"name": "///", "num_vectors_per_token": 1,
                                                           "overwrite_old": True}).json()["info"] == \
        "create embedding error: Name cannot be empty!"


@pytest.mark.parametrize("weight_init", ["Normal", "XavierUniform", "KaimingNormal"])
def test_create_hypernetwork_writes_a1111_layout_that_loads(api, weight_init):
    shared, client = api
    body = {"name": f"net-{weight_init}", "enable_sizes": ["32", "320"], "overwrite_old": False,
            "layer_structure": "1, 1.5, 1", "activation_func": "relu", "weight_init": weight_init,
            "add_layer_norm": True, "use_dropout": True, "dropout_structure": "0, 0.1, 0"}
    r = client.post("/sdapi/v1/create/hypernetwork", json=body)
    path = os.path.join(shared.cmd_opts.hypernetwork_dir, f"net-{weight_init}.pt")
    assert r.json() == {"info": f"create hypernetwork filename: {path}"}
    data = torch.load(path, weights_only=False)
    assert set(k for k in data if isinstance(k, int)) == {32, 320}
    assert data["layer_structure"] == [1.0, 1.5, 1.0] and data["dropout_structure"] == [0.0, 0.1, 0.0]
    assert data["activation_func"] == "relu" and data["is_layer_norm"] is True and data["weight_initialization"] == weight_init
    first = data[320][0]["linear.0.weight"]
    assert first.shape == (480, 320)
    if weight_init == "Normal":
        assert 0.005 < first.std().item() < 0.015 and torch.count_nonzero(data[320][0]["linear.0.bias"]) == 0
    else:
        assert first.std().item() > 0.02 and torch.count_nonzero(data[320][0]["linear.0.bias"]) == 0
    # listed at once and readable by the loader used for generation
    assert f"net-{weight_init}" in [h["name"] for h in client.get("/sdapi/v1/hypernetworks").json()]
    from modules.hypernetworks.hypernetwork import load_hypernetwork

    loaded = load_hypernetwork(f"net-{weight_init}")
    assert loaded is not None and set(loaded.layers) == {32, 320}


@pytest.mark.parametrize("change, message", [
    (dict(enable_sizes=[]), "at least one module"),
    (dict(layer_structure="2, 1"), "start and end with 1"),
    (dict(use_dropout=True, dropout_structure="0, 0.5"), "as many entries"),
    (dict(use_dropout=True, dropout_structure="0.2, 0.1, 0"), "start and end with 0"),
    (dict(weight_init="Magic"), "Unknown weight initialization"),
    (dict(activation_func="nonsense"), "Unknown activation function"),
])
def test_create_hypernetwork_refuses_bad_structures(api, change, message):
    shared, client = api
    body = {"name": "bad", "enable_sizes": ["320"], "overwrite_old": True, **change}
    info = client.post("/sdapi/v1/create/hypernetwork", json=body).json()["info"]
    assert info.startswith("create hypernetwork error:") and message in info
    assert not os.path.exists(os.path.join(shared.cmd_opts.hypernetwork_dir, "bad.pt"))


def test_create_embedding_without_a_model_is_a_clear_error(started):
    started("--skip-load-model-at-start")
    from modules.prompting.textual_inversion.creation import create_embedding

    with pytest.raises(CreationError, match="No model is loaded"):
        create_embedding("x", 1, True)
