"""``/internal/sysinfo`` and ``/internal/sysinfo-download`` (the links of Settings > Sysinfo): the system report of
the running server, with its live settings and reported errors, secrets redacted as ``--dump-sysinfo`` does."""
from __future__ import annotations

import json
import re

import pytest


@pytest.fixture
def client(started, monkeypatch):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modules.server.internal_routes import add_internal_routes

    monkeypatch.setenv("HF_TOKEN", "secret-env-token")
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret-proxy@proxy:8080")
    monkeypatch.setattr("sys.argv", ["webui.py", "--gradio-auth", "me:secret-login", "--listen"])
    started("--skip-load-model-at-start")
    app = FastAPI()
    add_internal_routes(None, app)
    return TestClient(app)


def test_sysinfo_is_the_redacted_report_with_live_settings(client):
    from modules import shared
    from modules.core import errors

    shared.opts.set("jpeg_quality", 91)
    shared.opts.data["civitai_api_key"] = "secret-setting"  # an extension's setting whose name says secret
    errors.report("a broken extension at https://bob:secret-url@example.com/x")
    answer = client.get("/internal/sysinfo")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    disposition = answer.headers["content-disposition"]
    assert re.fullmatch(r'inline; filename="sysinfo-\d{4}-\d\d-\d\d-\d\d-\d\d\.json"', disposition)
    assert "secret" not in answer.text
    info = json.loads(answer.text)
    assert info["Config"]["jpeg_quality"] == 91 and info["Config"]["civitai_api_key"] == "<redacted>"
    assert info["Environment"]["HF_TOKEN"] == "<redacted>"
    assert info["Commandline"][1:] == ["--gradio-auth", "<redacted>", "--listen"]
    assert any("a broken extension" in e["message"] for e in info["Exceptions"])
    assert info["Data path"] == shared.paths.data_dir and "torch" in info["Versions"]


def test_sysinfo_download_is_an_attachment(client):
    answer = client.get("/internal/sysinfo-download")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith('attachment; filename="sysinfo-')
    body = json.loads(answer.text)
    checksum = body.pop("Checksum")
    import hashlib

    assert hashlib.sha256(json.dumps(body, indent=4, ensure_ascii=False).encode()).hexdigest() == checksum
