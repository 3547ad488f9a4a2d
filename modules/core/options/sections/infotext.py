"""The settings of section "Infotext" (id ``infotext``, category ``ui``)."""
from __future__ import annotations

from modules.core.options import live_choices
from modules.core.options.option_info import OptionHTML, OptionInfo, options_section
from modules.core.options.sections.builders import multi, radio


_INFOTEXT_STYLES_HELP = """<ul style='margin-left: 1.5em'>
<li>Ignore: keep prompt and styles dropdown as it is.</li>
<li>Apply: remove style text from prompt, always replace styles dropdown value with found styles (even if none are found).</li>
<li>Discard: remove style text from prompt, keep styles dropdown as it is.</li>
<li>Apply if any: remove style text from prompt; if any styles are found in prompt, put them into styles dropdown, otherwise keep it as it is.</li>
</ul>"""


def options() -> dict[str, OptionInfo]:
    return options_section(("infotext", "Infotext", "ui"), {
        "infotext_explanation": OptionHTML("""
Infotext is what this software calls the text that contains generation parameters and can be used to generate the same picture again.
It is displayed in UI below the image. To use infotext, paste it into the prompt and click the ↙️ paste button.
"""),
        "enable_pnginfo": OptionInfo(True, "Write infotext to metadata of the generated image"),
        "save_txt": OptionInfo(False, "Create a text file with infotext next to every generated image"),
        "add_model_name_to_info": OptionInfo(True, "Add model name to infotext"),
        "add_model_hash_to_info": OptionInfo(True, "Add model hash to infotext"),
        "add_vae_name_to_info": OptionInfo(True, "Add VAE name to infotext"),
        "add_vae_hash_to_info": OptionInfo(True, "Add VAE hash to infotext"),
        "add_user_name_to_info": OptionInfo(False, "Add user name to infotext when authenticated"),
        "add_version_to_infotext": OptionInfo(True, "Add program version to infotext"),
        "disable_weights_auto_swap": OptionInfo(True, "Disregard checkpoint information from pasted infotext")
            .info("when reading generation parameters from text into UI"),
        "infotext_skip_pasting": OptionInfo([], "Disregard fields from pasted infotext", "Dropdown", multi(live_choices.infotext_names)),
        "infotext_styles": radio("Apply if any", "Infer styles from prompts of pasted infotext", ["Ignore", "Apply", "Discard", "Apply if any"])
            .info("when reading generation parameters from text into UI)")
            .html(_INFOTEXT_STYLES_HELP),
    })
