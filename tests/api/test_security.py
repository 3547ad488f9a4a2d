"""--api-auth on every route (an extension's included), Origin checks, CORS, timing/logging, OpenAPI, image URLs.

The route-by-route tables of the login and cross-site rules, over both apps, are in ``tests/security``.
"""
from __future__ import annotations

import base64
import http.server
import io
import socket
import threading

import pytest
from fastapi.routing import APIRoute
from PIL import Image, PngImagePlugin

from tests.api.conftest import encode

EXTENSION_ROUTE = '''
from modules import script_callbacks


def on_app_started(demo, app):
    app.add_api_route("/route-ext/hello", lambda: {"hello": "world"}, methods=["GET"])


script_callbacks.on_app_started(on_app_started)
'''

AUTH = ("user", "secret:with:colons")


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def with_extension_route(data_dir):
    folder = data_dir / "extensions" / "route-ext" / "scripts"
    folder.mkdir(parents=True)
    (folder / "add_route.py").write_text(EXTENSION_ROUTE)


def test_api_auth_covers_every_route_including_an_extensions(api_client, with_extension_route):
    client = api_client("--api-auth", f"other:pw,{AUTH[0]}:{AUTH[1]}", raise_server_exceptions=False)
    routes = [r for r in client.app.routes if isinstance(r, APIRoute)]
    paths = {r.path for r in routes}
    assert {"/route-ext/hello", "/sdapi/v1/txt2img", "/sdapi/v1/async/txt2img", "/internal/progress"} <= paths
    checked = 0
    for route in routes:
        path = route.path.replace("{task_id}", "task(x)")
        for method in sorted(route.methods):
            refused = client.request(method, path, json={})
            assert refused.status_code == 401, (method, path)
            assert refused.headers["www-authenticate"] == "Basic"
            wrong = client.request(method, path, json={}, headers=basic(AUTH[0], "nope"))
            assert wrong.status_code == 401, (method, path)
            accepted = client.request(method, path, json={}, headers=basic(*AUTH))
            assert accepted.status_code not in (401, 403) and accepted.status_code < 500, (method, path, accepted.text)
            checked += 1
    assert checked >= 45
    for path in ("/docs", "/openapi.json", "/redoc", "/no-such-route"):
        assert client.get(path).status_code == 401, path
    assert client.get("/openapi.json", headers=basic(*AUTH)).status_code == 200
    assert client.get("/route-ext/hello", headers=basic("other", "pw")).json() == {"hello": "world"}


def test_without_api_auth_routes_are_open_and_timed(api_client, with_extension_route, capsys):
    client = api_client("--api-log")
    r = client.get("/route-ext/hello")
    assert r.json() == {"hello": "world"} and float(r.headers["x-process-time"]) >= 0
    r = client.get("/sdapi/v1/options")
    assert float(r.headers["x-process-time"]) >= 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("API ")]
    assert len(lines) == 1  # only /sdapi requests are logged
    parts = lines[0].split()
    assert parts[3:7] == ["200", "http/1.1", "GET", "/sdapi/v1/options"]


