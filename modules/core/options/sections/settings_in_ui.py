"""The settings of section "Settings in UI" (id ``settings_in_ui``, category ``ui``).

A1111 declares these in ``modules/shared_options.py`` after the built-in extensions' settings.
"""
from __future__ import annotations

from modules.core.options import live_choices
from modules.core.options.option_info import OptionHTML, OptionInfo, options_section
from modules.core.options.sections.builders import multi, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("settings_in_ui", "Settings in UI", "ui"), {
        "settings_in_ui": OptionHTML("""
This page allows you to add some settings to the main interface of txt2img and img2img tabs.
"""),
        "extra_options_txt2img": OptionInfo([], "Settings for txt2img", "Dropdown", multi(live_choices.setting_keys))
            .js("info", "settingsHintsShowQuicksettings")
            .info("setting entries that also appear in txt2img interfaces")
            .needs_reload_ui(),
        "extra_options_img2img": OptionInfo([], "Settings for img2img", "Dropdown", multi(live_choices.setting_keys))
            .js("info", "settingsHintsShowQuicksettings")
            .info("setting entries that also appear in img2img interfaces")
            .needs_reload_ui(),
        "extra_options_cols": slider(1, "Number of columns for added settings", 1, 20, 1)
            .info("displayed amount will depend on the actual browser window width")
            .needs_reload_ui(),
        "extra_options_accordion": OptionInfo(False, "Place added settings into an accordion").needs_reload_ui(),
    })
