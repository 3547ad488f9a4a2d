"""The login rule's parts: the logins the flags give, Basic headers, UI sessions (kept over a Reload UI), the
login page under ``--subpath``, and ``--gradio-auth`` alone on the API (open in A1111)."""
from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from modules.api.access import AccessPolicy, credentials_from_flags, login_page, parse_credentials
from tests.api.conftest import preserved_shared
from tests.security.conftest import basic, build_site, flags, reached, was_reached


def test_logins_from_every_flag_split_on_the_first_colon(tmp_path):
    path = tmp_path / "logins.txt"
    path.write_text("c:pw-c, d:pw:d\n\n  e:pw-e\nno-colon\n")
    got = credentials_from_flags(flags(api_auth='"a:x:y,  b:"', gradio_auth="f:pw-f", gradio_auth_path=str(path)))
    assert got == [("a", "x:y"), ("b", ""), ("f", "pw-f"), ("c", "pw-c"), ("d", "pw:d"), ("e", "pw-e")]
    assert parse_credentials(None) == [] and parse_credentials("nocolon") == []


@pytest.mark.parametrize("value", ["nocolon", ",", " "])
def test_an_auth_flag_without_any_login_closes_the_server(value, capsys):
    policy = AccessPolicy.from_flags(flags(api_auth=value))
    assert policy.enabled and not policy.logged_in({"authorization": basic("nocolon", "")["Authorization"]}, {})
    assert "every request will be refused" in capsys.readouterr().out
    assert not AccessPolicy.from_flags(flags(api_auth="")).enabled


@pytest.mark.parametrize("header, ok", [
    ("Basic " + base64.b64encode(b"u:p:q").decode(), True),
    ("basic " + base64.b64encode(b"u:p:q").decode(), True),
    ("Basic " + base64.b64encode(b"v:other").decode(), True),
    ("Basic " + base64.b64encode(b"u:p").decode(), False),
    ("Basic " + base64.b64encode(b"u").decode(), False),
    ("Basic " + base64.b64encode(b"v:").decode(), False),
    ("Basic " + base64.b64encode("ü:p".encode("latin-1")).decode(), False),
    ("Basic %%%", False), ("Bearer x", False), ("", False), (None, False),
])
def test_basic_headers(header, ok):
    policy = AccessPolicy([("u", "p:q"), ("v", "other")])
    assert policy.basic_ok(header) is ok


def test_sessions_are_those_of_the_attached_ui():
    policy = AccessPolicy([("u", "p")])
    ui = SimpleNamespace(cookie_id="cid", tokens={"tok": "u"})
    assert not policy.session_ok({"access-token-unsecure-cid": "tok"})  # no UI attached: no session
    policy.attach_ui(ui, "")
    assert policy.session_ok({"access-token-unsecure-cid": "tok"}) and policy.session_ok({"access-token-cid": "tok"})
    assert not policy.session_ok({"access-token-cid": "other"}) and not policy.session_ok({"access-token-x": "tok"})
    assert not AccessPolicy().enabled and AccessPolicy().logged_in({}, {})


def test_sessions_survive_a_reload_ui_with_the_same_logins(monkeypatch):
    from modules.server import app as app_server

    monkeypatch.setattr(app_server, "_sessions", {})
    access = AccessPolicy([("u", "p")])
    first = SimpleNamespace(cookie_id="first", tokens={"tok": "u"})
    app_server._keep_sessions(first, access)
    rebuilt = SimpleNamespace(cookie_id="second", tokens={})
    app_server._keep_sessions(rebuilt, AccessPolicy([("u", "p")]))
    assert rebuilt.cookie_id == "first" and rebuilt.tokens is first.tokens
    other_logins = SimpleNamespace(cookie_id="third", tokens={})
    app_server._keep_sessions(other_logins, AccessPolicy([("u", "changed")]))
    assert other_logins.cookie_id == "third" and other_logins.tokens == {}


def test_the_login_page_under_subpath():
    from fastapi import FastAPI

    from modules.api.middleware import RequestGuards
    from modules.api.origin import OriginPolicy

    access = AccessPolicy([("u", "p")])
    access.attach_ui(SimpleNamespace(cookie_id="c", tokens={}), "/sd/")
    client = TestClient(RequestGuards(reached, access, OriginPolicy.from_flags(flags()), FastAPI()))
    for path in ("/sd", "/sd/"):
        page = client.get(path)
        assert page.status_code == 200 and '"/sd/login"' in page.text and not was_reached(page)
    assert was_reached(client.post("/sd/login", data={"username": "u", "password": "x"}))
    for method, path in (("GET", "/"), ("GET", "/sd/config"), ("POST", "/login"), ("GET", "/sd/x/")):
        assert client.request(method, path).status_code == 401, path
    assert '"/login"' in login_page("").decode()
    assert login_page('/x</script><script>alert(1)').decode().count("</script>") == 1  # the page's own tag only


def test_gradio_auth_alone_now_covers_the_api_only_server(tmp_path):
    """A1111 left the API open when only --gradio-auth was given; here any login flag closes every route."""
    with preserved_shared():
        app = build_site(tmp_path, "--nowebui", "--gradio-auth", "ui:pw", with_ui=False)
        client = TestClient(app)
        for path in ("/sdapi/v1/options", "/internal/pending-tasks", "/docs", "/"):
            answer = client.get(path)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Basic", path
        assert client.get("/sdapi/v1/options", headers=basic("ui", "pw")).status_code == 200
