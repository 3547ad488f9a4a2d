"""No route of the real app (ours, gradio's, the API's) hands out a file outside the folders it may serve.

The app is built as ``webui.py`` builds it (UI mounted, ``--api``, ``--api-auth`` and ``--gradio-auth``), its
routes are listed, and every route that could serve a file (a path parameter, or a name that says file,
thumb, static, assets...) is attacked with ``../``, ``%2e%2e/``, absolute paths, Windows ``..\\`` and symlinks
pointing out of an allowed folder.  A route that looks like it serves files and is not in :data:`ATTACKED`
or :data:`NOT_FILES` fails the test, so a new one gets covered.  Allowed files (an uploaded picture, a card's
preview) still come back.
"""
from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse

import pytest
from PIL import Image

from tests.api.conftest import preserved_shared

SECRET_CONFIG = "SECRET-CONFIG-4c1f9e"
SECRET_MODEL = "SECRET-MODEL-77ab02"
SECRET_OUTSIDE = "SECRET-OUTSIDE-e5d310"
PASSWD_MARK = "root:x:0:0"
API_USER, API_PASSWORD = "api", "api-secret"
UI_USER, UI_PASSWORD = "ui", "ui-secret"

ATTACKED = {
    "/sd_extra_networks/thumb": "query",
    "/sd_extra_networks/metadata": "item",
    "/sd_extra_networks/user-metadata": "item",
    "/sd_extra_networks/cover-images": "item",
    "/gradio_api/file={path_or_url:path}": "path",
    "/gradio_api/file/{path:path}": "path",
    "/gradio_api/proxy={url_path:path}": "path",
    "/static/{path:path}": "path",
    "/assets/{path:path}": "path",
    "/svelte/{path:path}": "path",
    "/gradio_api/custom_component/{id}/{environment}/{type}/{file_name}": "path",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/{segment_id}.{ext}": "path",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist-file": "path",
    "/gradio_api/run-history/records/{endpoint}/{record_id}/assets/{asset_id}": "path",
    "/monitoring/{key}": "path",
    "/pwa_icon/{size}": "path",
}
"""Routes that take a name or path from the request, and how it is passed."""

NOT_FILES = {
    "/favicon.ico": "one fixed picture",
    "/pwa_icon": "one fixed picture",
    "/manifest.json": "generated JSON",
    "/theme.css": "generated CSS",
    "/gradio_api/theme.css": "generated CSS",
    "/robots.txt": "fixed text",
    "/gradio_api/upload_progress": "upload progress events, no file content",
    "/gradio_api/stream/{session_hash}/{run}/{component_id}/playlist.m3u8": "a generated playlist",
    "/gradio_api/heartbeat/{session_hash}": "an event stream that never ends (no file)",
    "/gradio_api/call/{api_name}/{event_id}": "the event stream of a queued call (no file)",
    "/gradio_api/call/v2/{api_name}/{event_id}": "the event stream of a queued call (no file)",
}
"""Routes whose names look like files but that serve no file named by the request."""

SUSPECT = re.compile(r"\{[^}]*\}|file|thumb|cover|static|asset|icon|upload|stream|proxy|svelte|image|media|"
                     r"download|metadata|\.css|\.js|\.ico|\.txt|\.json")


def iter_routes(routes, prefix: str = ""):
    """(full path, route) of every route, descending into mounts and included routers."""
    from starlette.routing import Mount

    for route in routes:
        if hasattr(route, "effective_candidates"):  # a router included into a FastAPI app
            yield from iter_routes(route.effective_candidates(), prefix)
        elif isinstance(route, Mount):
            yield from iter_routes(route.routes, prefix + route.path.rstrip("/"))
        else:
            yield prefix + route.path, route


