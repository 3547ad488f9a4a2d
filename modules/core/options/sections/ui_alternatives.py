"""The settings of section "UI alternatives" (id ``ui_alternatives``, category ``ui``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section


def options() -> dict[str, OptionInfo]:
    return options_section(("ui_alternatives", "UI alternatives", "ui"), {
        "compact_prompt_box": OptionInfo(False, "Compact prompt layout").not_in_this_build("the prompts stay above the tabs")
            .info("puts prompt and negative prompt inside the Generate tab, leaving more vertical space for the image on the right")
            .needs_reload_ui(),
        "samplers_in_dropdown": OptionInfo(True, "Use dropdown for sampler selection instead of radio group").needs_reload_ui(),
        "dimensions_and_batch_together": OptionInfo(True, "Show Width/Height and Batch sliders in same row").needs_reload_ui(),
        "sd_checkpoint_dropdown_use_short": OptionInfo(False, "Checkpoint dropdown: use filenames without paths").not_in_this_build("the dropdown shows full checkpoint titles")
            .info("models in subdirectories like photo/sd15.ckpt will be listed as just sd15.ckpt"),
        "hires_fix_show_sampler": OptionInfo(False, "Hires fix: show hires checkpoint and sampler selection").needs_reload_ui(),
        "hires_fix_show_prompts": OptionInfo(False, "Hires fix: show hires prompt and negative prompt").needs_reload_ui(),
        "txt2img_settings_accordion": OptionInfo(False, "Settings in txt2img hidden under Accordion").needs_reload_ui(),
        "img2img_settings_accordion": OptionInfo(False, "Settings in img2img hidden under Accordion").needs_reload_ui(),
        "interrupt_after_current": OptionInfo(True, "Don't Interrupt in the middle")
            .info("when using Interrupt button, if generating more than one image, stop after the generation of an image has finished, instead of immediately"),
    })
