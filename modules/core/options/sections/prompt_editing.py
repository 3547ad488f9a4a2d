"""The settings of section "Prompt editing" (id ``ui_prompt_editing``, category ``ui``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import slider


def options() -> dict[str, OptionInfo]:
    whitespace = ["Tab", "Carriage Return", "Line Feed"]
    return options_section(("ui_prompt_editing", "Prompt editing", "ui"), {
        "keyedit_precision_attention": slider(0.1, "Precision for (attention:1.1) when editing the prompt with Ctrl+up/down", 0.01, 0.2, 0.001),
        "keyedit_precision_extra": slider(0.05, "Precision for <extra networks:0.9> when editing the prompt with Ctrl+up/down", 0.01, 0.2, 0.001),
        "keyedit_delimiters": OptionInfo(r".,\/!?%^*;:{}=`~() ", "Word delimiters when editing the prompt with Ctrl+up/down"),
        "keyedit_delimiters_whitespace": OptionInfo(list(whitespace), "Ctrl+up/down whitespace delimiters", "CheckboxGroup", {"choices": whitespace}),
        "keyedit_move": OptionInfo(True, "Alt+left/right moves prompt elements"),
        "disable_token_counters": OptionInfo(False, "Disable prompt token counters"),
        "include_styles_into_token_counters": OptionInfo(True, "Count tokens of enabled styles")
            .info("When calculating how many tokens the prompt has, also consider tokens added by enabled styles."),
    })