def file_route_suspects(app) -> set[str]:
    """GET/HEAD routes, outside the JSON API, that could serve a file named by the request."""
    found = set()
    for path, route in iter_routes(app.routes):
        methods = set(getattr(route, "methods", None) or ())
        if not methods & {"GET", "HEAD"} or path.startswith(("/sdapi/", "/internal/", "/docs", "/redoc")):
            continue
        if path.endswith("openapi.json") or path in ("/", "/config", "/config/"):
            continue
        if SUSPECT.search(path):
            found.add(path)
    return found


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """The UI + API app with both passwords set, a client logged in to both, and the files to protect."""
    from fastapi.testclient import TestClient
    from safetensors.torch import save_file
    import torch

    from modules.app_server import create_app
    from modules.runtime.bootstrap import initialize

    data_dir = tmp_path_factory.mktemp("data")
    outside = tmp_path_factory.mktemp("outside")
    secret_picture = outside / "secret.png"
    secret_picture.write_bytes(b"\x89PNG\r\n\x1a\n" + SECRET_OUTSIDE.encode())
    (data_dir / "models" / "Stable-diffusion").mkdir(parents=True)
    (data_dir / "models" / "Lora").mkdir(parents=True)
    model = data_dir / "models" / "Stable-diffusion" / "secret.safetensors"
    save_file({"w": torch.zeros(1)}, str(model), metadata={"note": SECRET_MODEL})
    lora_dir = data_dir / "models" / "Lora"
    save_file({"w": torch.zeros(1)}, str(lora_dir / "mylora.safetensors"), metadata={"ss_note": "hello"})
    preview = lora_dir / "card.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(preview)
    os.symlink(secret_picture, lora_dir / "escape.png")
    os.symlink("/etc/passwd", lora_dir / "passwd.png")
    os.symlink(outside, lora_dir / "outside-dir")
    with preserved_shared() as shared:
        initialize(["--data-dir", str(data_dir), "--api", "--skip-load-model-at-start",
                    "--api-auth", f"{API_USER}:{API_PASSWORD}", "--gradio-auth", f"{UI_USER}:{UI_PASSWORD}"])
        app = create_app(shared.cmd_opts, with_ui=True)
        config = data_dir / "config.json"
        data = json.loads(config.read_text()) if config.exists() else {}
        config.write_text(json.dumps({**data, "webui_test_secret": SECRET_CONFIG}))
        with TestClient(app) as client:
            login = client.post("/login", data={"username": UI_USER, "password": UI_PASSWORD})
            assert login.status_code == 200, login.text
            client.headers["Authorization"] = basic(API_USER, API_PASSWORD)
            yield app, client, data_dir, outside


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def payloads(data_dir, outside) -> list[str]:
    """Names of files that must never be served, spelled every way a traversal is tried."""
    up = "../" * 12
    targets = [
        up + "etc/passwd",
        "%2e%2e/" * 12 + "etc/passwd",
        "%2e%2e%2f" * 12 + "etc%2fpasswd",
        "..%2f" * 12 + "etc/passwd",
        "%252e%252e%252f" * 12 + "etc/passwd",
        "..\\" * 12 + "etc\\passwd",
        "..%5c" * 12 + "etc%5cpasswd",
        "....//" * 12 + "etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
        "file:///etc/passwd",
        str(data_dir / "config.json"),
        str(data_dir / "models" / "Stable-diffusion" / "secret.safetensors"),
        str(data_dir / "models" / "Lora" / "escape.png"),
        str(data_dir / "models" / "Lora" / "passwd.png"),
        str(data_dir / "models" / "Lora" / "outside-dir" / "secret.png"),
        str(data_dir / "models" / "Lora" / ".." / ".." / "config.json"),
        str(data_dir / "models" / "Lora") + "/" + up + str(outside / "secret.png"),
        str(outside / "secret.png"),
    ]
    return targets


def attack_urls(path: str, how: str, target: str) -> list[str]:
    """URLs that hand ``target`` to route ``path`` as its file name."""
    if how == "query":
        return [f"{path}?filename={urllib.parse.quote(target, safe='')}", f"{path}?filename={target}"]
    if how == "item":
        quoted = urllib.parse.quote(target, safe="")
        return [f"{path}?page=lora&item={quoted}", f"{path}?page=checkpoints&item={quoted}",
                f"{path}?page={quoted}&item=card"]
    params = re.findall(r"\{([^}:]+)(?::path)?\}", path)
    urls = []
    for param in params:
        url = path
        for other in params:
            spelled = re.search(r"\{" + re.escape(other) + r"(?::path)?\}", url).group(0)
            url = url.replace(spelled, target if other == param else "x", 1)
        urls.append(url)
    return urls


def assert_no_secret(response, url: str) -> None:
    body = response.content.decode("latin-1")
    for mark in (SECRET_CONFIG, SECRET_MODEL, SECRET_OUTSIDE, PASSWD_MARK):
        assert mark not in body, f"{url} served a protected file ({response.status_code})"


def test_every_file_serving_route_is_attacked(secured):
    app, *_ = secured
    suspects = file_route_suspects(app)
    unknown = suspects - set(ATTACKED) - set(NOT_FILES)
    assert not unknown, f"routes that may serve files and are not tested here: {sorted(unknown)}"
    assert "/sd_extra_networks/thumb" in suspects and "/gradio_api/file={path_or_url:path}" in suspects


