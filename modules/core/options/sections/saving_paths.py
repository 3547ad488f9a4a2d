"""The settings of section "Paths for saving" (id ``saving-paths``, category ``saving``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import hide_dirs


def options() -> dict[str, OptionInfo]:
    def path(default: str, label: str) -> OptionInfo:
        return OptionInfo(default, label, component_args=hide_dirs())

    return options_section(("saving-paths", "Paths for saving", "saving"), {
        "outdir_samples": path("", "Output directory for images; if empty, defaults to three directories below"),
        "outdir_txt2img_samples": path("outputs/txt2img-images", "Output directory for txt2img images"),
        "outdir_img2img_samples": path("outputs/img2img-images", "Output directory for img2img images"),
        "outdir_extras_samples": path("outputs/extras-images", "Output directory for images from extras tab"),
        "outdir_grids": path("", "Output directory for grids; if empty, defaults to two directories below"),
        "outdir_txt2img_grids": path("outputs/txt2img-grids", "Output directory for txt2img grids"),
        "outdir_img2img_grids": path("outputs/img2img-grids", "Output directory for img2img grids"),
        "outdir_save": path("log/images", "Directory for saving images using the Save button"),
        "outdir_init_images": path("outputs/init-images", "Directory for saving init images when using img2img"),
    })
