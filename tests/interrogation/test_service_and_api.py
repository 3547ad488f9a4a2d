"""The interrogators end to end on tiny files in A1111's folders: the CLIP interrogator's answer against one built
from transformers' BLIP and tokenizer and open_clip (same weights), DeepBooru's tags against the network's
outputs, and ``POST /sdapi/v1/interrogate`` (200 with the answer, 404 naming a missing file or an unknown model)."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from tests.interrogation import tiny_files as tf


def picture(seed: int = 0, size: tuple[int, int] = (40, 30)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def encode(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture
def files(data_dir):
    """Tiny BLIP, CLIP, DeepDanbooru and category files where A1111 looks for them; returns the models."""
    models = data_dir / "models"
    return {"blip": tf.write_blip(models / "BLIP", seed=1), "clip": tf.write_clip(data_dir / "clip", seed=2),
            "deepbooru": tf.write_deepdanbooru(models / "torch_deepdanbooru", seed=3),
            "categories": tf.write_categories(data_dir / "categories"), "clip_dir": data_dir / "clip"}


def _reference_answer(files, image: Image.Image, opts, data_dir) -> str:
    """The CLIP interrogator's answer built from transformers' BLIP and BertTokenizer and open_clip."""
    transformers = pytest.importorskip("transformers")
    open_clip = pytest.importorskip("open_clip")
    from tests.interrogation.test_networks import _hf_blip

    blip = _hf_blip(files["blip"])
    tokenizer = transformers.BertTokenizer(vocab=str(data_dir / "models" / "BLIP" / "vocab.txt"))
    tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    pixels = np.asarray(image.convert("RGB").resize((32, 32), Image.BICUBIC), dtype=np.float32) / 255
    pixels = (torch.from_numpy(pixels).permute(2, 0, 1) - torch.tensor(open_clip.OPENAI_DATASET_MEAN)[:, None, None]) \
        / torch.tensor(open_clip.OPENAI_DATASET_STD)[:, None, None]
    prompt = tokenizer("a picture of ", return_tensors="pt").input_ids
    with torch.no_grad():
        out = blip.generate(pixel_values=pixels[None], input_ids=prompt, num_beams=opts.interrogate_clip_num_beams,
                            min_length=opts.interrogate_clip_min_length, max_length=opts.interrogate_clip_max_length)
    answer = tokenizer.decode(out[0], skip_special_tokens=True)[len("a picture of "):]

    clip = open_clip.model.build_model_from_openai_state_dict(files["clip"].state_dict(), cast_dtype=None).float()
    clip.load_state_dict(files["clip"].state_dict(), strict=False)
    preprocess = open_clip.image_transform(28, is_train=False)
    with torch.no_grad():
        image_features = torch.nn.functional.normalize(clip.encode_image(preprocess(image)[None]), dim=-1)
        for name, topn in (("artists", 1), ("flavors.top2.x", 2), ("mediums", 1)):
            if name in opts.interrogate_clip_skip_categories:
                continue
            lines = (data_dir / "categories" / f"{name}.txt").read_text().splitlines()
            text = torch.nn.functional.normalize(clip.encode_text(open_clip.tokenize(lines)), dim=-1)
            probs = (100.0 * image_features @ text.T).softmax(dim=-1)[0]
            top = probs.topk(topn)
            for p, i in zip(top.values.tolist(), top.indices.tolist()):
                answer += f", ({lines[i]}:{p:.3f})" if opts.interrogate_return_ranks else f", {lines[i]}"
    return answer


def test_clip_interrogator_matches_a_reference_pipeline(files, started, data_dir):
    from modules import shared
    from modules.runtime.interrogation import ClipInterrogator

    started("--skip-load-model-at-start", "--clip-models-path", str(files["clip_dir"]))
    assert isinstance(shared.interrogator, ClipInterrogator)  # built by the bootstrap, as A1111's
    shared.interrogator.content_dir = str(data_dir / "categories")
    assert sorted(shared.interrogator.category_types()) == ["artists", "flavors.top2.x", "mediums"]
    image = picture(0)
    for beams, min_len, max_len, ranks, skip in ((1, 6, 14, False, []), (3, 8, 8, True, ["mediums"])):
        shared.opts.set("interrogate_clip_num_beams", beams)
        shared.opts.set("interrogate_clip_min_length", min_len)
        shared.opts.set("interrogate_clip_max_length", max_len)
        shared.opts.set("interrogate_return_ranks", ranks)
        shared.opts.set("interrogate_clip_skip_categories", skip)
        answer = shared.interrogator.interrogate(image)
        assert answer == _reference_answer(files, image, shared.opts, data_dir)
        assert "<error>" not in answer and answer.count(", ") >= (3 if skip else 4)
    # interrogate_clip_dict_limit: only the first N lines of each file compete (top-N capped by them)
    shared.opts.set("interrogate_clip_dict_limit", 1)
    shared.opts.set("interrogate_return_ranks", False)
    shared.opts.set("interrogate_clip_skip_categories", [])
    caption = shared.interrogator.generate_caption(image)
    assert shared.interrogator.interrogate(image) == f"{caption}, by an artist, shiny, a photo"
    assert next(shared.interrogator.clip_model.parameters()).device.type == "cpu"


def test_deepbooru_tags_are_the_networks_outputs_over_the_threshold(files, started):
    from modules import deepbooru, shared
    from modules.processing.image_resize import resize_image

    started("--skip-load-model-at-start")
    image = picture(1, (64, 48))
    filled = np.asarray(resize_image(2, image, 512, 512), dtype=np.float32)[None] / 255
    with torch.no_grad():
        probs = files["deepbooru"](torch.from_numpy(filled))[0].tolist()
    shared.opts.set("interrogate_deepbooru_score_threshold", 0.5)
    expected = sorted(t for t, p in zip(tf.TAGS, probs) if p >= 0.5 and not t.startswith("rating:"))
    expected = [t.replace("_", " ").replace("(", "\\(").replace(")", "\\)") for t in expected]
    assert expected and deepbooru.model.tag(image) == ", ".join(expected)
    assert deepbooru.model.model.tags == tf.TAGS  # the tag names come from the file
    shared.opts.set("deepbooru_sort_alpha", False)
    shared.opts.set("interrogate_return_ranks", True)
    by_score = sorted(((p, t) for t, p in zip(tf.TAGS, probs) if p >= 0.5 and not t.startswith("rating:")), reverse=True)
    assert deepbooru.model.tag(image).split(", ")[0] == \
        f"({by_score[0][1].replace('_', ' ').replace('(', chr(92) + '(').replace(')', chr(92) + ')')}:{by_score[0][0]:.3f})"


def test_interrogate_route(files, started, restore_shared):
    from modules.app_server import create_app

    started("--nowebui", "--skip-load-model-at-start", "--clip-models-path", str(files["clip_dir"]))
    client = TestClient(create_app(restore_shared.cmd_opts, with_ui=False))
    image = picture(2)
    r = client.post("/sdapi/v1/interrogate", json={"image": encode(image), "model": "clip"})
    assert r.status_code == 200
    caption = r.json()["caption"]
    assert caption == restore_shared.interrogator.interrogate(image) and caption.count(", ") >= 4  # 4 categories
    r = client.post("/sdapi/v1/interrogate", json={"image": encode(image), "model": "deepdanbooru"})
    from modules import deepbooru

    assert r.status_code == 200 and r.json()["caption"] == deepbooru.model.tag(image)
    r = client.post("/sdapi/v1/interrogate", json={"image": encode(image), "model": "blip2"})
    assert r.status_code == 404 and r.json()["detail"] == "Model not found"


def test_interrogate_route_names_missing_files(started, restore_shared, data_dir, tmp_path):
    from modules.app_server import create_app

    clip_dir = tmp_path / "no-clip"
    started("--nowebui", "--skip-load-model-at-start", "--clip-models-path", str(clip_dir))
    client = TestClient(create_app(restore_shared.cmd_opts, with_ui=False))
    body = {"image": encode(picture(3))}
    r = client.post("/sdapi/v1/interrogate", json={**body, "model": "deepdanbooru"})
    assert r.status_code == 404
    assert "model-resnet_custom_v3.pt" in r.json()["detail"]
    assert str(data_dir / "models" / "torch_deepdanbooru") in r.json()["detail"]
    r = client.post("/sdapi/v1/interrogate", json={**body, "model": "clip"})
    assert r.status_code == 404 and "model_base_caption_capfilt_large.pth" in r.json()["detail"]
    assert str(data_dir / "models" / "BLIP") in r.json()["detail"]
    tf.write_blip(data_dir / "models" / "BLIP")
    r = client.post("/sdapi/v1/interrogate", json={**body, "model": "clip"})
    assert r.status_code == 404 and f"{clip_dir}/ViT-L-14.pt" in r.json()["detail"]
    assert restore_shared.state.job == "" or not restore_shared.state.job_count  # the failed job was ended


def test_extras_caption_writes_deepbooru_tags_and_the_blip_caption(files, started, data_dir):
    from modules import deepbooru, shared
    from modules.processing.extras_run import run_postprocessing

    started("--nowebui", "--skip-load-model-at-start")
    shared.opts.set("postprocessing_existing_caption_action", "Ignore")
    image = picture(4, (32, 32))
    outputs, _, _ = run_postprocessing(0, image, None, "", "", True,
                                       {"Caption": {"enable": True, "option": ["Deepbooru", "BLIP"]}})
    assert len(outputs) == 1
    (caption_file,) = (data_dir / "outputs" / "extras-images").glob("*.txt")
    expected = f"{deepbooru.model.tag(image)}, {shared.interrogator.generate_caption(image)}"
    assert caption_file.read_text(encoding="utf8") == expected.strip()
    assert shared.interrogator.generate_caption(image)  # BLIP alone: no category matches
    assert ", by " not in shared.interrogator.generate_caption(image)


def test_loopback_appends_the_interrogators_answers(files, started, data_dir):
    import importlib.util

    from modules import deepbooru, shared
    from modules.core.install_dir import INSTALL_DIR

    started("--skip-load-model-at-start", "--clip-models-path", str(files["clip_dir"]))
    spec = importlib.util.spec_from_file_location("loopback_under_test", f"{INSTALL_DIR}/scripts/loopback.py")
    loopback = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loopback)
    image = picture(5, (64, 64))
    # what each loop appends to the prompt ("Append interrogated prompt at each iteration")
    assert loopback._interrogate("DeepBooru", image) == deepbooru.model.tag(image)
    shared.interrogator.content_dir = str(data_dir / "categories")
    answer = loopback._interrogate("CLIP", image)
    assert answer == shared.interrogator.interrogate(image) and answer.startswith(shared.interrogator.generate_caption(image))


def test_a_failure_after_the_caption_answers_the_caption_and_error(files, started, data_dir, monkeypatch):
    from modules import shared

    started("--skip-load-model-at-start", "--clip-models-path", str(files["clip_dir"]))
    image = picture(9)
    caption = shared.interrogator.generate_caption(image)
    shared.interrogator.load()

    def broken(pixels):
        raise RuntimeError("broken tower")

    monkeypatch.setattr(shared.interrogator.clip_model, "encode_image", broken)
    assert shared.interrogator.interrogate(image) == caption + "<error>"  # A1111's answer when a step fails
    assert not shared.state.job  # the job was ended
