"""--share and --ngrok: real code up to the internet boundary, clear one-line failures offline."""
from __future__ import annotations

import argparse

import pytest

from modules.share_links import NgrokToken, ShareUnavailable, connect_ngrok, create_gradio_share_link, open_public_links


def test_ngrok_token_forms():
    assert NgrokToken.parse("abc") == NgrokToken("abc", None)
    assert NgrokToken.parse("abc:me:pw") == NgrokToken("abc", "me:pw")
    with pytest.raises(ShareUnavailable):
        NgrokToken.parse("abc:me")
    with pytest.raises(ShareUnavailable):
        NgrokToken.parse("")


def test_ngrok_connector_gets_port_token_and_options():
    seen = {}

    def connector(port, token, options):
        seen.update(port=port, token=token, options=options)
        return "https://x.ngrok.example"

    assert connect_ngrok(7860, "tok:u:p", {"region": "eu"}, connector) == "https://x.ngrok.example"
    assert seen == {"port": 7860, "token": NgrokToken("tok", "u:p"), "options": {"region": "eu"}}


def test_offline_failures_are_clear_and_not_fatal(capsys):
    def offline(*_args):
        raise OSError("Temporary failure in name resolution")

    with pytest.raises(ShareUnavailable, match="needs internet access.*name resolution"):
        connect_ngrok(7860, "tok", None, offline)
    with pytest.raises(ShareUnavailable, match="needs internet access"):
        create_gradio_share_link("127.0.0.1", 7860, offline)


def test_gradio_share_really_fails_offline_with_one_line(capsys):
    # the real gradio tunnel: there is no internet here, so it must fail with a clear line, not raise
    cmd_opts = argparse.Namespace(ngrok=None, ngrok_options={}, share=True)
    assert open_public_links(cmd_opts, "0.0.0.0", 9) == []
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("--share: could not create a share link")
