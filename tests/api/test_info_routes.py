"""Listing, png-info, scripts and server routes against A1111's answers and the files on disk."""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import textwrap

import pytest
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin

from tests.api.conftest import SMALL, encode, preserved_shared, reference, start_app

SCRIPTS = '''
import gradio as gr
from modules import scripts
from modules.processing import process_images


class TestAlways(scripts.Script):
    def title(self):
        return "Test Always"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        return [gr.Checkbox(label="Enabled", value=False), gr.Slider(label="Strength", minimum=0, maximum=2, step=0.5, value=1.0)]

    def process(self, p, enabled, strength):
        if enabled:
            p.extra_generation_params["Test strength"] = strength


class TestSelectable(scripts.Script):
    def title(self):
        return "Test Selectable"

    def ui(self, is_img2img):
        return [gr.Dropdown(label="Suffix", choices=["!", "?"], value="!")]

    def run(self, p, suffix):
        p.prompt = p.prompt + suffix
        return process_images(p)
'''


def test_samplers_schedulers_embeddings_and_empty_lists_match_a1111(api_client):
    client = api_client()
    for route in ("samplers", "schedulers", "embeddings", "hypernetworks", "prompt-styles", "extensions"):
        assert client.get(f"/sdapi/v1/{route}").json() == reference(route)["body"], route
    memory = client.get("/sdapi/v1/memory").json()
    assert set(memory["ram"]) == {"free", "used", "total"} and memory["ram"]["used"] > 10 * 2 ** 20
    assert memory["ram"]["free"] + memory["ram"]["used"] == memory["ram"]["total"]
    assert memory["cuda"] == {"error": "unavailable"}


def test_styles_hypernetworks_and_extensions_come_from_disk(api_client, data_dir):
    (data_dir / "styles.csv").write_text('name,prompt,negative_prompt\nfancy,"{prompt}, ornate",ugly\nplain,,\n')
    hyper = data_dir / "models" / "hypernetworks" / "sub"
    hyper.mkdir(parents=True)
    (hyper / "anime.pt").write_bytes(b"x")
    (hyper / "notes.txt").write_text("x")
    ext = data_dir / "extensions" / "sd-ext-git"
    ext.mkdir(parents=True)
    git = ["git", "-C", str(ext), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(ext)], check=True)
    (ext / "README").write_text("x")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one", "--date", "2024-01-02T03:04:05Z"], check=True,
                   env=dict(os.environ, GIT_COMMITTER_DATE="2024-01-02T03:04:05Z"))
    subprocess.run([*git, "remote", "add", "origin", "https://example.com/me/sd-ext-git.git"], check=True)
    (data_dir / "extensions" / "plain-ext").mkdir()
    client = api_client()
    assert client.get("/sdapi/v1/prompt-styles").json() == [
        {"name": "fancy", "prompt": "{prompt}, ornate", "negative_prompt": "ugly"},
        {"name": "plain", "prompt": "", "negative_prompt": ""}]
    assert client.get("/sdapi/v1/hypernetworks").json() == [{"name": "anime", "path": str(hyper / "anime.pt")}]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert client.get("/sdapi/v1/extensions").json() == [
        {"name": "plain-ext", "remote": "", "branch": "", "commit_hash": "", "version": "", "commit_date": "",
         "enabled": True},
        {"name": "sd-ext-git", "remote": "https://example.com/me/sd-ext-git.git", "branch": "main", "commit_hash": head,
         "version": head[:8], "commit_date": "1704164645", "enabled": True}]


