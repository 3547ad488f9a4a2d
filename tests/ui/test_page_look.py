"""The page's look and start-up touches: setting ``gradio_theme`` (gradio's themes, offline), ``--theme light|dark``,
``--autolaunch`` / setting ``auto_launch_browser`` (through a fake browser) and the notification sound."""
from __future__ import annotations

import argparse

import pytest


@pytest.fixture
def app_state(started):
    started("--skip-load-model-at-start")
    from modules import shared

    return shared


@pytest.mark.parametrize("name, expected", [("Default", "Default"), ("gradio/soft", "Soft"),
                                            ("gradio/monochrome", "Monochrome"), ("gradio/glass", "Glass")])
def test_builtin_themes_are_gradios_own(app_state, name, expected):
    from modules.ui.theme import gradio_theme

    app_state.opts.set("gradio_theme", name)
    theme = gradio_theme()
    assert type(theme).__name__ == expected
    # A1111's fonts, as local names: the page fetches no font sheet
    assert "Source Sans Pro" in theme.font.split(",")[0] and theme._stylesheets == []


def test_hub_theme_comes_from_the_cache_file_or_falls_back_with_a_message(app_state, capsys):
    import gradio as gr

    from modules.ui.theme import gradio_theme, theme_cache_file

    app_state.opts.set("gradio_theme", "someone/nice")
    theme = gradio_theme()
    assert type(theme).__name__ == "Default"
    message = capsys.readouterr().err
    path = theme_cache_file("someone/nice")
    assert "Gradio theme someone/nice is not available" in message and path in message
    assert path.endswith("tmp/gradio_themes/someone_nice.json") and path.startswith(app_state.paths.data_dir)

    import os

    os.makedirs(os.path.dirname(path))
    gr.themes.Base(primary_hue="red").dump(path)
    theme = gradio_theme()
    assert theme.primary_500 == gr.themes.colors.red.c500 != gr.themes.Default().primary_500
    app_state.opts.set("gradio_themes_cache", False)  # A1111 would download it again: here it says why not
    assert type(gradio_theme()).__name__ == "Default"
    assert "gradio_themes_cache is off" in capsys.readouterr().err


@pytest.mark.parametrize("flag, expected", [(None, None), ("dark", "dark"), ("light", "light"), ("blue", None)])
def test_theme_flag_opens_the_page_in_that_mode(started, flag, expected):
    from modules.ui.theme import theme_head

    started("--skip-load-model-at-start", *(["--theme", flag] if flag else []))
    head = theme_head()
    if expected is None:
        assert head is None
    else:
        assert head.startswith("<script>") and f"url.searchParams.set('__theme', \"{expected}\")" in head


def flags(**values) -> argparse.Namespace:
    base = dict(nowebui=False, autolaunch=False, share=False, listen=False, ngrok=None, server_name=None,
                tls_certfile=None, subpath=None)
    return argparse.Namespace(**{**base, **values})


@pytest.mark.parametrize("options, setting, environ, opened", [
    ({}, "Local", {}, True),
    ({"listen": True}, "Local", {}, False),
    ({"share": True}, "Local", {}, False),
    ({"listen": True}, "Remote", {}, True),
    ({}, "Disable", {}, False),
    ({"autolaunch": True}, "Disable", {}, True),
    ({"autolaunch": True}, "Remote", {"SD_WEBUI_RESTARTING": "1"}, False),
    ({"autolaunch": True, "nowebui": True}, "Remote", {}, False),
])
def test_autolaunch_rule(options, setting, environ, opened):
    from modules.server.autolaunch import should_open_browser

    assert should_open_browser(flags(**options), setting, environ) is opened


def test_autolaunch_opens_the_page_address(monkeypatch):
    from modules.server import autolaunch

    monkeypatch.delenv("SD_WEBUI_RESTARTING", raising=False)
    opened = []
    assert autolaunch.open_browser_if_asked(flags(listen=True, subpath="/sd/", tls_certfile="c.pem"), "Remote",
                                            "0.0.0.0", 7861, opener=opened.append)
    assert opened == ["https://127.0.0.1:7861/sd/"]
    assert not autolaunch.open_browser_if_asked(flags(), "Disable", "127.0.0.1", 7860, opener=opened.append)
    assert len(opened) == 1

    def no_browser(url):
        import webbrowser

        raise webbrowser.Error("could not locate runnable browser")

    assert not autolaunch.open_browser_if_asked(flags(), "Local", "127.0.0.1", 7860, opener=no_browser)


def test_notification_sound_is_served_from_the_data_dir(app_state, monkeypatch, tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modules.ui import assets
    from modules.server.internal_routes import add_internal_routes

    monkeypatch.setattr(assets, "INSTALL_DIR", str(tmp_path / "install"))  # no sound shipped with the install
    app = FastAPI()
    add_internal_routes(None, app)
    client = TestClient(app)
    assert client.get("/internal/notification-sound").status_code == 404
    assert assets.page_settings()["notification_sound"] is False
    sound = b"ID3\x03\x00fake mp3 frames"
    (tmp_path / "data").mkdir(exist_ok=True)
    with open(f"{app_state.paths.data_dir}/notification.mp3", "wb") as f:
        f.write(sound)
    answer = client.get("/internal/notification-sound")
    assert answer.status_code == 200 and answer.content == sound and answer.headers["content-type"] == "audio/mpeg"
    settings = assets.page_settings()
    assert settings["notification_sound"] is True
    assert settings["opts"]["notification_audio"] is True and settings["opts"]["notification_volume"] == 100


@pytest.mark.parametrize("name, on, expected", [("R-ESRGAN 4x+", True, 4), ("ScuNET GAN", True, None),
                                                ("SwinIR x2", True, 2), ("R-ESRGAN 4x+", False, None)])
def test_choosing_an_upscaler_sets_scale_by_from_its_name(app_state, name, on, expected):
    from modules.ui.extras_tab import scale_for_upscaler

    app_state.opts.set("set_scale_by_when_changing_upscaler", on)
    update = scale_for_upscaler(name)
    assert update.get("value") == expected
