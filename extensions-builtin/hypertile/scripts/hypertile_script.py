"""The built-in "Hypertile" script: always on, no controls of its own; the settings in the Hypertile section
(``hypertile_*``) say whether the U-Net and the VAE tile their self-attention.

``process`` hooks the job's model for the first pass, ``before_hr`` re-hooks it for the
hires-fix pass and ``postprocess`` removes every hook, so a job without Hypertile (and
anything outside a job) runs the model untouched.  The infotext keys and the X/Y/Z plot
axes are A1111's.
"""
from __future__ import annotations

import random
from typing import Any

import hypertile

from modules import script_callbacks, scripts, shared


class ScriptHypertile(scripts.Script):
    """A1111's ``ScriptHypertile`` (listed as "Hypertile" in both tabs)."""

    name = "Hypertile"

    def __init__(self) -> None:
        self.rng = random.Random()
        """Draws the tile counts; seeded with the job's first seed, shared by the U-Net and the VAE (A1111)."""
        self.first_pass_size: tuple[int, int] | None = None
        self.hooked_for_hr = False
        self.hooked: list = []
        """Every module this job hooked (postprocess unhooks them even if the job's model changed since)."""

    def title(self) -> str:
        return self.name

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible

    def process(self, p: Any, *args: Any) -> None:
        self.postprocess(p, None)  # a job that failed never reached postprocess: its hooks go now
        self.rng.seed(p.all_seeds[0])
        self.first_pass_size = (p.width, p.height)
        self.hooked_for_hr = False
        enable = shared.opts.hypertile_enable_unet
        self.hooked += configure_hypertile(p, p.width, p.height, self.rng, enable_unet=enable)
        self.add_infotext(p)

    def process_batch(self, p: Any, *args: Any, **kwargs: Any) -> None:
        # A1111 leaves the hires-fix configuration in place for the next batch's first pass; put the
        # first pass's back (without reseeding, so the first batch draws exactly what A1111 draws)
        if self.hooked_for_hr and self.first_pass_size is not None:
            self.hooked_for_hr = False
            self.hooked += configure_hypertile(p, *self.first_pass_size, self.rng,
                                               enable_unet=shared.opts.hypertile_enable_unet)

    def before_hr(self, p: Any, *args: Any) -> None:
        enable = shared.opts.hypertile_enable_unet_secondpass or shared.opts.hypertile_enable_unet
        if enable:
            self.rng.seed(p.all_seeds[0])  # the second pass draws its own tiles, as in A1111
        self.hooked += configure_hypertile(p, p.hr_upscale_to_x, p.hr_upscale_to_y, self.rng, enable_unet=enable)
        self.hooked_for_hr = True
        if enable and not shared.opts.hypertile_enable_unet:
            p.extra_generation_params["Hypertile U-Net second pass"] = True
            self.add_infotext(p, add_unet_params=True)

    def postprocess(self, p: Any, processed: Any, *args: Any) -> None:
        for module in self.hooked:
            hypertile.hypertile_unhook_model(module)
        self.hooked = []

    def add_infotext(self, p: Any, add_unet_params: bool = False) -> None:
        """The ``Hypertile ...`` infotext keys; a size setting at its default is left out (written as None)."""
        opts = shared.opts

        def option(name: str) -> Any:
            value = getattr(opts, name)
            return None if value == opts.get_default(name) else value

        if opts.hypertile_enable_unet:
            p.extra_generation_params["Hypertile U-Net"] = True
        if opts.hypertile_enable_unet or add_unet_params:
            p.extra_generation_params["Hypertile U-Net max depth"] = option("hypertile_max_depth_unet")
            p.extra_generation_params["Hypertile U-Net max tile size"] = option("hypertile_max_tile_unet")
            p.extra_generation_params["Hypertile U-Net swap size"] = option("hypertile_swap_size_unet")
        if opts.hypertile_enable_vae:
            p.extra_generation_params["Hypertile VAE"] = True
            p.extra_generation_params["Hypertile VAE max depth"] = option("hypertile_max_depth_vae")
            p.extra_generation_params["Hypertile VAE max tile size"] = option("hypertile_max_tile_vae")
            p.extra_generation_params["Hypertile VAE swap size"] = option("hypertile_swap_size_vae")


