"""The settings of section "Upscaling" (id ``upscaling``, category ``postprocessing``)."""
from __future__ import annotations

from modules.core.options import live_choices
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("upscaling", "Upscaling", "postprocessing"), {
        "ESRGAN_tile": slider(192, "Tile size for ESRGAN upscalers.", 0, 512, 16).info("0 = no tiling"),
        "ESRGAN_tile_overlap": slider(8, "Tile overlap for ESRGAN upscalers.", 0, 48, 1).info("Low values = visible seam"),
        "realesrgan_enabled_models": OptionInfo(["R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B"], "Select which Real-ESRGAN models to show in the web UI.", "CheckboxGroup", choices(live_choices.realesrgan_model_names)),
        "dat_enabled_models": OptionInfo(["DAT x2", "DAT x3", "DAT x4"], "Select which DAT models to show in the web UI.", "CheckboxGroup", choices(live_choices.dat_model_names)),
        "DAT_tile": slider(192, "Tile size for DAT upscalers.", 0, 512, 16).info("0 = no tiling"),
        "DAT_tile_overlap": slider(8, "Tile overlap for DAT upscalers.", 0, 48, 1).info("Low values = visible seam"),
        "upscaler_for_img2img": OptionInfo(None, "Upscaler for img2img", "Dropdown", choices(live_choices.upscaler_names)),
        "set_scale_by_when_changing_upscaler": OptionInfo(False, "Automatically set the Scale by factor based on the name of the selected Upscaler."),
    })
