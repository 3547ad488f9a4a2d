"""The settings of section "Saving to a directory" (id ``saving-to-dirs``, category ``saving``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import hide_dirs, WIKI_FILENAMES


def options() -> dict[str, OptionInfo]:
    return options_section(("saving-to-dirs", "Saving to a directory", "saving"), {
        "save_to_dirs": OptionInfo(True, "Save images to a subdirectory"),
        "grid_save_to_dirs": OptionInfo(True, "Save grids to a subdirectory"),
        "use_save_to_dirs_for_ui": OptionInfo(False, 'When using "Save" button, save images to a subdirectory'),
        "directories_filename_pattern": OptionInfo("[date]", "Directory name pattern", component_args=hide_dirs()).link("wiki", WIKI_FILENAMES),
        "directories_max_prompt_words": OptionInfo(8, "Max prompt words for [prompt_words] pattern", "Slider", hide_dirs(minimum=1, maximum=20, step=1)),
    })
