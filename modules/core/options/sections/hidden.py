"""The settings of section "Hidden options" (id ``None``, no category).

A section id of ``None`` keeps them out of the Settings tab (A1111's convention).
"""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import radio


def options() -> dict[str, OptionInfo]:
    # A section id of None keeps these out of the Settings tab (A1111's convention)
    return options_section((None, "Hidden options"), {
        "disabled_extensions": OptionInfo([], "Disable these extensions"),
        "disable_all_extensions": radio("none", "Disable all extensions (preserves the list of disabled extensions)", ["none", "extra", "all"]),
        "restore_config_state_file": OptionInfo("", "Config state file to restore from, under 'config-states/' folder").not_in_this_build("the Extensions tab restores a config state at once, not at the next start"),
        "sd_checkpoint_hash": OptionInfo("", "SHA256 hash of the current checkpoint"),
    })