def png_with_text(**chunks: str) -> str:
    """A base64 PNG carrying text chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG", pnginfo=info)
    return base64.b64encode(buf.getvalue()).decode()


def test_png_info_reads_and_parses_the_infotext(api_client):
    client = api_client()
    text = "a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x768, Clip skip: 2"
    r = client.post("/sdapi/v1/png-info", json={"image": png_with_text(parameters=text, extra="hello")})
    assert r.status_code == 200
    body = r.json()
    assert body["info"] == text and body["items"] == {"extra": "hello"}
    params = body["parameters"]
    assert (params["Prompt"], params["Negative prompt"], params["Steps"], params["Size-1"], params["Size-2"]) == (
        "a cat", "dog", "20", "512", "768")
    assert params["Clip skip"] == "2" and params["Schedule type"] == "Automatic"

    import piexif
    import piexif.helper

    buf = io.BytesIO()
    exif = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(text, encoding="unicode")}})
    Image.new("RGB", (8, 8)).save(buf, format="JPEG", exif=exif)
    jpeg = client.post("/sdapi/v1/png-info", json={"image": "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()})
    assert jpeg.json()["info"] == text

    plain = client.post("/sdapi/v1/png-info", json={"image": encode(Image.new("RGB", (4, 4)))}).json()
    assert plain["info"] == "" and plain["items"] == {}
    assert client.post("/sdapi/v1/png-info", json={"image": ""}).json() == {"info": "", "items": {}, "parameters": {}}
    bad = client.post("/sdapi/v1/png-info", json={"image": "aGVsbG8="})
    assert bad.status_code == 422 and "image" in bad.json()["detail"]
    assert client.post("/sdapi/v1/png-info", json={}).status_code == 422


def test_unavailable_features_answer_4xx_with_the_reason(api_client):
    client = api_client()
    r = client.post("/sdapi/v1/interrogate", json={"image": encode(Image.new("RGB", (4, 4)))})
    assert r.status_code == 404 and "model_base_caption_capfilt_large.pth is missing" in r.json()["detail"]
    r = client.post("/sdapi/v1/interrogate", json={"image": encode(Image.new("RGB", (4, 4))), "model": "x"})
    assert r.status_code == 404 and r.json()["detail"] == "Model not found"
    assert client.post("/sdapi/v1/interrogate", json={}).json()["detail"] == "Image not found"
    r = client.post("/sdapi/v1/train/embedding", json={"embedding_name": "x"})
    assert r.status_code == 200 and r.json()["info"].endswith("error: Dataset directory is empty")
    r = client.post("/sdapi/v1/train/hypernetwork", json={"hypernetwork_name": "x", "no_such_argument": 1})
    assert r.status_code == 422 and "no_such_argument" in r.json()["detail"]
    r = client.post("/sdapi/v1/create/embedding", json={"name": "x"})
    assert r.status_code == 422 and "num_vectors_per_token" in r.json()["detail"]
    assert client.post("/sdapi/v1/refresh-embeddings").status_code == 200
    assert client.post("/sdapi/v1/unload-checkpoint").json() == {}
    assert client.post("/sdapi/v1/reload-checkpoint").json() == {}


def test_server_routes_only_with_api_server_stop(api_client, monkeypatch, tmp_path):
    assert api_client().post("/sdapi/v1/server-stop").status_code == 404
    client = api_client("--api-server-stop")
    from modules.server import app as app_server
    from modules.api import routes_server

    exits = []
    monkeypatch.setattr(routes_server, "exit_process", exits.append)
    monkeypatch.setattr(routes_server, "EXIT_DELAY", 0.0)

    class FakeServer:
        should_exit = False

    monkeypatch.setattr(app_server, "_server", FakeServer())
    r = client.post("/sdapi/v1/server-stop")
    assert r.status_code == 200 and r.text == "Stopping." and app_server._server.should_exit
    monkeypatch.delenv("SD_WEBUI_RESTART", raising=False)
    assert client.post("/sdapi/v1/server-restart").status_code == 501
    marker = tmp_path / "tmp" / "restart"
    monkeypatch.setenv("SD_WEBUI_RESTART", str(marker))
    assert client.post("/sdapi/v1/server-restart").status_code == 200 and marker.exists()
    assert client.post("/sdapi/v1/server-kill").status_code == 200
    import time

    deadline = time.time() + 5
    while len(exits) < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert exits == [0, 0]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """A tiny model and an extension with an always-on and a selectable script."""
    data_dir = tmp_path_factory.mktemp("data")
    folder = data_dir / "extensions" / "test-scripts" / "scripts"
    folder.mkdir(parents=True)
    (folder / "test_scripts.py").write_text(textwrap.dedent(SCRIPTS))
    with preserved_shared() as shared:
        with TestClient(start_app(data_dir, checkpoints=("tiny-a",))) as client:
            yield client, shared


def test_scripts_and_script_info_describe_the_loaded_scripts(scripted):
    client, _ = scripted
    listed = client.get("/sdapi/v1/scripts").json()
    assert set(listed) == {"txt2img", "img2img"}
    assert {"test always", "test selectable"} <= set(listed["txt2img"]) and "test always" in listed["img2img"]
    infos = {(i["name"], i["is_img2img"]): i for i in client.get("/sdapi/v1/script-info").json()}
    always = infos[("test always", False)]
    assert always["is_alwayson"] is True and always["args"] == [
        {"label": "Enabled", "value": False, "minimum": None, "maximum": None, "step": None, "choices": None},
        {"label": "Strength", "value": 1.0, "minimum": 0, "maximum": 2, "step": 0.5, "choices": None}]
    selectable = infos[("test selectable", True)]
    assert selectable["is_alwayson"] is False and selectable["args"][0]["choices"] == ["!", "?"]


def test_script_name_script_args_and_alwayson_scripts_reach_the_scripts(scripted):
    client, _ = scripted
    body = dict(SMALL, steps=2, script_name="Test Selectable", script_args=["?"],
                alwayson_scripts={"test always": {"args": [True, 1.5]}})
    r = client.post("/sdapi/v1/txt2img", json=body)
    assert r.status_code == 200, r.text
    info = json.loads(r.json()["info"])
    assert info["prompt"] == "a photo of a cat?" and "Test strength: 1.5" in info["infotexts"][0]
    plain = json.loads(client.post("/sdapi/v1/txt2img", json=dict(SMALL, steps=2)).json()["info"])
    assert plain["prompt"] == "a photo of a cat" and "Test strength" not in plain["infotexts"][0]
    r = client.post("/sdapi/v1/txt2img", json=dict(SMALL, alwayson_scripts={"Test Selectable": {"args": []}}))
    assert r.status_code == 422 and r.json()["detail"] == "Cannot have a selectable script in the always on scripts params"
    r = client.post("/sdapi/v1/txt2img", json=dict(SMALL, alwayson_scripts={"Test Always": "on"}))
    assert r.status_code == 422 and "Test Always" in r.json()["detail"]
