"""The settings of section "Upscaling" (id ``upscaling``, category ``postprocessing``).

Added by a built-in extension in A1111; where A1111 declares the section without a category, the category is the
one A1111's ``Options.reorder()`` gives it from the other settings of the same section.
"""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import slider


def options() -> dict[str, OptionInfo]:
    # Added by LDSR, ScuNET and SwinIR when the UI settings are built (not in a --nowebui options answer)
    return options_section(("upscaling", "Upscaling", "postprocessing"), {
        "ldsr_steps": slider(100, "LDSR processing steps. Lower = faster", 1, 200, 1),
        "ldsr_cached": OptionInfo(False, "Cache LDSR model in memory", "Checkbox", {"interactive": True}),
        "SCUNET_tile": slider(256, "Tile size for SCUNET upscalers.", 0, 512, 16).info("0 = no tiling"),
        "SCUNET_tile_overlap": slider(8, "Tile overlap for SCUNET upscalers.", 0, 64, 1).info("Low values = visible seam"),
        "SWIN_tile": slider(192, "Tile size for all SwinIR.", 16, 512, 16),
        "SWIN_tile_overlap": slider(8, "Tile overlap, in pixels for SwinIR. Low values = visible seam.", 0, 48, 1),
        "SWIN_torch_compile": OptionInfo(False, "Use torch.compile to accelerate SwinIR.", "Checkbox", {"interactive": True}).not_in_this_build("SwinIR runs without torch.compile here").info("Takes longer on first run"),
    })
