"""The settings of section "Hypertile" (id ``hypertile``, no category).

Added by a built-in extension in A1111; where A1111 declares the section without a category, the category is the
one A1111's ``Options.reorder()`` gives it from the other settings of the same section.
"""
from __future__ import annotations

from modules.core.options.option_info import OptionHTML, OptionInfo, options_section
from modules.core.options.sections.builders import slider


def options() -> dict[str, OptionInfo]:
    return options_section(("hypertile", "Hypertile"), {
        "hypertile_explanation": OptionHTML("""
    <a href='https://github.com/tfernd/HyperTile'>Hypertile</a> optimizes the self-attention layer within U-Net and VAE models,
    resulting in a reduction in computation time ranging from 1 to 4 times. The larger the generated image is, the greater the
    benefit.
    """),
        "hypertile_enable_unet": OptionInfo(False, "Enable Hypertile U-Net", infotext="Hypertile U-Net")
            .info("enables hypertile for all modes, including hires fix second pass; noticeable change in details of the generated picture"),
        "hypertile_enable_unet_secondpass": OptionInfo(False, "Enable Hypertile U-Net for hires fix second pass", infotext="Hypertile U-Net second pass")
            .info("enables hypertile just for hires fix second pass - regardless of whether the above setting is enabled"),
        "hypertile_max_depth_unet": slider(3, "Hypertile U-Net max depth", 0, 3, 1, infotext="Hypertile U-Net max depth")
            .info("larger = more neural network layers affected; minor effect on performance"),
        "hypertile_max_tile_unet": slider(256, "Hypertile U-Net max tile size", 0, 512, 16, infotext="Hypertile U-Net max tile size")
            .info("larger = worse performance"),
        "hypertile_swap_size_unet": slider(3, "Hypertile U-Net swap size", 0, 64, 1, infotext="Hypertile U-Net swap size"),
        "hypertile_enable_vae": OptionInfo(False, "Enable Hypertile VAE", infotext="Hypertile VAE").info("minimal change in the generated picture"),
        "hypertile_max_depth_vae": slider(3, "Hypertile VAE max depth", 0, 3, 1, infotext="Hypertile VAE max depth"),
        "hypertile_max_tile_vae": slider(128, "Hypertile VAE max tile size", 0, 512, 16, infotext="Hypertile VAE max tile size"),
        "hypertile_swap_size_vae": slider(3, "Hypertile VAE swap size ", 0, 64, 1, infotext="Hypertile VAE swap size"),
    })
