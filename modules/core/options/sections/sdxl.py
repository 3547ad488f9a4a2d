"""The settings of section "Stable Diffusion XL" (id ``sdxl``, category ``sd``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import number


def options() -> dict[str, OptionInfo]:
    return options_section(("sdxl", "Stable Diffusion XL", "sd"), {
        "sdxl_crop_top": OptionInfo(0, "crop top coordinate"),
        "sdxl_crop_left": OptionInfo(0, "crop left coordinate"),
        "sdxl_refiner_low_aesthetic_score": number(2.5, "SDXL low aesthetic score").info("used for refiner model negative prompt"),
        "sdxl_refiner_high_aesthetic_score": number(6.0, "SDXL high aesthetic score").info("used for refiner model prompt"),
    })
