"""The settings of section "Postprocessing" (id ``postprocessing``, category ``postprocessing``)."""
from __future__ import annotations

from modules.core.options import live_choices
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import multi, radio, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("postprocessing", "Postprocessing", "postprocessing"), {
        "postprocessing_enable_in_main_ui": OptionInfo([], "Enable postprocessing operations in txt2img and img2img tabs", "Dropdown", multi(live_choices.postprocessing_names)),
        "postprocessing_disable_in_extras": OptionInfo([], "Disable postprocessing operations in extras tab", "Dropdown", multi(live_choices.postprocessing_names)),
        "postprocessing_operation_order": OptionInfo([], "Postprocessing operation order", "Dropdown", multi(live_choices.postprocessing_names)),
        "upscaling_max_images_in_cache": slider(5, "Maximum number of images in upscaling cache", 0, 10, 1),
        "postprocessing_existing_caption_action": radio("Ignore", "Action for existing captions", ["Ignore", "Keep", "Prepend", "Append"])
            .info("when generating captions using postprocessing; Ignore = use generated; Keep = use original; Prepend/Append = combine both"),
    })
