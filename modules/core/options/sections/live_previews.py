"""The settings of section "Live previews" (id ``ui``, category ``ui``).

A1111 files this page under the id ``ui``, the same id as "User interface".
"""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import radio, slider


def options() -> dict[str, OptionInfo]:
    # A1111 files this page under the id "ui", the same id as "User interface"
    return options_section(("ui", "Live previews", "ui"), {
        "show_progressbar": OptionInfo(True, "Show progressbar"),
        "live_previews_enable": OptionInfo(True, "Show live previews of the created image"),
        "live_previews_image_format": radio("png", "Live preview file format", ["jpeg", "png", "webp"]),
        "show_progress_grid": OptionInfo(True, "Show previews of all images generated in a batch as a grid"),
        "show_progress_every_n_steps": slider(10, "Live preview display period", -1, 32, 1)
            .info("in sampling steps - show new live preview image every N sampling steps; -1 = only show after completion of batch"),
        "show_progress_type": radio("Approx NN", "Live preview method", ["Full", "Approx NN", "Approx cheap", "TAESD"])
            .info("Full = slow but pretty; Approx NN and TAESD = fast but low quality; Approx cheap = super fast but terrible otherwise"),
        "live_preview_allow_lowvram_full": OptionInfo(False, "Allow Full live preview method with lowvram/medvram")
            .info("If not, Approx NN will be used instead; Full live preview method is very detrimental to speed if lowvram/medvram optimizations are enabled"),
        "live_preview_content": radio("Prompt", "Live preview subject", ["Combined", "Prompt", "Negative prompt"]),
        "live_preview_refresh_period": OptionInfo(1000, "Progressbar and preview update period").info("in milliseconds"),
        "live_preview_fast_interrupt": OptionInfo(False, "Return image with chosen live preview method on interrupt").not_in_this_build("an interrupted job's pictures are decoded with the full VAE").info("makes interrupts faster"),
        "js_live_preview_in_modal_lightbox": OptionInfo(False, "Show Live preview in full page image viewer"),
        "prevent_screen_sleep_during_generation": OptionInfo(True, "Prevent screen sleep during generation"),
    })
