"""The cross-site checks over every route of both apps, listed from the app itself, and the attacks of issue 14.

Every state-changing route (POST, PUT, PATCH, DELETE: the API's, ``/internal/*``, ``/sd_extra_networks/*``,
gradio's queue, routes an extension adds) and every WebSocket is tried with a foreign, an own, an absent
and a ``null`` Origin, a foreign Referer, a DNS-rebinding Host, and ``text/plain`` bodies, through the guards
around a stand-in handler; the attacks of the report then go through the real app.
"""
from __future__ import annotations

import base64
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.security.conftest import (FOREIGN, OWN, REBINDING, UNSAFE, flags, guarded_client, requests_of,
                                     was_reached)
from tests.security.test_auth_routes import send

JSON_ROUTES = {("POST", "/sdapi/v1/txt2img"), ("POST", "/sdapi/v1/options"), ("POST", "/internal/progress"),
               ("POST", "/sd_extra_networks/user-metadata"), ("POST", "/sd_extra_networks/replace-preview"),
               ("POST", "/gradio_api/queue/join"), ("POST", "/gradio_api/cancel"), ("POST", "/sec-ext/write"),
               ("PUT", "/sec-ext/json")}
"""Routes known to read JSON (a pydantic body, or marked): a text/plain body must be refused with 415."""
FORM_ROUTES = {("POST", "/login"), ("POST", "/gradio_api/upload")}
"""Routes that take forms: a form body must reach them."""

REFUSED = {
    "foreign origin": {"Origin": FOREIGN},
    "foreign origin on the server's port": {"Origin": "http://evil.example:7860"},
    "another local port": {"Origin": "http://127.0.0.1:7861"},
    "dns rebinding": {"Origin": REBINDING, "Host": "evil.example:7860", "X-Forwarded-Host": "evil.example:7860"},
    "null origin": {"Origin": "null"},
    "foreign referer without origin": {"Referer": FOREIGN + "/page.html"},
    "cross-site fetch without origin": {"Sec-Fetch-Site": "cross-site"},
    "same-site fetch without origin": {"Sec-Fetch-Site": "same-site"},
    "forwarded own host": {"Origin": FOREIGN, "X-Forwarded-Host": "evil.example", "Host": "127.0.0.1:7860"},
}
ALLOWED = {
    "no origin (a script)": {},
    "own origin": {"Origin": OWN},
    "localhost": {"Origin": "http://localhost:7860"},
    "ipv6 loopback": {"Origin": "http://[::1]:7860"},
    "own referer": {"Referer": OWN + "/?__theme=dark"},
    "same-origin fetch": {"Origin": OWN, "Sec-Fetch-Site": "same-origin"},
    "own origin, foreign host": {"Origin": OWN, "Host": "evil.example:7860"},
}


def unsafe_requests(app) -> list[tuple[str, str]]:
    return [(m, p) for m, p in requests_of(app) if m in UNSAFE]


def test_every_write_route_is_listed(site):
    app, _ = site
    listed = set(unsafe_requests(app))
    assert JSON_ROUTES | FORM_ROUTES <= listed
    assert ("DELETE", "/sdapi/v1/async/jobs/x") in listed and len(listed) > 50


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_write_from_another_site_is_refused_on_every_route(site, case):
    app, _ = site
    client = guarded_client(app, flags())
    for method, path in unsafe_requests(app) + [("WS", "/sec-ext/ws")]:
        answer = send(client, method, path, headers=REFUSED[case])
        assert not was_reached(answer) and answer.status_code == 403, (case, method, path)


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_a_write_from_the_servers_own_pages_or_a_script_passes_on_every_route(site, case):
    app, _ = site
    client = guarded_client(app, flags())
    for method, path in unsafe_requests(app) + [("WS", "/sec-ext/ws")]:
        assert was_reached(send(client, method, path, headers=ALLOWED[case])), (case, method, path)


def test_reads_are_left_to_the_browser(site):
    """A GET from another site changes nothing; the browser keeps its answer from the page (no CORS)."""
    app, _ = site
    client = guarded_client(app, flags())
    reads = [(m, p) for m, p in requests_of(app) if m in ("GET", "HEAD")]
    for method, path in reads:
        assert was_reached(send(client, method, path, headers={"Origin": FOREIGN})), (method, path)


@pytest.mark.parametrize("option", [dict(cors_allow_origins="http://ok.example,http://two.example"),
                                    dict(cors_allow_origins_regex=r"https?://(ok|two)\.example")])
def test_cors_flags_allow_their_origins_and_no_other(site, option):
    app, _ = site
    client = guarded_client(app, flags(**option))
    for method, path in unsafe_requests(app):
        assert was_reached(send(client, method, path, headers={"Origin": "http://ok.example"})), (method, path)
        assert not was_reached(send(client, method, path, headers={"Origin": "http://ok.example.evil"}))


