"""The settings of section "Canvas Hotkeys" (id ``canvas_hotkey``, no category).

Added by a built-in extension in A1111; where A1111 declares the section without a category, the category is the
one A1111's ``Options.reorder()`` gives it from the other settings of the same section.
"""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import radio


def options() -> dict[str, OptionInfo]:
    modifiers = ["Shift", "Ctrl", "Alt"]
    modifier_note = "If you choose 'Shift' you cannot scroll horizontally, 'Alt' can cause a little trouble in firefox"
    functions = ["Zoom", "Adjust brush size", "Hotkey enlarge brush", "Hotkey shrink brush", "Moving canvas", "Fullscreen", "Reset Zoom", "Overlap"]
    return options_section(("canvas_hotkey", "Canvas Hotkeys"), {
        "canvas_hotkey_zoom": radio("Alt", "Zoom canvas", modifiers).info(modifier_note),
        "canvas_hotkey_adjust": radio("Ctrl", "Adjust brush size", modifiers).info(modifier_note),
        "canvas_hotkey_shrink_brush": OptionInfo("Q", "Shrink the brush size"),
        "canvas_hotkey_grow_brush": OptionInfo("W", "Enlarge the brush size"),
        "canvas_hotkey_move": OptionInfo("F", "Moving the canvas")
            .info("To work correctly in firefox, turn off 'Automatically search the page text when typing' in the browser settings"),
        "canvas_hotkey_fullscreen": OptionInfo("S", "Fullscreen Mode, maximizes the picture so that it fits into the screen and stretches it to its full width "),
        "canvas_hotkey_reset": OptionInfo("R", "Reset zoom and canvas position"),
        "canvas_hotkey_overlap": OptionInfo("O", "Toggle overlap").info("Technical button, needed for testing"),
        "canvas_show_tooltip": OptionInfo(True, "Enable tooltip on the canvas"),
        "canvas_auto_expand": OptionInfo(True, "Automatically expands an image that does not fit completely in the canvas area, similar to manually pressing the S and R buttons"),
        "canvas_blur_prompt": OptionInfo(False, "Take the focus off the prompt when working with a canvas"),
        "canvas_disabled_functions": OptionInfo(["Overlap"], "Disable function that you don't use", "CheckboxGroup", {"choices": functions}),
    })
