"""The settings of section "img2img" (id ``img2img``, category ``sd``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import color, slider


def options() -> dict[str, OptionInfo]:
    return options_section(("img2img", "img2img", "sd"), {
        "inpainting_mask_weight": slider(1.0, "Inpainting conditioning mask strength", 0.0, 1.0, 0.01, infotext="Conditional mask weight"),
        "initial_noise_multiplier": slider(1.0, "Noise multiplier for img2img", 0.0, 1.5, 0.001, infotext="Noise multiplier"),
        "img2img_extra_noise": slider(0.0, "Extra noise multiplier for img2img and hires fix", 0.0, 1.0, 0.01, infotext="Extra noise")
            .info("0 = disabled (default); should be lower than denoising strength"),
        "img2img_color_correction": OptionInfo(False, "Apply color correction to img2img results to match original colors."),
        "img2img_fix_steps": OptionInfo(False, "With img2img, do exactly the amount of steps the slider specifies.")
            .info("normally you'd do less with less denoising"),
        "img2img_background_color": color("#ffffff", "With img2img, fill transparent parts of the input image with this color."),
        "img2img_editor_height": slider(720, "Height of the image editor", 80, 1600, 1).info("in pixels").needs_reload_ui(),
        "img2img_sketch_default_brush_color": color("#ffffff", "Sketch initial brush color").info("default brush color of img2img sketch").needs_reload_ui(),
        "img2img_inpaint_mask_brush_color": color("#ffffff", "Inpaint mask brush color").info("brush color of inpaint mask").needs_reload_ui(),
        "img2img_inpaint_sketch_default_brush_color": color("#ffffff", "Inpaint sketch initial brush color")
            .info("default brush color of img2img inpaint sketch")
            .needs_reload_ui(),
        "return_mask": OptionInfo(False, "For inpainting, include the greyscale mask in results for web"),
        "return_mask_composite": OptionInfo(False, "For inpainting, include masked composite in results for web"),
        "img2img_batch_show_results_limit": slider(32, "Show the first N batch img2img results in UI", -1, 1000, 1)
            .info("0: disable, -1: show all images. Too many images can cause lag"),
        "overlay_inpaint": OptionInfo(True, "Overlay original for inpaint")
            .info("when inpainting, overlay the original image over the areas that weren't inpainted."),
    })
