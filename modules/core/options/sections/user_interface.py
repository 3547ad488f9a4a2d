"""The settings of section "User interface" (id ``ui``, category ``ui``)."""
from __future__ import annotations

from modules.core.options import choice_providers as providers
from modules.core.options import live_choices
from modules.core.options.choice_providers import refresher
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, multi


GRADIO_HF_HUB_THEMES = [
    "gradio/base", "gradio/glass", "gradio/monochrome", "gradio/seafoam", "gradio/soft", "gradio/dracula_test",
    "abidlabs/dracula_test", "abidlabs/Lime", "abidlabs/pakistan", "Ama434/neutral-barlow", "dawood/microsoft_windows",
    "finlaymacklon/smooth_slate", "Franklisi/darkmode", "freddyaboulton/dracula_revamped", "freddyaboulton/test-blue",
    "gstaff/xkcd", "Insuz/Mocha", "Insuz/SimpleIndigo", "JohnSmith9982/small_and_pretty", "nota-ai/theme",
    "nuttea/Softblue", "ParityError/Anime", "reilnuud/polite", "remilia/Ghostly", "rottenlittlecreature/Moon_Goblin",
    "step-3-profit/Midnight-Deep", "Taithrah/Minimal", "ysharma/huggingface", "ysharma/steampunk", "NoCrypt/miku",
]
"""The themes of the Hugging Face gallery offered by the ``gradio_theme`` dropdown (after ``Default``)."""


def options() -> dict[str, OptionInfo]:
    return options_section(("ui", "User interface", "ui"), {
        "localization": OptionInfo("None", "Localization", "Dropdown", choices(live_choices.localization_choices), refresh=refresher(providers.REFRESH_LOCALIZATIONS)).needs_reload_ui(),
        "quicksettings_list": OptionInfo(["sd_model_checkpoint"], "Quicksettings list", "Dropdown", multi(live_choices.setting_keys))
            .js("info", "settingsHintsShowQuicksettings")
            .info("setting entries that appear at the top of page rather than in settings tab")
            .needs_reload_ui(),
        "ui_tab_order": OptionInfo([], "UI tab order", "Dropdown", multi(live_choices.tab_names)).needs_reload_ui(),
        "hidden_tabs": OptionInfo([], "Hidden UI tabs", "Dropdown", multi(live_choices.tab_names)).needs_reload_ui(),
        "ui_reorder_list": OptionInfo([], "UI item order for txt2img/img2img tabs", "Dropdown", multi(live_choices.ui_reorder_choices))
            .info("selected items appear first")
            .needs_reload_ui(),
        "gradio_theme": OptionInfo("Default", "Gradio theme", "Dropdown", {"choices": ["Default", *GRADIO_HF_HUB_THEMES], "allow_custom_value": True})
            .info("you can also manually enter any of themes from the <a href='https://huggingface.co/spaces/gradio/theme-gallery'>gallery</a>.")
            .needs_reload_ui(),
        "gradio_themes_cache": OptionInfo(True, "Cache gradio themes locally").info("disable to update the selected Gradio theme"),
        "show_progress_in_title": OptionInfo(True, "Show generation progress in window title."),
        "send_seed": OptionInfo(True, "Send seed when sending prompt or image to other interface"),
        "send_size": OptionInfo(True, "Send size when sending prompt or image to another interface"),
        "enable_reloading_ui_scripts": OptionInfo(False, "Reload UI scripts when using Reload UI option").not_in_this_build("Reload UI builds the page from the modules already loaded")
            .info("useful for developing: if you make changes to UI scripts code, it is applied when the UI is reloded."),
    })