def test_cross_site_posts_are_refused_and_cors_only_for_allowed_origins(api_client):
    client = api_client("--cors-allow-origins", "http://ok.example", "--api-auth", "u:p")
    preflight = client.options("/sdapi/v1/interrupt", headers={"Origin": "http://ok.example",
                                                               "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "http://ok.example"
    auth = basic("u", "p")
    evil = client.post("/sdapi/v1/interrupt", headers={"Origin": "http://evil.example", **auth})
    assert evil.status_code == 403 and "evil.example" in evil.json()["detail"]
    assert "--cors-allow-origins" in evil.json()["detail"]
    assert client.post("/sdapi/v1/interrupt", headers={"Origin": "http://ok.example", **auth}).status_code == 200
    # the server's own address (API alone: port 7861), whatever Host the request names
    assert client.post("/sdapi/v1/interrupt", headers={"Origin": "http://127.0.0.1:7861", **auth}).status_code == 200
    # the Host header proves nothing: a page at testserver naming itself in both is still another site
    assert client.post("/sdapi/v1/interrupt", headers={"Origin": "http://testserver", **auth}).status_code == 403
    assert client.post("/sdapi/v1/interrupt", headers=auth).status_code == 200  # scripts send no Origin
    assert client.get("/sdapi/v1/progress", headers={"Origin": "http://evil.example", **auth}).status_code == 200


def test_openapi_documents_every_route_and_the_async_api(api_client):
    client = api_client()
    schema = client.get("/openapi.json").json()
    for path in ("/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/sdapi/v1/async/txt2img", "/sdapi/v1/async/img2img",
                 "/sdapi/v1/async/jobs/{task_id}", "/sdapi/v1/async/jobs/{task_id}/result",
                 "/sdapi/v1/async/jobs/{task_id}/cancel", "/sdapi/v1/progress", "/internal/progress",
                 "/sdapi/v1/png-info", "/sdapi/v1/extra-single-image", "/sdapi/v1/script-info"):
        assert path in schema["paths"], path
    request = schema["components"]["schemas"]["StableDiffusionProcessingTxt2Img"]["properties"]
    assert request["steps"]["default"] == 50 and request["sampler_index"]["default"] == "Euler"
    assert "text/html" in client.get("/docs").headers["content-type"]


# --- image URLs ------------------------------------------------------------------------------------------------

@pytest.fixture
def png_server():
    """A local HTTP server answering a PNG with an infotext; records the User-Agent it was asked with."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "from a url\nSteps: 3, Sampler: Euler, Seed: 1")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG", pnginfo=info)
    payload, agents = buf.getvalue(), []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            agents.append(self.headers.get("User-Agent"))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/picture.png", agents
    server.shutdown()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/x.png", "http://localhost/x.png", "http://10.1.2.3/x.png", "http://192.168.0.1/x.png",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/x.png", "http://0.0.0.0/x.png",
])
def test_urls_to_local_addresses_are_refused(api_client, url):
    client = api_client()
    r = client.post("/sdapi/v1/png-info", json={"image": url})
    assert r.status_code == 403 and "local resource not allowed" in r.json()["detail"]


def test_a_name_resolving_to_any_local_address_is_refused(api_client, monkeypatch):
    client = api_client()
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "mixed.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    r = client.post("/sdapi/v1/img2img", json={"init_images": ["http://mixed.example/a.png"]})
    assert r.status_code == 403 and r.json()["key"] == "init_images[0]"


def test_urls_are_fetched_only_when_allowed_and_with_the_user_agent(api_client, png_server, restore_shared):
    url, agents = png_server
    client = api_client()
    opts = restore_shared.opts
    opts.data["api_enable_requests"] = False
    r = client.post("/sdapi/v1/png-info", json={"image": url})
    assert r.status_code == 403 and "Requests not allowed" in r.json()["detail"]
    opts.data["api_enable_requests"] = True
    opts.data["api_forbid_local_requests"] = False
    opts.data["api_useragent"] = "webui-test/1.0"
    r = client.post("/sdapi/v1/png-info", json={"image": url})
    assert r.status_code == 200 and r.json()["info"].startswith("from a url")
    assert agents == ["webui-test/1.0"]
    # the setting itself cannot be changed through the API
    client.post("/sdapi/v1/options", json={"api_forbid_local_requests": True, "api_useragent": "x"})
    assert opts.data["api_forbid_local_requests"] is False and opts.data["api_useragent"] == "webui-test/1.0"
    r = client.post("/sdapi/v1/png-info", json={"image": url.replace("/picture.png", ":1/x")})
    assert r.status_code == 422


def test_bad_base64_is_422_not_500(api_client):
    client = api_client()
    for image in ("%%%", "data:image/png;base64,", encode(Image.new("RGB", (2, 2)))[:20]):
        r = client.post("/sdapi/v1/png-info", json={"image": image})
        assert r.status_code == 422, image


def test_with_the_ui_mounted_api_auth_covers_the_ui_too_and_later_routes_still_reachable(
        started, restore_shared, with_extension_route):
    from fastapi.testclient import TestClient

    from modules.app_server import create_app

    started("--api", "--api-auth", "u:p", "--skip-load-model-at-start")
    client = TestClient(create_app(restore_shared.cmd_opts, with_ui=True))
    page = client.get("/")
    assert page.status_code == 200 and "login_form" in page.text  # the login page, nothing else
    assert client.post("/internal/progress", json={}).status_code == 401
    for path in ("/sdapi/v1/options", "/docs", "/route-ext/hello", "/config", "/internal/pending-tasks"):
        assert client.get(path).status_code == 401, path
    # no --gradio-auth: the login page takes the API's password
    login = client.post("/login", data={"username": "u", "password": "p"})
    assert login.status_code == 200, login.text
    assert client.post("/internal/progress", json={}).status_code == 200
    assert "login_form" not in client.get("/").text
    # added by an extension after the UI was mounted at "/", and still served
    assert client.get("/route-ext/hello", headers=basic("u", "p")).json() == {"hello": "world"}