@pytest.mark.parametrize("option, origin", [
    (dict(port=9000), "http://127.0.0.1:9000"),
    (dict(nowebui=True), "http://localhost:7861"),
    (dict(server_name="sd.lan"), "http://sd.lan:7860"),
    (dict(server_name="sd.lan"), "https://sd.lan"),  # a reverse proxy in front, on the default port
])
def test_the_servers_own_addresses_come_from_its_flags(site, option, origin):
    app, _ = site
    own = guarded_client(app, flags(**option))
    default = guarded_client(app, flags())
    assert was_reached(send(own, "POST", "/internal/progress", headers={"Origin": origin}))
    assert not was_reached(send(default, "POST", "/internal/progress", headers={"Origin": origin}))


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8",
                                          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_routes_reading_json_refuse_other_bodies_with_415(site, content_type):
    from modules.api.route_lookup import find_route, route_reads_json

    app, _ = site
    client = guarded_client(app, flags())
    refused = set()
    for method, path in unsafe_requests(app):
        answer = send(client, method, path, content=b'{"a": 1}',
                      headers={"Origin": OWN, "Content-Type": content_type})
        if answer.status_code == 415:
            assert not was_reached(answer) and "application/json" in answer.json()["detail"]
            refused.add((method, path))
        else:
            assert was_reached(answer), (method, path)
        scope = {"type": "http", "method": method, "path": path}
        assert ((method, path) in refused) == route_reads_json(find_route(app, scope).route), (method, path)
    assert JSON_ROUTES <= refused
    assert not FORM_ROUTES & refused


def test_json_bodies_and_bodies_without_a_type_reach_every_route(site):
    app, _ = site
    client = guarded_client(app, flags())
    for method, path in unsafe_requests(app):
        for headers in ({"Content-Type": "application/json"}, {"Content-Type": "application/vnd.api+json"}, {}):
            assert was_reached(send(client, method, path, content=b"{}", headers=headers)), (method, path, headers)


# --- the real app ----------------------------------------------------------------------------------------------

def picture_data_url() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_a_page_of_another_site_cannot_write_the_cards_files(site):
    """Issue 14: a text/plain POST from http://evil.example wrote a card's .json and replaced its preview."""
    app, data_dir = site
    card = data_dir / "models" / "Lora" / "mylora.json"
    preview = data_dir / "models" / "Lora" / "mylora.png"
    preview_before = preview.read_bytes()
    client = TestClient(app)
    query = "?page=lora&item=mylora"
    attacks = [
        ({"Origin": FOREIGN, "Content-Type": "text/plain"}, 403),
        ({"Origin": REBINDING, "Host": "evil.example:7860", "Content-Type": "text/plain"}, 403),
        ({"Origin": REBINDING, "Host": "evil.example:7860", "Content-Type": "application/json"}, 403),
        ({"Referer": FOREIGN + "/x", "Content-Type": "text/plain"}, 403),
        ({"Origin": OWN, "Content-Type": "text/plain"}, 415),  # a simple request, even from an allowed page
        ({"Content-Type": "text/plain"}, 415),
    ]
    for headers, status in attacks:
        answer = client.post("/sd_extra_networks/user-metadata" + query, content=json.dumps({"notes": "pwned"}),
                             headers=headers)
        assert answer.status_code == status, (headers, answer.text)
        answer = client.post("/sd_extra_networks/replace-preview" + query,
                             content=json.dumps({"image": picture_data_url()}), headers=headers)
        assert answer.status_code == status, (headers, answer.text)
    assert not card.exists() and preview.read_bytes() == preview_before
    # the page itself (its own origin, JSON) still saves
    saved = client.post("/sd_extra_networks/user-metadata" + query, json={"notes": "mine"}, headers={"Origin": OWN})
    assert saved.status_code == 200 and json.loads(card.read_text()) == {"notes": "mine"}


def test_every_write_route_of_the_real_app_refuses_another_site(site):
    app, _ = site
    client = TestClient(app)
    for method, path in unsafe_requests(app):
        answer = client.request(method, path, json={}, headers={"Origin": REBINDING, "Host": "evil.example:7860"})
        assert answer.status_code == 403, (method, path, answer.status_code)


def test_gradio_grants_no_cross_origin_reads(site):
    """gradio's own CORS middleware answered any origin (with credentials) when the Host was not localhost."""
    app, _ = site
    client = TestClient(app)
    for path in ("/config", "/gradio_api/info", "/internal/pending-tasks"):
        answer = client.get(path, headers={"Origin": FOREIGN, "Host": "192.168.1.5:7860"})
        assert "access-control-allow-origin" not in answer.headers, path
    preflight = client.options("/gradio_api/queue/join", headers={
        "Origin": FOREIGN, "Host": "192.168.1.5:7860", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
