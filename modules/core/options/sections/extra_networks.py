"""The settings of section "Extra Networks" (id ``extra_networks``, category ``sd``)."""
from __future__ import annotations

from modules.core.options import choice_providers as providers
from modules.core.options import live_choices
from modules.core.options.choice_providers import refresher
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, number, radio, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("extra_networks", "Extra Networks", "sd"), {
        "extra_networks_show_hidden_directories": OptionInfo(True, "Show hidden directories").info('directory is hidden if its name starts with ".".'),
        "extra_networks_dir_button_function": OptionInfo(False, "Add a '/' to the beginning of directory buttons")
            .info("Buttons will display the contents of the selected directory without acting as a search filter."),
        "extra_networks_hidden_models": radio("When searched", "Show cards for models in hidden directories", ["Always", "When searched", "Never"])
            .info('"When searched" option will only show the item when the search string has 4 characters or more'),
        "extra_networks_default_multiplier": slider(1.0, "Default multiplier for extra networks", 0.0, 2.0, 0.01),
        "extra_networks_card_width": OptionInfo(0, "Card width for Extra Networks").info("in pixels"),
        "extra_networks_card_height": OptionInfo(0, "Card height for Extra Networks").info("in pixels"),
        "extra_networks_card_text_scale": slider(1.0, "Card text scale", 0.0, 2.0, 0.01).info("1 = original size"),
        "extra_networks_card_show_desc": OptionInfo(True, "Show description on card"),
        "extra_networks_card_description_is_html": OptionInfo(False, "Treat card description as HTML"),
        "extra_networks_card_order_field": OptionInfo("Path", "Default order field for Extra Networks cards", "Dropdown", {"choices": ["Path", "Name", "Date Created", "Date Modified"]}).needs_reload_ui(),
        "extra_networks_card_order": OptionInfo("Ascending", "Default order for Extra Networks cards", "Dropdown", {"choices": ["Ascending", "Descending"]}).needs_reload_ui(),
        "extra_networks_tree_view_style": radio("Dirs", "Extra Networks directory view style", ["Tree", "Dirs"]).needs_reload_ui(),
        "extra_networks_tree_view_default_enabled": OptionInfo(True, "Show the Extra Networks directory view by default").needs_reload_ui(),
        "extra_networks_tree_view_default_width": number(180, "Default width for the Extra Networks directory tree view").needs_reload_ui(),
        "extra_networks_add_text_separator": OptionInfo(" ", "Extra networks separator")
            .info("extra text to add before <...> when adding extra network to prompt"),
        "ui_extra_networks_tab_reorder": OptionInfo("", "Extra networks tab order").needs_reload_ui(),
        "textual_inversion_print_at_load": OptionInfo(False, "Print a list of Textual Inversion embeddings when loading model"),
        "textual_inversion_add_hashes_to_infotext": OptionInfo(True, "Add Textual Inversion hashes to infotext"),
        "sd_hypernetwork": OptionInfo("None", "Add hypernetwork to prompt", "Dropdown", choices(live_choices.hypernetwork_choices), refresh=refresher(providers.REFRESH_HYPERNETWORKS)),
    })
