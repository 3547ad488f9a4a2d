"""The settings of section "Gallery" (id ``ui_gallery``, category ``ui``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import radio, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("ui_gallery", "Gallery", "ui"), {
        "return_grid": OptionInfo(True, "Show grid in gallery"),
        "do_not_show_images": OptionInfo(False, "Do not show any images in gallery"),
        "js_modal_lightbox": OptionInfo(True, "Full page image viewer: enable"),
        "js_modal_lightbox_initially_zoomed": OptionInfo(True, "Full page image viewer: show images zoomed in by default"),
        "js_modal_lightbox_gamepad": OptionInfo(False, "Full page image viewer: navigate with gamepad"),
        "js_modal_lightbox_gamepad_repeat": OptionInfo(250, "Full page image viewer: gamepad repeat period").info("in milliseconds"),
        "sd_webui_modal_lightbox_icon_opacity": slider(1, "Full page image viewer: control icon unfocused opacity", 0.0, 1, 0.01)
            .info("for mouse only")
            .needs_reload_ui(),
        "sd_webui_modal_lightbox_toolbar_opacity": slider(0.9, "Full page image viewer: tool bar opacity", 0.0, 1, 0.01)
            .info("for mouse only")
            .needs_reload_ui(),
        "gallery_height": OptionInfo("", "Gallery height", "Textbox").info("can be any valid CSS value, for example 768px or 20em").needs_reload_ui(),
        "open_dir_button_choice": radio("Subdirectory", "What directory the [📂] button opens", ["Output Root", "Subdirectory", "Subdirectory (even temp dir)"]).not_in_this_build("the button opens the tab's output folder"),
    })
