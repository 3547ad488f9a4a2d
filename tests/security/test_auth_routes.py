"""The login rule over every route of both apps (API and gradio UI), listed from the app itself.

The app is built as ``webui.py`` builds it (UI, ``--api``, an extension adding routes after the UI), with
``--api-auth`` and ``--gradio-auth``.  Its routes are enumerated (mounted gradio app and included routers
too), so a route added later is covered without touching this file.  The tables run each route through the
guards around a stand-in handler (what gets through is recorded, no handler runs) for every combination of
auth flags; the end-to-end tests send the refusals and the login flow through the real app.
"""
from __future__ import annotations

import struct

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.api.conftest import preserved_shared
from tests.security.conftest import (API_LOGIN, OWN, UI_LOGIN, add_extension, basic, build_site, flags,
                                     guarded_client, requests_of, ui_app_of, was_reached)

SECRET_CHECKPOINT = "secret-checkpoint-5d1e"
LOGIN_PAGE = {("GET", "/"), ("HEAD", "/")}
LOGIN_POST = {("POST", "/login"), ("POST", "/login/")}
BASIC_PREFIXES = ("/sdapi/", "/docs", "/redoc", "/openapi.json")


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """The real UI + API app with ``--api-auth`` and ``--gradio-auth`` and a checkpoint file (module-wide)."""
    data_dir = tmp_path_factory.mktemp("data")
    add_extension(data_dir)
    models = data_dir / "models" / "Stable-diffusion"
    models.mkdir(parents=True)
    header = b'{"__metadata__": {}}'
    (models / f"{SECRET_CHECKPOINT}.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    with preserved_shared():
        app = build_site(data_dir, "--api-auth", ":".join(API_LOGIN), "--gradio-auth", ":".join(UI_LOGIN))
        yield app


@pytest.fixture
def gradio_auth_file(tmp_path):
    path = tmp_path / "logins.txt"
    path.write_text("file-user:file-pw\n" + ":".join(UI_LOGIN) + "\n")
    return str(path)


def auth_flag_sets(auth_file: str) -> dict[str, tuple[dict, list[tuple[str, str]]]]:
    """name -> (flags, the logins they configure)."""
    return {
        "api-auth": (dict(api_auth=":".join(API_LOGIN)), [API_LOGIN]),
        "gradio-auth": (dict(gradio_auth=":".join(UI_LOGIN)), [UI_LOGIN]),
        "gradio-auth-path": (dict(gradio_auth_path=auth_file), [("file-user", "file-pw"), UI_LOGIN]),
        "both": (dict(api_auth=":".join(API_LOGIN), gradio_auth=":".join(UI_LOGIN)), [API_LOGIN, UI_LOGIN]),
    }


def send(client: TestClient, method: str, path: str, **kwargs):
    """One request; for a WebSocket, a stand-in response saying whether the handshake was accepted."""
    if method != "WS":
        return client.request(method, path, **kwargs)

    class Outcome:
        def __init__(self, accepted: bool) -> None:
            self.status_code = 101 if accepted else 403
            self.headers = {"x-reached": "1"} if accepted else {}

    try:
        with client.websocket_connect(path, **kwargs):
            return Outcome(True)
    except WebSocketDisconnect:
        return Outcome(False)


def test_the_routes_of_both_apps_are_all_listed(secured):
    listed = requests_of(secured)
    for expected in [("POST", "/sdapi/v1/txt2img"), ("GET", "/sdapi/v1/options"), ("POST", "/internal/progress"),
                     ("GET", "/internal/pending-tasks"), ("POST", "/sd_extra_networks/user-metadata"),
                     ("POST", "/sd_extra_networks/replace-preview"), ("GET", "/sd_extra_networks/thumb"),
                     ("POST", "/gradio_api/cancel"), ("POST", "/gradio_api/queue/join"), ("GET", "/config"),
                     ("GET", "/gradio_api/info"), ("GET", "/gradio_api/file=x"), ("GET", "/docs"),
                     ("GET", "/openapi.json"), ("GET", "/sec-ext/read"), ("POST", "/sec-ext/write"),
                     ("WS", "/sec-ext/ws"), ("GET", "/"), ("POST", "/login")]:
        assert expected in listed, expected
    assert len(listed) >= 140


@pytest.mark.parametrize("flag_set", ["api-auth", "gradio-auth", "gradio-auth-path", "both"])
def test_no_route_answers_without_a_login(secured, gradio_auth_file, flag_set):
    values, logins = auth_flag_sets(gradio_auth_file)[flag_set]
    client = guarded_client(secured, flags(**values))
    wrong = basic(logins[0][0], "wrong")
    unknown = basic("nobody", logins[0][1])
    for method, path in requests_of(secured) + [("GET", "/no-such-route"), ("POST", "/file=/etc/passwd")]:
        if (method, path) in LOGIN_POST:
            assert was_reached(send(client, method, path)), (flag_set, method, path)  # gradio checks the form
            continue
        for headers in ({}, wrong, unknown, {"Authorization": "Bearer x"}, {"Authorization": "Basic %%%"}):
            answer = send(client, method, path, headers=headers)
            assert not was_reached(answer), (flag_set, method, path, headers)
            if (method, path) in LOGIN_PAGE:
                assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
                continue
            assert answer.status_code in (401, 403), (flag_set, method, path)
            if method != "WS":
                asks_basic = path.startswith(BASIC_PREFIXES)
                assert ("www-authenticate" in answer.headers) == asks_basic, (method, path)


@pytest.mark.parametrize("flag_set", ["api-auth", "gradio-auth", "gradio-auth-path", "both"])
def test_every_route_answers_each_configured_login_and_the_ui_session(secured, gradio_auth_file, flag_set):
    values, logins = auth_flag_sets(gradio_auth_file)[flag_set]
    client = guarded_client(secured, flags(**values))
    ui_app = ui_app_of(secured)
    ui_app.tokens["session-of-test"] = logins[0][0]
    session = {"Cookie": f"access-token-unsecure-{ui_app.cookie_id}=session-of-test"}
    not_configured = [login for login in (API_LOGIN, UI_LOGIN) if login not in logins]
    try:
        for method, path in requests_of(secured):
            for headers in [basic(*login) for login in logins] + [session]:
                assert was_reached(send(client, method, path, headers=headers)), (flag_set, method, path, headers)
            for login in not_configured:
                answer = send(client, method, path, headers=basic(*login))
                assert not was_reached(answer) or (method, path) in LOGIN_POST, (flag_set, method, path)
    finally:
        del ui_app.tokens["session-of-test"]
    stale = send(client, "GET", "/internal/pending-tasks", headers=session)
    assert stale.status_code == 401  # a session the server no longer knows (logged out) counts for nothing


def test_without_a_login_configured_every_route_is_open(secured):
    client = guarded_client(secured, flags())
    for method, path in requests_of(secured):
        assert was_reached(send(client, method, path)), (method, path)


# --- the real app ----------------------------------------------------------------------------------------------

def test_the_real_app_refuses_every_route_without_a_login(secured):
    client = TestClient(secured)
    for method, path in requests_of(secured):
        if (method, path) in LOGIN_POST or (method, path) in LOGIN_PAGE:
            continue
        if method == "WS":
            with pytest.raises(WebSocketDisconnect):
                with client.websocket_connect(path):
                    pass
            continue
        answer = client.request(method, path, json={})
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert method == "HEAD" or answer.json()["detail"] == "Not authenticated"


def test_the_attacks_of_the_report_are_refused(secured):
    """Issue 14: with both flags, /internal/* and gradio's cancel answered without a login."""
    client = TestClient(secured)
    assert client.get("/internal/pending-tasks").status_code == 401
    progress = client.post("/internal/progress", json={"id_task": "task(someone-else)", "id_live_preview": -1,
                                                       "live_preview": True})
    assert progress.status_code == 401 and "live_preview" not in progress.json()
    assert client.post("/gradio_api/cancel", json={"session_hash": "x", "fn_index": 0}).status_code == 401
    assert client.get("/gradio_api/info").status_code == 401


def test_the_login_page_shows_nothing_of_the_install(secured):
    client = TestClient(secured)
    page = client.get("/")
    assert page.status_code == 200 and 'id="login_form"' in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    for leak in ("gradio_api_info", "gradio_config", SECRET_CHECKPOINT, "sd_model_checkpoint",
                 "CLIP_stop_at_last_layers", "named_endpoints", "/sdapi", "txt2img", "sec-ext", "components"):
        assert leak not in page.text, leak
    # what the page strictly needs is inline: it loads no other file
    assert "src=" not in page.text and "<link" not in page.text
    assert client.head("/").status_code == 200 and client.head("/").content == b""


@pytest.mark.parametrize("login", [UI_LOGIN, API_LOGIN])
def test_a_browser_logs_in_through_the_login_page_and_then_reaches_everything(secured, login):
    client = TestClient(secured)
    refused = client.post("/login", data={"username": login[0], "password": "wrong"}, headers={"Origin": OWN})
    assert refused.status_code == 400 and not client.cookies
    answer = client.post("/login", data={"username": login[0], "password": login[1]}, headers={"Origin": OWN})
    assert answer.status_code == 200, answer.text
    page = client.get("/")
    assert "gradio_config" in page.text and 'id="login_form"' not in page.text
    for path in ("/config", "/internal/pending-tasks", "/sdapi/v1/options", "/sec-ext/read", "/gradio_api/info"):
        assert client.get(path).status_code == 200, path
    assert client.post("/internal/progress", json={"id_task": "task(x)"}, headers={"Origin": OWN}).status_code == 200
    client.get("/logout", follow_redirects=False)
    assert client.get("/internal/pending-tasks").status_code == 401


def test_api_clients_log_in_with_basic_and_either_password(secured):
    for login in (API_LOGIN, UI_LOGIN):
        client = TestClient(secured, headers=basic(*login))
        assert client.get("/sdapi/v1/sd-models").status_code == 200, login
        assert client.post("/internal/progress", json={"id_task": "task(x)"}).status_code == 200, login
    nobody = TestClient(secured).get("/sdapi/v1/sd-models")
    assert nobody.status_code == 401 and nobody.headers["www-authenticate"] == "Basic"


def test_a_login_posted_from_another_site_is_refused(secured):
    client = TestClient(secured)
    answer = client.post("/login", data={"username": UI_LOGIN[0], "password": UI_LOGIN[1]},
                         headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403 and not client.cookies
