"""The settings of section "Optimizations" (id ``optimizations``, category ``sd``)."""
from __future__ import annotations

from modules.core.options import live_choices
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, radio, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("optimizations", "Optimizations", "sd"), {
        "cross_attention_optimization": OptionInfo("Automatic", "Cross attention optimization", "Dropdown", choices(live_choices.cross_attention_choices)),
        "s_min_uncond": slider(0.0, "Negative Guidance minimum sigma", 0.0, 15.0, 0.01, infotext="NGMS")
            .link("PR", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/pull/9177")
            .info("skip negative prompt for some steps when the image is almost ready; 0=disable, higher=faster"),
        "s_min_uncond_all": OptionInfo(False, "Negative Guidance minimum sigma all steps", infotext="NGMS all steps")
            .info("By default, NGMS above skips every other step; this makes it skip all steps"),
        "token_merging_ratio": slider(0.0, "Token merging ratio", 0.0, 0.9, 0.1, infotext="Token merging ratio")
            .link("PR", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/pull/9256")
            .info("0=disable, higher=faster"),
        "token_merging_ratio_img2img": slider(0.0, "Token merging ratio for img2img", 0.0, 0.9, 0.1).info("only applies if non-zero and overrides above"),
        "token_merging_ratio_hr": slider(0.0, "Token merging ratio for high-res pass", 0.0, 0.9, 0.1, infotext="Token merging ratio hr")
            .info("only applies if non-zero and overrides above"),
        "pad_cond_uncond": OptionInfo(False, "Pad prompt/negative prompt", infotext="Pad conds")
            .info("improves performance when prompt and negative prompt have different lengths; changes seeds"),
        "pad_cond_uncond_v0": OptionInfo(False, "Pad prompt/negative prompt (v0)", infotext="Pad conds v0")
            .info("alternative implementation for the above; used prior to 1.6.0 for DDIM sampler; overrides the above if set; WARNING: truncates negative prompt if it's too long; changes seeds"),
        "persistent_cond_cache": OptionInfo(True, "Persistent cond cache")
            .info("do not recalculate conds from prompts if prompts have not changed since previous calculation"),
        "batch_cond_uncond": OptionInfo(True, "Batch cond/uncond")
            .info("do both conditional and unconditional denoising in one batch; uses a bit more VRAM during sampling, but improves speed; previously this was controlled by --always-batch-cond-uncond commandline argument"),
        "fp8_storage": radio("Disable", "FP8 weight", ["Disable", "Enable for SDXL", "Enable"])
            .info("Use FP8 to store Linear/Conv layers' weight. Require pytorch>=2.1.0."),
        "cache_fp16_weight": OptionInfo(False, "Cache FP16 weight for LoRA")
            .info("Cache fp16 weight when enabling FP8, will increase the quality of LoRA. Use more system ram."),
    })


def project_options() -> dict[str, OptionInfo]:
    """This project's own settings of the page, registered after every A1111 key (``GET /sdapi/v1/options``
    keeps A1111's order for clients that rely on it) and shown at the end of the Optimizations page."""
    return options_section(("optimizations", "Optimizations", "sd"), {
        # the memory manager's automatic policy (models/memory/policy.py)
        "memory_reserve_mb": slider(1024, "Memory kept free for activations (MB)", 0, 16384, 64)
            .info("automatic memory policy (CUDA, no --medvram/--lowvram): weights that do not fit in the free VRAM less this are streamed; raise it after an out-of-memory error"),
        # models/compiled_unet.py; flag --compile-unet turns it on too
        "compile_unet": OptionInfo(False, "Compile the UNet (torch.compile)")
            .info("faster sampling after a slow first step at each new image size; CUDA graphs on CUDA; falls back to uncompiled with a warning if compiling fails"),
    })
