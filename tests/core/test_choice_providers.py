"""Settings' app-dependent lists come from providers registered at start-up, not from module names."""
from __future__ import annotations

from pathlib import Path

from modules.core.options import choice_providers as providers
from modules.core.options.catalogue import build_catalogue
from modules.runtime.choice_providers import register_choice_providers

OPTIONS_DIR = Path(__file__).resolve().parents[2] / "modules" / "core" / "options"


def test_a_registered_provider_answers_and_an_unknown_name_is_empty():
    calls = []
    providers.register("test_list", lambda: calls.append(1) or ("a", "b"))
    try:
        assert providers.choices("test_list") == ["a", "b"]
        refresh = providers.refresher("test_list")
        assert calls == [1]
        refresh()
        assert calls == [1, 1]
    finally:
        providers.unregister("test_list")
    assert providers.choices("test_list") == []
    assert providers.call("test_list") is None
    assert providers.refresher("test_list")() is None


def test_the_catalogue_reads_the_registered_lists():
    register_choice_providers()
    options = build_catalogue()
    assert "Euler" in options["hide_samplers"].resolved_component_args()["choices"]
    assert "R-ESRGAN 4x+" in options["realesrgan_enabled_models"].resolved_component_args()["choices"]
    assert options["dat_enabled_models"].resolved_component_args()["choices"][:3] == ["DAT x2", "DAT x3", "DAT x4"]
    attention = options["cross_attention_optimization"].resolved_component_args()["choices"]
    assert attention[0] == "Automatic" and attention[-1] == "None" and "sdp" in attention
    providers.register(providers.SD_UNETS, lambda: ["my-unet"])
    try:
        assert options["sd_unet"].resolved_component_args()["choices"] == ["Automatic", "my-unet", "None"]
    finally:
        providers.unregister(providers.SD_UNETS)


def test_a_replaced_provider_is_the_one_asked():
    register_choice_providers()
    original = providers._providers[providers.SAMPLERS]
    providers.register(providers.SAMPLERS, lambda: ["Only"])
    try:
        assert build_catalogue()["hide_samplers"].resolved_component_args()["choices"] == ["Only"]
    finally:
        providers.register(providers.SAMPLERS, original)


def test_no_setting_list_is_found_by_a_module_name():
    for path in OPTIONS_DIR.rglob("*.py"):
        text = path.read_text()
        assert "importlib" not in text and "sys.modules" not in text, path
