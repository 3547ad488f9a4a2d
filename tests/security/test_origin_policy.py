"""What the server counts as its own origin, derived from its flags (never from the request)."""
from __future__ import annotations

import socket

import pytest

from modules.api import origin as origin_module
from modules.api.origin import OriginPolicy, browser_origin, is_json_content_type, origin_of
from tests.security.conftest import flags


@pytest.fixture(autouse=True)
def no_public_links(monkeypatch):
    monkeypatch.setattr(origin_module, "_public_origins", set())


@pytest.mark.parametrize("origin, own", [
    ("http://127.0.0.1:7860", True), ("http://localhost:7860", True), ("http://[::1]:7860", True),
    ("https://localhost:7860", True), ("http://LOCALHOST:7860", True), ("http://localhost.:7860", True),
    ("http://127.0.0.1:7861", False), ("http://localhost", False), ("http://127.0.0.1", False),
    ("http://evil.example:7860", False), ("http://localhost.evil.example:7860", False),
    ("http://127.0.0.1.nip.io:7860", False), ("http://0.0.0.0:7860", False), ("null", False),
    ("file://", False), ("http://127.0.0.1:99999", False), ("javascript:alert(1)", False), ("", False),
])
def test_by_default_only_loopback_on_the_servers_port(origin, own):
    assert OriginPolicy.from_flags(flags()).allows(origin) is own


def test_the_port_follows_port_and_nowebui():
    assert OriginPolicy.from_flags(flags(port=9000)).allows("http://localhost:9000")
    assert not OriginPolicy.from_flags(flags(port=9000)).allows("http://localhost:7860")
    assert OriginPolicy.from_flags(flags(nowebui=True)).allows("http://localhost:7861")
    assert not OriginPolicy.from_flags(flags(nowebui=True)).allows("http://localhost:7860")


def test_server_name_is_own_on_the_port_and_behind_a_proxy():
    policy = OriginPolicy.from_flags(flags(server_name="SD.lan"))
    for origin in ("http://sd.lan:7860", "https://sd.lan", "http://sd.lan", "http://localhost:7860"):
        assert policy.allows(origin), origin
    for origin in ("http://sd.lan:8080", "http://other.lan:7860", "http://machine-name:7860"):
        assert not policy.allows(origin), origin
    loopback = OriginPolicy.from_flags(flags(server_name="127.0.0.1"))
    assert loopback.allows("http://127.0.0.1:7860") and not loopback.allows("http://127.0.0.1")


@pytest.mark.parametrize("option", [dict(listen=True), dict(server_name="0.0.0.0"), dict(server_name="::")])
def test_listening_everywhere_makes_the_machines_names_and_addresses_own(option, monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "mybox")
    policy = OriginPolicy.from_flags(flags(**option))
    for origin in ("http://mybox:7860", "http://mybox.local:7860", "http://localhost:7860"):
        assert policy.allows(origin), origin
    psutil = pytest.importorskip("psutil")
    addresses = [a.address for nic in psutil.net_if_addrs().values() for a in nic if a.family == socket.AF_INET]
    for address in addresses:
        assert policy.allows(f"http://{address}:7860"), address
    assert not policy.allows("http://evil.example:7860") and not policy.allows("http://203.0.113.9:7860")
    assert not OriginPolicy.from_flags(flags()).allows("http://mybox:7860")  # only when listening


def test_cors_flags_allow_exactly_what_they_name():
    policy = OriginPolicy.from_flags(flags(cors_allow_origins=" http://a.example , https://b.example:8443"))
    assert policy.allows("http://a.example") and policy.allows("https://b.example:8443")
    assert not policy.allows("http://a.example:80")  # compared as strings, as the CORS middleware does
    assert not policy.allows("https://a.example") and not policy.allows("http://a.example.evil")
    regex = OriginPolicy.from_flags(flags(cors_allow_origins_regex=r"https://.*\.corp\.example"))
    assert regex.allows("https://ui.corp.example") and not regex.allows("https://ui.corp.example.evil")
    assert OriginPolicy.from_flags(flags(cors_allow_origins="*")).allows("http://anything.example")
    assert not OriginPolicy.from_flags(flags(cors_allow_origins="*")).allows("null")
    assert OriginPolicy.from_flags(flags(cors_allow_origins="null")).allows("null")


def test_public_links_the_server_opened_are_own():
    policy = OriginPolicy.from_flags(flags())
    assert not policy.allows("https://abc123.gradio.live")
    origin_module.allow_public_url("https://abc123.gradio.live/")
    assert policy.allows("https://abc123.gradio.live") and policy.allows("https://abc123.gradio.live:443")
    assert not policy.allows("https://other.gradio.live")


def test_share_and_ngrok_links_are_registered_when_opened(monkeypatch):
    from types import SimpleNamespace

    from modules.server import share_links

    monkeypatch.setattr(share_links, "create_gradio_share_link", lambda host, port: "https://zzz.gradio.live")
    monkeypatch.setattr(share_links, "connect_ngrok", lambda port, token, options: "https://y.ngrok-free.app")
    share_links.open_public_links(SimpleNamespace(share=True, ngrok="token", ngrok_options=None), "127.0.0.1", 7860)
    policy = OriginPolicy.from_flags(flags())
    assert policy.allows("https://zzz.gradio.live") and policy.allows("https://y.ngrok-free.app")


def test_the_browsers_origin_is_origin_else_referer():
    assert browser_origin({"origin": "http://a.example", "referer": "http://b.example/x"}) == "http://a.example"
    assert browser_origin({"referer": "http://b.example:8080/x?y#z"}) == "http://b.example:8080"
    assert browser_origin({"referer": "not a url"}) == "null"
    assert browser_origin({}) is None
    assert origin_of("HTTPS://Example.COM:443/path") == "https://example.com"
    assert origin_of("http://[::1]:7860/") == "http://[::1]:7860"


@pytest.mark.parametrize("value, is_json", [
    ("application/json", True), ("application/json; charset=utf-8", True), ("Application/JSON", True),
    ("application/vnd.api+json", True), ("text/plain", False), ("text/json", False),
    ("application/x-www-form-urlencoded", False), ("multipart/form-data; boundary=x", False), (None, False),
    ("application/jsonx", False),
])
def test_json_content_types(value, is_json):
    assert is_json_content_type(value) is is_json
