"""The settings of section "VAE" (id ``vae``, category ``sd``)."""
from __future__ import annotations

from modules.core.options import choice_providers as providers
from modules.core.options import live_choices
from modules.core.options.choice_providers import refresher
from modules.core.options.option_info import OptionHTML, OptionInfo, options_section
from modules.core.options.sections.builders import choices, radio, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("vae", "VAE", "sd"), {
        "sd_vae_explanation": OptionHTML("""
<abbr title='Variational autoencoder'>VAE</abbr> is a neural network that transforms a standard <abbr title='red/green/blue'>RGB</abbr>
image into latent space representation and back. Latent space representation is what stable diffusion is working on during sampling
(i.e. when the progress bar is between empty and full). For txt2img, VAE is used to create a resulting image after the sampling is finished.
For img2img, VAE is used to process user's input image before the sampling, and to create an image after sampling.
"""),
        "sd_vae_checkpoint_cache": slider(0, "VAE Checkpoints to cache in RAM", 0, 10, 1).not_in_this_build("VAEs are not kept in RAM after a switch"),
        "sd_vae": OptionInfo("Automatic", "SD VAE", "Dropdown", choices(live_choices.vae_choices), refresh=refresher(providers.REFRESH_VAE_FILES), infotext="VAE")
            .info("choose VAE model: Automatic = use one with same filename as checkpoint; None = use VAE from checkpoint"),
        "sd_vae_overrides_per_model_preferences": OptionInfo(True, "Selected VAE overrides per-model preferences")
            .info("you can set per-model VAE either by editing user metadata for checkpoints, or by making the VAE have same name as checkpoint"),
        "auto_vae_precision_bfloat16": OptionInfo(False, "Automatically convert VAE to bfloat16").not_in_this_build("the VAE keeps the precision the flags choose")
            .info("triggers when a tensor with NaNs is produced in VAE; disabling the option in this case will result in a black square image; if enabled, overrides the option below"),
        "auto_vae_precision": OptionInfo(True, "Automatically revert VAE to 32-bit floats").not_in_this_build("the VAE keeps the precision the flags choose")
            .info("triggers when a tensor with NaNs is produced in VAE; disabling the option in this case will result in a black square image"),
        "sd_vae_encode_method": radio("Full", "VAE type for encode", ["Full", "TAESD"], infotext="VAE Encoder").not_in_this_build("the full VAE always encodes")
            .info("method to encode image to latent (use in img2img, hires-fix or inpaint mask)"),
        "sd_vae_decode_method": radio("Full", "VAE type for decode", ["Full", "TAESD"], infotext="VAE Decoder").not_in_this_build("the full VAE always decodes").info("method to decode latent to image"),
    })
