"""The settings of section "Stable Diffusion" (id ``sd``, category ``sd``).

Added by A1111's prompt-comments processing script.
"""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section


def options() -> dict[str, OptionInfo]:
    return options_section(("sd", "Stable Diffusion", "sd"), {
        "enable_prompt_comments": OptionInfo(True, "Enable comments")
            .info("Use # anywhere in the prompt to hide the text between # and the end of the line from the generation."),
    })
