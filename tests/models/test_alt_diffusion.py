"""AltDiffusion m9/m18: the released layouts on meta, the XLM-R text encoder and its tokenizer against
transformers, the missing tokenizer file, txt2img through the API.

References outside our code: transformers' ``XLMRobertaModel`` loaded with the checkpoint's ``roberta.*``
tensors plus a plain ``torch.nn.Linear`` / ``LayerNorm`` for A1111's projections (m9: last hidden state;
m18: penultimate through ``pre_LN``), and transformers' ``XLMRobertaTokenizerFast`` on the same
``tokenizer.json``.
"""
from __future__ import annotations

import hashlib
import json

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load_file

from modules.models.checkpoint_io import CheckpointError
from modules.models.loader import LoadOptions, build_on_meta, choose_config, load_model
from modules.models.model_config import bundled_config
from modules.models.nets.xlmr_text import XLMR_LARGE
from modules.models.tiny_factory import TINY_XLMR, make_tiny_checkpoint, write_tiny_xlmr_tokenizer

transformers = pytest.importorskip("transformers")

YAML = {"alt-diffusion": "alt-diffusion-inference.yaml", "alt-diffusion-m18": "alt-diffusion-m18-inference.yaml"}
ATTN2_K = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


@pytest.mark.parametrize("family,width", [("alt-diffusion", 768), ("alt-diffusion-m18", 1024)])
def test_released_layout_on_meta(family, width, tmp_path):
    sd = dict(build_on_meta(bundled_config(YAML[family])).state_dict())
    config = transformers.XLMRobertaConfig(**XLMR_LARGE, type_vocab_size=1, pad_token_id=1)
    with torch.device("meta"):
        reference = transformers.XLMRobertaModel(config)
    roberta = {k[len("cond_stage_model.roberta."):]: tuple(v.shape) for k, v in sd.items()
               if k.startswith("cond_stage_model.roberta.")}
    assert roberta == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert roberta["embeddings.word_embeddings.weight"] == (250002, 1024)
    projections = {k: tuple(v.shape) for k, v in sd.items()
                   if k.startswith("cond_stage_model.") and not k.startswith("cond_stage_model.roberta.")}
    expected = {"cond_stage_model.transformation.weight": (width, 1024),
                "cond_stage_model.transformation.bias": (width,),
                "cond_stage_model.pre_LN.weight": (1024,), "cond_stage_model.pre_LN.bias": (1024,)}
    if family == "alt-diffusion-m18":
        expected.update({"cond_stage_model.transformation_pre.weight": (1024, 1024),
                         "cond_stage_model.transformation_pre.bias": (1024,)})
    assert projections == expected
    assert sd[ATTN2_K].shape == (320, width)
    choice = choose_config(tmp_path / f"{family}.safetensors", sd)
    assert (choice.path.name, choice.family) == (YAML[family], family)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alt")
    write_tiny_xlmr_tokenizer(folder / "xlm-roberta-large")
    return folder


def test_tokenizer_matches_transformers(folder):
    path = folder / "xlm-roberta-large" / "tokenizer.json"
    model = load_model(make_tiny_checkpoint("alt-diffusion", folder / "m9"),
                       LoadOptions(xlmr_dir=folder / "xlm-roberta-large"))
    ours = model.cond_stage_model.tokenizer
    reference = transformers.XLMRobertaTokenizerFast(tokenizer_file=str(path))
    for text in ["a photo of a cat, a dog", "xyzzy", "猫, cat"]:
        assert ours.encode(text) == reference(text, add_special_tokens=False)["input_ids"]
    assert ours.comma_token == reference.convert_tokens_to_ids(",")


