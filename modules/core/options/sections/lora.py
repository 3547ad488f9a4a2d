"""The built-in Lora extension's settings: in sections "Extra Networks" (id ``extra_networks``) and
"Compatibility" (id ``compatibility``), category ``sd``.

A1111 declares them without a category; the category is the one A1111's ``Options.reorder()`` gives them
from the other settings of the same sections.
"""
from __future__ import annotations

from modules.core.options import choice_providers as providers
from modules.core.options import live_choices
from modules.core.options.choice_providers import refresher
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, integer, radio


def options() -> dict[str, OptionInfo]:
    options = options_section(("extra_networks", "Extra Networks", "sd"), {
        "sd_lora": OptionInfo("None", "Add network to prompt", "Dropdown", choices(live_choices.lora_choices), refresh=refresher(providers.REFRESH_LORA_NETWORKS)),
        "lora_preferred_name": radio("Alias from file", "When adding to prompt, refer to Lora by", ["Alias from file", "Filename"]),
        "lora_add_hashes_to_infotext": OptionInfo(True, "Add Lora hashes to infotext"),
        "lora_bundled_ti_to_infotext": OptionInfo(True, "Add Lora name as TI hashes for bundled Textual Inversion").not_in_this_build("embeddings bundled in a LoRA add no TI hashes to the infotext")
            .info('"Add Textual Inversion hashes to infotext" needs to be enabled'),
        "lora_show_all": OptionInfo(False, "Always show all networks on the Lora page")
            .info("otherwise, those detected as for incompatible version of Stable Diffusion will be hidden"),
        "lora_hide_unknown_for_versions": OptionInfo([], "Hide networks of unknown versions for model versions", "CheckboxGroup", {"choices": ["SD1", "SD2", "SDXL"]}),
        "lora_in_memory_limit": integer(0, "Number of Lora networks to keep cached in memory"),
        "lora_not_found_warning_console": OptionInfo(False, "Lora not found warning in console"),
        "lora_not_found_gradio_warning": OptionInfo(False, "Lora not found warning popup in webui").not_in_this_build("a LoRA that is not found is reported in the console only"),
    })
    options.update(options_section(("compatibility", "Compatibility", "sd"), {
        "lora_functional": OptionInfo(False, "Lora/Networks: use old method that takes longer when you have multiple Loras active and produces same results as kohya-ss/sd-webui-additional-networks extension"),
    }))
    return options