def _model(p: Any) -> Any:
    model = getattr(p, "sd_model", None) or shared.sd_model
    if model is None or not hasattr(model, "first_stage_model") or not hasattr(model, "model"):
        return None
    return model


def configure_hypertile(p: Any, width: int, height: int, rng: random.Random, enable_unet: bool = True) -> list:
    """Hook (or unhook) the VAE and the U-Net of the job's model for a ``width x height`` picture; returns the
    modules now hooked."""
    opts = shared.opts
    model = _model(p)
    if model is None:
        return []
    hypertile.hypertile_hook_model(
        model.first_stage_model, width, height, swap_size=opts.hypertile_swap_size_vae,
        max_depth=opts.hypertile_max_depth_vae, tile_size_max=opts.hypertile_max_tile_vae,
        enable=opts.hypertile_enable_vae, rng=rng)
    hypertile.hypertile_hook_model(
        model.model, width, height, swap_size=opts.hypertile_swap_size_unet,
        max_depth=opts.hypertile_max_depth_unet, tile_size_max=opts.hypertile_max_tile_unet,
        enable=enable_unet, is_sdxl=bool(getattr(model, "is_sdxl", False)), rng=rng)
    return [m for m in (model.first_stage_model, model.model) if hypertile.hooked_layers(m)]


def add_axis_options() -> None:
    """The X/Y/Z plot's ``[Hypertile] ...`` axes (A1111's labels); values go to the job's override settings, so
    they hold for that picture only (A1111 writes them into the settings for good)."""
    from modules.builtin_scripts import xyz_axes
    from modules.processing.processing_base import GenerationError

    def bool_applier(key: str) -> Any:
        def apply(p: Any, x: Any, xs: list) -> None:
            if str(x).strip().lower() not in ("true", "false"):
                raise GenerationError(f"Value {x} for {key} must be either true or false")
            p.override_settings[key] = str(x).strip().lower() == "true"
        return apply

    def int_applier(key: str, minimum: int, maximum: int) -> Any:
        def apply(p: Any, x: Any, xs: list) -> None:
            value = int(x)
            if not minimum <= value <= maximum:
                raise GenerationError(f"Value {value} for {key} must be between {minimum} and {maximum}")
            p.override_settings[key] = value
        return apply

    def depths() -> list[str]:
        return [str(x) for x in range(4)]

    extra = [
        xyz_axes.AxisOption("[Hypertile] Unet First pass Enabled", str, bool_applier("hypertile_enable_unet"),
                            choices=xyz_axes.boolean_choice(reverse=True)),
        xyz_axes.AxisOption("[Hypertile] Unet Second pass Enabled", str,
                            bool_applier("hypertile_enable_unet_secondpass"),
                            choices=xyz_axes.boolean_choice(reverse=True)),
        xyz_axes.AxisOption("[Hypertile] Unet Max Depth", int, int_applier("hypertile_max_depth_unet", 0, 3),
                            choices=depths),
        xyz_axes.AxisOption("[Hypertile] Unet Max Tile Size", int, int_applier("hypertile_max_tile_unet", 0, 512)),
        xyz_axes.AxisOption("[Hypertile] Unet Swap Size", int, int_applier("hypertile_swap_size_unet", 0, 64)),
        xyz_axes.AxisOption("[Hypertile] VAE Enabled", str, bool_applier("hypertile_enable_vae"),
                            choices=xyz_axes.boolean_choice(reverse=True)),
        xyz_axes.AxisOption("[Hypertile] VAE Max Depth", int, int_applier("hypertile_max_depth_vae", 0, 3),
                            choices=depths),
        xyz_axes.AxisOption("[Hypertile] VAE Max Tile Size", int, int_applier("hypertile_max_tile_vae", 0, 512)),
        xyz_axes.AxisOption("[Hypertile] VAE Swap Size", int, int_applier("hypertile_swap_size_vae", 0, 64)),
    ]
    if {o.label for o in xyz_axes.axis_options} & {o.label for o in extra}:
        return  # already added (the UI was built before)
    xyz_axes.axis_options.extend(extra)


script_callbacks.on_before_ui(add_axis_options)