@pytest.mark.parametrize("family", ["alt-diffusion", "alt-diffusion-m18"])
def test_text_encoder_matches_transformers_xlm_roberta(folder, family):
    path = make_tiny_checkpoint(family, folder / family)
    model = load_model(path, LoadOptions(xlmr_dir=folder / "xlm-roberta-large"))
    assert model.family == family
    file = load_file(str(path))
    sizes = {k: v for k, v in TINY_XLMR.items() if k != "project_dim"}
    reference = transformers.XLMRobertaModel(transformers.XLMRobertaConfig(
        **sizes, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5)).eval()
    reference.load_state_dict({k[len("cond_stage_model.roberta."):]: v for k, v in file.items()
                               if k.startswith("cond_stage_model.roberta.")})

    def linear(name: str) -> torch.nn.Linear:
        weight = file[f"cond_stage_model.{name}.weight"]
        layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
        layer.load_state_dict({"weight": weight, "bias": file[f"cond_stage_model.{name}.bias"]})
        return layer

    tokens = torch.tensor([[0, 60, 62, 61, 58, 4, 63, 2] + [1] * 69, [0, 57, 2] + [1] * 74])
    with torch.no_grad():
        out = reference(input_ids=tokens, attention_mask=(tokens != 1).long(), output_hidden_states=True)
        if family == "alt-diffusion":
            expected = linear("transformation")(out.last_hidden_state)
        else:
            norm = torch.nn.LayerNorm(TINY_XLMR["hidden_size"], eps=1e-5)
            norm.load_state_dict({"weight": file["cond_stage_model.pre_LN.weight"],
                                  "bias": file["cond_stage_model.pre_LN.bias"]})
            expected = linear("transformation_pre")(norm(out.hidden_states[-2]))
        ours = model.cond_stage_model.encode_tokens(tokens, clip_skip=2)  # no CLIP skip for AltDiffusion
        table = model.cond_stage_model.token_embedding
        via_embeds = model.cond_stage_model.encode_tokens(tokens, inputs_embeds=table(tokens))
    assert ours.shape == (2, 77, TINY_XLMR["project_dim"])
    assert torch.allclose(ours, expected, atol=1e-5)
    assert torch.allclose(via_embeds, ours, atol=1e-6)


def test_missing_tokenizer_names_the_file_and_folder(tmp_path):
    path = make_tiny_checkpoint("alt-diffusion", tmp_path / "ckpt")
    missing = tmp_path / "models" / "xlm-roberta-large"
    with pytest.raises(CheckpointError, match=f"tokenizer.json in {missing}"):
        load_model(path, LoadOptions(xlmr_dir=missing))


def test_txt2img_through_the_api_and_a_422_without_the_tokenizer(tmp_path):
    from modules.app_server import create_app
    from modules.runtime.bootstrap import initialize
    from tests.api.conftest import preserved_shared

    data_dir = tmp_path / "data"
    path = make_tiny_checkpoint("alt-diffusion-m18", data_dir / "models" / "Stable-diffusion", name="alt-tiny")
    folder = data_dir / "models" / "xlm-roberta-large"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    body = {"prompt": "a (photo:1.2) of a cat, 猫", "negative_prompt": "dog", "steps": 2, "width": 64, "height": 64,
            "seed": 5, "sampler_name": "Euler", "cfg_scale": 7,
            "override_settings": {"sd_model_checkpoint": "alt-tiny"}}
    with preserved_shared() as shared:
        initialize(["--data-dir", str(data_dir), "--nowebui"])  # the start-up load fails (logged, as A1111)
        with TestClient(create_app(shared.cmd_opts, with_ui=False)) as client:
            refused = client.post("/sdapi/v1/txt2img", json=body)
            write_tiny_xlmr_tokenizer(folder)
            response = client.post("/sdapi/v1/txt2img", json=body)
        assert shared.sd_model.family == "alt-diffusion-m18"
    assert refused.status_code == 422 and f"tokenizer.json in {folder}" in refused.text
    assert response.status_code == 200, response.text[:300]
    infotext = json.loads(response.json()["info"])["infotexts"][0]
    assert infotext.startswith("a (photo:1.2) of a cat, 猫\nNegative prompt: dog\n")
    assert f"Model hash: {digest}, Model: alt-tiny" in infotext and "Seed: 5" in infotext

