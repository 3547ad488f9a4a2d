"""The settings of section "Stable Diffusion 3" (id ``sd3``, category ``sd``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section


def options() -> dict[str, OptionInfo]:
    return options_section(("sd3", "Stable Diffusion 3", "sd"), {
        "sd3_enable_t5": OptionInfo(False, "Enable T5")
            .info("load T5 text encoder; increases VRAM use by a lot, potentially improving quality of generation; requires model reload to apply"),
    })
