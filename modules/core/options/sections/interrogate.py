"""The settings of section "Interrogate" (id ``interrogate``, no category).

A1111 gives the section no category.
"""
from __future__ import annotations

from modules.core.options import live_choices
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("interrogate", "Interrogate"), {
        "interrogate_keep_models_in_memory": OptionInfo(False, "Keep models in VRAM"),
        "interrogate_return_ranks": OptionInfo(False, "Include ranks of model tags matches in results.").info("booru only"),
        "interrogate_clip_num_beams": slider(1, "BLIP: num_beams", 1, 16, 1),
        "interrogate_clip_min_length": slider(24, "BLIP: minimum description length", 1, 128, 1),
        "interrogate_clip_max_length": slider(48, "BLIP: maximum description length", 1, 256, 1),
        "interrogate_clip_dict_limit": OptionInfo(1500, "CLIP: maximum number of lines in text file").info("0 = No limit"),
        "interrogate_clip_skip_categories": OptionInfo([], "CLIP: skip inquire categories", "CheckboxGroup", choices(live_choices.interrogate_categories), refresh=live_choices.interrogate_categories),
        "interrogate_deepbooru_score_threshold": slider(0.5, "deepbooru: score threshold", 0, 1, 0.01),
        "deepbooru_sort_alpha": OptionInfo(True, "deepbooru: sort tags alphabetically").info("if not: sort by score"),
        "deepbooru_use_spaces": OptionInfo(True, "deepbooru: use spaces in tags").info("if not: use underscores"),
        "deepbooru_escape": OptionInfo(True, "deepbooru: escape (\\) brackets").info("so they are used as literal brackets and not for emphasis"),
        "deepbooru_filter_tags": OptionInfo("", "deepbooru: filter out those tags").info("separate by comma"),
    })