def test_traversal_never_returns_file_bytes(secured):
    app, client, data_dir, outside = secured
    suspects = file_route_suspects(app)
    tried = 0
    for path, how in ATTACKED.items():
        if path not in suspects:
            continue  # a route of another gradio version
        for target in payloads(data_dir, outside):
            for url in attack_urls(path, how, target):
                response = client.get(url)
                assert_no_secret(response, url)
                tried += 1
    assert tried > 200


def test_thumb_refuses_everything_but_pictures_in_model_folders(secured):
    _, client, data_dir, outside = secured
    for target in payloads(data_dir, outside):
        response = client.get("/sd_extra_networks/thumb", params={"filename": target})
        assert response.status_code == 404, target
    preview = data_dir / "models" / "Lora" / "card.png"
    response = client.get("/sd_extra_networks/thumb", params={"filename": str(preview)})
    assert response.status_code == 200 and response.content == preview.read_bytes()


def test_an_uploaded_picture_is_still_served(secured):
    _, client, data_dir, _ = secured
    picture = data_dir / "upload.png"
    Image.new("RGB", (4, 4), (1, 2, 3)).save(picture)
    with open(picture, "rb") as f:
        answer = client.post("/gradio_api/upload", files={"files": ("upload.png", f, "image/png")})
    assert answer.status_code == 200, answer.text
    served = answer.json()[0]
    response = client.get(f"/gradio_api/file={served}")
    assert response.status_code == 200 and response.content == picture.read_bytes()
    # the same upload folder, reached by climbing out of it and back, is refused
    parent = os.path.dirname(served)
    response = client.get(f"/gradio_api/file={parent}/../../../../../../../../etc/passwd")
    assert_no_secret(response, "upload folder traversal")


def test_thumb_answers_any_login_and_nobody_without_one(secured):
    """One login rule for every route (modules/api/access.py): the UI's session cookie and an ``--api-auth``
    Basic login both open the page's thumbnails and the API; a request with neither gets 401."""
    from fastapi.testclient import TestClient

    app, client, data_dir, _ = secured
    preview = str(data_dir / "models" / "Lora" / "card.png")
    cookies_only = TestClient(app, cookies=dict(client.cookies))
    assert cookies_only.get("/sd_extra_networks/thumb", params={"filename": preview}).status_code == 200
    api_only = TestClient(app, headers={"Authorization": basic(API_USER, API_PASSWORD)})
    assert api_only.get("/sd_extra_networks/thumb", params={"filename": preview}).status_code == 200
    nobody = TestClient(app)
    assert nobody.get("/sd_extra_networks/thumb", params={"filename": preview}).status_code == 401
    assert cookies_only.get("/sdapi/v1/sd-models").status_code == 200
    assert api_only.get("/sdapi/v1/sd-models").status_code == 200
    assert nobody.get("/sdapi/v1/sd-models").status_code == 401


def test_user_metadata_editor_routes_check_what_they_are_given(secured):
    _, client, data_dir, _ = secured
    url = "/sd_extra_networks/user-metadata"
    assert client.get(url, params={"page": "lora", "item": "nothing"}).status_code == 404
    assert client.get(url, params={"page": "../lora", "item": "mylora"}).status_code == 404
    shown = client.get(url, params={"page": "lora", "item": "mylora"})
    assert shown.status_code == 200 and shown.json()["filename"] == "mylora.safetensors"
    assert "activation text" in shown.json()["fields"]
    for bad in ({"preferred weight": "5"}, {"preferred weight": "heavy"}, {"../../config": "x"},
                {"sd version": "SD9"}, {"notes": ["a", "list"]}, ["not", "an", "object"]):
        answer = client.post(url, params={"page": "lora", "item": "mylora"}, json=bad)
        assert answer.status_code == 400, bad
    assert not (data_dir / "models" / "Lora" / "mylora.json").exists()
    answer = client.post(url, params={"page": "lora", "item": "mylora"},
                         json={"notes": "mine", "preferred weight": "0.5", "sd version": "SD1"})
    assert answer.status_code == 200
    stored = json.loads((data_dir / "models" / "Lora" / "mylora.json").read_text())
    assert stored == {"notes": "mine", "preferred weight": 0.5, "sd version": "SD1"}
    metadata = client.get("/sd_extra_networks/metadata", params={"page": "lora", "item": "mylora"})
    assert json.loads(metadata.json()["metadata"]) == {"ss_note": "hello"}
