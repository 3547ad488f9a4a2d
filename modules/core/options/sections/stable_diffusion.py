"""The settings of section "Stable Diffusion" (id ``sd``, category ``sd``)."""
from __future__ import annotations

from modules.core.options import choice_providers as providers
from modules.core.options import live_choices
from modules.core.options.choice_providers import refresher
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, radio, slider


EMPHASIS_MODES = [
    ("None", "disable the mechanism entirely and treat (:.1.1) as literal characters"),
    ("Ignore", "treat all empasised words as if they have no emphasis"),
    ("Original", "the original emphasis implementation"),
    ("No norm", "same as original, but without normalization (seems to work better for SDXL)"),
]
"""The ``emphasis`` modes and the descriptions the setting's note lists."""


def options() -> dict[str, OptionInfo]:
    emphasis_note = "makes it possible to make model to pay (more:1.1) or (less:0.9) attention to text when you use the syntax in prompt; "
    emphasis_note += ", ".join(f"{name}: {description}" for name, description in EMPHASIS_MODES)
    return options_section(("sd", "Stable Diffusion", "sd"), {
        "sd_model_checkpoint": OptionInfo(None, "Stable Diffusion checkpoint", "Dropdown", choices(live_choices.checkpoint_titles), refresh=refresher(providers.REFRESH_CHECKPOINTS), infotext="Model hash"),
        "sd_checkpoints_limit": slider(1, "Maximum number of checkpoints loaded at the same time", 1, 10, 1),
        "sd_checkpoints_keep_in_cpu": OptionInfo(True, "Only keep one model on device")
            .info("will keep models other than the currently used one in RAM rather than VRAM"),
        "sd_checkpoint_cache": slider(0, "Checkpoints to cache in RAM", 0, 10, 1).not_in_this_build("nothing is cached by it").info("obsolete; set to 0 and use the two settings above instead"),
        "sd_unet": OptionInfo("Automatic", "SD Unet", "Dropdown", choices(live_choices.unet_choices), refresh=refresher(providers.REFRESH_SD_UNETS)).not_in_this_build("UNet replacements offered by extensions are listed, not applied")
            .info("choose Unet model: Automatic = use one with same filename as checkpoint; None = use Unet from checkpoint"),
        "enable_quantization": OptionInfo(False, "Enable quantization in K samplers for sharper and cleaner results. This may change existing seeds").needs_reload_ui(),
        "emphasis": radio("Original", "Emphasis mode", [name for name, _ in EMPHASIS_MODES], infotext="Emphasis").info(emphasis_note),
        "enable_batch_seeds": OptionInfo(True, "Make K-diffusion samplers produce same images in a batch as when making a single image"),
        "comma_padding_backtrack": slider(20, "Prompt word wrap length limit", 0, 74, 1)
            .info("in tokens - for texts shorter than specified, if they don't fit into 75 token limit, move them to the next 75 token chunk"),
        "sdxl_clip_l_skip": OptionInfo(False, "Clip skip SDXL", "Checkbox")
            .info("Enable Clip skip for the secondary clip model in sdxl. Has no effect on SD 1.5 or SD 2.0/2.1."),
        "CLIP_stop_at_last_layers": slider(1, "Clip skip", 1, 12, 1, infotext="Clip skip")
            .link("wiki", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/Features#clip-skip")
            .info("ignore last layers of CLIP network; 1 ignores none, 2 ignores one layer"),
        "upcast_attn": OptionInfo(False, "Upcast cross attention layer to float32"),
        "randn_source": radio("GPU", "Random number generator source.", ["GPU", "CPU", "NV"], infotext="RNG")
            .info("changes seeds drastically; use CPU to produce the same picture across different videocard vendors; use NV to produce same picture as on NVidia videocards"),
        "tiling": OptionInfo(False, "Tiling", infotext="Tiling").info("produce a tileable picture"),
        "hires_fix_refiner_pass": radio("second pass", "Hires fix: which pass to enable refiner for", ["first pass", "second pass", "both passes"], infotext="Hires refiner"),
    })
