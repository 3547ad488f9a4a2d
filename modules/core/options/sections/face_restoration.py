"""The settings of section "Face restoration" (id ``face-restoration``, category ``postprocessing``)."""
from __future__ import annotations

from modules.core.options import live_choices
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("face-restoration", "Face restoration", "postprocessing"), {
        "face_restoration": OptionInfo(False, "Restore faces", infotext="Face restoration")
            .info("will use a third-party model on generation result to reconstruct faces"),
        "face_restoration_model": OptionInfo("CodeFormer", "Face restoration model", "Radio", choices(live_choices.face_restorer_names)),
        "code_former_weight": slider(0.5, "CodeFormer weight", 0, 1, 0.01).info("0 = maximum effect; 1 = minimum effect"),
        "face_restoration_unload": OptionInfo(False, "Move face restoration model from VRAM into RAM after processing"),
    })
