"""Forge's setting ``forge_additional_modules``: the VAE / text encoder files a GGUF diffusion model is loaded
with (``models/gguf_files.py``).  A list of file paths, set through ``/sdapi/v1/options`` or a request's
``override_settings`` as Forge's clients do; kept out of the Settings tab (Forge shows it as a top-bar
selector, which this web UI does not have yet)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section


def project_options() -> dict[str, OptionInfo]:
    """Registered after every A1111 key, so ``GET /sdapi/v1/options`` keeps A1111's order."""
    return options_section((None, "Hidden options"), {
        "forge_additional_modules": OptionInfo([], "VAE / Text Encoder")
            .info("files (full paths) giving a GGUF diffusion model its text encoders and VAE"),
    })
