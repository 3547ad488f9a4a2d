"""The built-in "Soft Inpainting" script (img2img, inpaint section): blends original and generated content
according to the mask's opacity instead of a hard edge.

Two stages, as in A1111's extension:

1. every sampling step (``on_mask_blend``): the original latent and the denoised one are
   interpolated with the soft mask raised to a power that follows the noise level
   (:func:`get_modified_nmask`), keeping the vectors' magnitudes (:func:`latent_blend`);
2. after sampling (``post_sample``): a per-pixel composite mask is built from how much each
   latent pixel changed (:func:`apply_adaptive_masks`), and the picture is composited over the
   whole original through it (``postprocess_maskoverlay``).

With the checkbox off, or without a mask, nothing is changed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from modules import scripts

if TYPE_CHECKING:  # imported where used: loading the script at start-up must not pull in torch
    import torch


@dataclass
class SoftInpaintingSettings:
    """The six parameters (also used to hold their labels, element ids and help lines)."""

    mask_blend_power: Any
    mask_blend_scale: Any
    inpaint_detail_preservation: Any
    composite_mask_influence: Any
    composite_difference_threshold: Any
    composite_difference_contrast: Any

    def add_generation_params(self, dest: dict) -> None:
        """Write the infotext keys (``Soft inpainting enabled`` and one per parameter)."""
        dest[enabled_gen_param_label] = True
        for f in fields(self):
            dest[getattr(gen_param_labels, f.name)] = getattr(self, f.name)


default = SoftInpaintingSettings(1, 0.5, 4, 0, 0.5, 2)

enabled_ui_label = "Soft inpainting"
enabled_gen_param_label = "Soft inpainting enabled"
enabled_el_id = "soft_inpainting_enabled"

ui_labels = SoftInpaintingSettings(
    "Schedule bias", "Preservation strength", "Transition contrast boost",
    "Mask influence", "Difference threshold", "Difference contrast")

ui_info = SoftInpaintingSettings(
    "Shifts when preservation of original content occurs during denoising.",
    "How strongly partially masked content should be preserved.",
    "Amplifies the contrast that may be lost in partially masked regions.",
    "How strongly the original mask should bias the difference threshold.",
    "How much an image region can change before the original pixels are not blended in anymore.",
    "How sharp the transition should be between blended and not blended.")

gen_param_labels = SoftInpaintingSettings(
    "Soft inpainting schedule bias", "Soft inpainting preservation strength",
    "Soft inpainting transition contrast boost", "Soft inpainting mask influence",
    "Soft inpainting difference threshold", "Soft inpainting difference contrast")

el_ids = SoftInpaintingSettings(
    "mask_blend_power", "mask_blend_scale", "inpaint_detail_preservation",
    "composite_mask_influence", "composite_difference_threshold", "composite_difference_contrast")

# (minimum, maximum, step) of each slider
slider_ranges = SoftInpaintingSettings(
    (0, 8, 0.1), (0, 8, 0.05), (1, 32, 0.5), (0, 1, 0.05), (0, 8, 0.25), (0, 8, 0.25))


# --- the math ---------------------------------------------------------------------------------------------------

def processing_uses_inpainting(p: Any) -> bool:
    """True when the job has a mask (the script does nothing otherwise)."""
    return any(getattr(p, name, None) is not None for name in ("image_mask", "mask", "nmask"))


def settings_from_args(p: Any, args: tuple) -> SoftInpaintingSettings | None:
    """The script's arguments (checkbox, then the six sliders; missing ones at their defaults) as settings;
    None when the checkbox is off or the job is not inpainting."""
    if not args or not args[0] or not processing_uses_inpainting(p):
        return None
    values = list(args[1:7])
    defaults = [getattr(default, f.name) for f in fields(SoftInpaintingSettings)]
    return SoftInpaintingSettings(*values, *defaults[len(values):])


def latent_blend(settings: SoftInpaintingSettings, a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Interpolate latents ``a`` (original) and ``b`` (denoised) by ``t`` (0 = a, 1 = b), per pixel.

    The vectors are interpolated linearly, then rescaled so that their length is the
    power mean (exponent ``inpaint_detail_preservation``) of the two lengths: linear
    interpolation alone shrinks vectors pointing different ways and washes out detail.
    """
    import torch

    if t.ndim == 3:  # (C, H, W) -> weights for (B, C, H, W) and for the per-pixel lengths (1, 1, H, W)
        t_vec, t_len = t.unsqueeze(0), t[0][None, None]
    else:
        t_vec, t_len = t, t[:, 0][:, None]
    interpolated = a * (1 - t_vec) + b * t_vec
    result_type = interpolated.dtype
    # lengths in float64: the power can be large (up to 32)
    f64 = torch.float32 if interpolated.device.type == "mps" else torch.float64
    power = settings.inpaint_detail_preservation
    current = torch.linalg.vector_norm(interpolated, dim=1, keepdim=True).to(f64) + 0.00001
    norm_a = torch.linalg.vector_norm(a, dim=1, keepdim=True).to(f64)
    norm_b = torch.linalg.vector_norm(b, dim=1, keepdim=True).to(f64)
    if power == 0:
        # the power mean's limit at exponent 0, the weighted geometric mean (A1111 computes 1 / 0 here and fails)
        desired = norm_a.pow(1 - t_len) * norm_b.pow(t_len)
    else:
        desired = (norm_a.pow(power) * (1 - t_len) + norm_b.pow(power) * t_len).pow(1 / power)
    return interpolated * (desired / current).to(result_type)


def get_modified_nmask(settings: SoftInpaintingSettings, nmask: torch.Tensor, sigma: Any) -> torch.Tensor:
    """The step's blend weight: ``nmask ** (sigma ** schedule_bias * preservation_strength)``.

    Raising the opacity to a power simulates blending that many times, so the
    original weighs more at high noise (or less, for a schedule bias below 1).
    """
    import torch

    return torch.pow(nmask, (sigma ** settings.mask_blend_power) * settings.mask_blend_scale)


def get_gaussian_kernel(stddev_radius: float = 1.0, max_radius: int = 2) -> tuple[np.ndarray, int]:
    """A ``(2r+1)^2`` Gaussian kernel with peak 1, shifted and rescaled to reach 0 one pixel past ``max_radius``;
    returns it and its centre index."""
    def gaussian(sqr_mag: float) -> float:
        return math.exp(-sqr_mag / (stddev_radius * stddev_radius))

    zero_radius = max_radius + 1.0
    gauss_zero = gaussian(zero_radius * zero_radius)
    scale = 1 / (1 - gauss_zero)
    size = max_radius * 2 + 1
    kernel = np.zeros((size, size))
    for index in np.ndindex(kernel.shape):
        dy, dx = index[0] - max_radius, index[1] - max_radius
        kernel[index] = max(0.0, (gaussian(float(dy * dy + dx * dx)) - gauss_zero) * scale)
    return kernel, max_radius


def weighted_histogram_filter(img: np.ndarray, kernel: np.ndarray, kernel_center: int, percentile_min: float = 0.0,
                              percentile_max: float = 1.0, min_width: float = 1.0) -> np.ndarray:
    """A weighted percentile-window filter: each pixel becomes the mean of its neighbours' values lying between the
    ``percentile_min`` and ``percentile_max`` quantiles of their kernel-weighted histogram (at least ``min_width``
    weight wide).  (0, 1) is a weighted mean, a narrow window at 0.5 a weighted median, near 1 a maximum.

    Neighbours outside the picture are left out (the window shrinks at the border).
    """
    height, width = img.shape
    size = kernel.shape[0]
    values = np.zeros((height, width, size * size))
    weights = np.zeros((height, width, size * size))
    padded = np.pad(img.astype(np.float64), kernel_center)
    inside = np.pad(np.ones((height, width)), kernel_center)
    for k, (ky, kx) in enumerate(np.ndindex(kernel.shape)):
        values[..., k] = padded[ky:ky + height, kx:kx + width]
        weights[..., k] = kernel[ky, kx] * inside[ky:ky + height, kx:kx + width]

    order = np.argsort(values, axis=-1, kind="stable")
    values = np.take_along_axis(values, order, axis=-1)
    weights = np.take_along_axis(weights, order, axis=-1)
    top = np.cumsum(weights, axis=-1)  # each sample's place in the stacked histogram: [top - weight, top)
    bottom = top - weights
    total = top[..., -1:]

    low, high = total * percentile_min, total * percentile_max
    narrow = (high - low) < min_width
    centre = (low + high) / 2
    low = np.where(narrow, centre - min_width / 2, low)
    high = np.where(narrow, centre + min_width / 2, high)
    over = narrow & (high > total)
    low, high = np.where(over, total - min_width, low), np.where(over, total, high)
    under = narrow & (low < 0)
    low, high = np.where(under, 0, low), np.where(under, min_width, high)

    overlap = np.clip(np.minimum(high, top) - np.maximum(low, bottom), 0, None)
    weight_sum = overlap.sum(axis=-1)
    value_sum = (values * overlap).sum(axis=-1)
    out = np.divide(value_sum, weight_sum, out=np.zeros_like(value_sum), where=weight_sum != 0)
    return out.astype(img.dtype)


def smootherstep(x: Any) -> Any:
    """Perlin's smootherstep on 0..1: an S-curve with zero first and second derivatives at both ends."""
    return x * x * x * (x * (6 * x - 15) + 10)


def _uncrop(image: Image.Image, dest_size: tuple[int, int], paste_loc: tuple[int, int, int, int]) -> Image.Image:
    """Put ``image`` (resized to the box) at ``paste_loc`` (x, y, w, h) of a transparent ``dest_size`` canvas."""
    from modules.processing.image_resize import resize_image

    x, y, w, h = paste_loc
    base = Image.new("RGBA", dest_size)
    base.paste(resize_image(1, image, w, h), (x, y))
    return base


def _finish_mask(mask: np.ndarray, width: int, height: int, dest_size: tuple[int, int],
                 paste_to: tuple[int, int, int, int] | None) -> Image.Image:
    """0..1 latent-sized mask -> the picture-sized ``L`` mask the overlay is pasted through."""
    from modules.processing.image_resize import resize_image
    from modules.processing.masking import create_binary_mask

    converted = Image.fromarray((255.0 * mask).astype(np.uint8))
    converted = create_binary_mask(resize_image(2, converted, width, height), round=False)
    converted = converted.filter(ImageFilter.GaussianBlur(radius=4))  # hides the latent grid's blockiness
    if paste_to is not None:
        converted = _uncrop(converted, dest_size, paste_to)
    return converted


def _punch(overlay_image: Image.Image, mask: Image.Image) -> Image.Image:
    """The original with the mask as transparency (opaque where the mask is 0)."""
    masked = Image.new("RGBa", (overlay_image.width, overlay_image.height))
    masked.paste(overlay_image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask.convert("L")))
    return masked.convert("RGBA")


def apply_adaptive_masks(settings: SoftInpaintingSettings, nmask: torch.Tensor, latent_orig: torch.Tensor,
                         latent_processed: torch.Tensor, overlay_images: list, width: int, height: int,
                         paste_to: tuple[int, int, int, int] | None) -> list[Image.Image]:
    """Composite masks from the per-pixel latent change: opaque original where little changed, generated content
    where the change exceeds the difference threshold.  ``overlay_images`` get the masks as holes (in place)."""
    import torch

    latent_mask = (nmask[0] if nmask.ndim == 3 else nmask[:, 0]).float()
    # the original mask, turned into a factor on the distance at which the original fades to 50%
    mask_scalar = 1 - torch.clamp(latent_mask, min=0, max=1) ** (settings.mask_blend_scale / 2)
    mask_scalar = 0.5 * (1 - settings.composite_mask_influence) + mask_scalar * settings.composite_mask_influence
    mask_scalar = (mask_scalar / (1.00001 - mask_scalar)).cpu().numpy()

    latent_distance = torch.linalg.vector_norm((latent_processed - latent_orig).float(), dim=1)
    kernel, kernel_center = get_gaussian_kernel(stddev_radius=1.5, max_radius=2)

    masks = []
    for i, (distance_map, overlay_image) in enumerate(zip(latent_distance, overlay_images)):
        converted = distance_map.cpu().numpy()
        # a soft local maximum, then a soft median: isolated small changes do not punch holes
        converted = weighted_histogram_filter(converted, kernel, kernel_center, percentile_min=0.9, percentile_max=1,
                                              min_width=1)
        converted = weighted_histogram_filter(converted, kernel, kernel_center, percentile_min=0.25,
                                              percentile_max=0.75, min_width=1)
        if mask_scalar.ndim == 3:
            scalar = mask_scalar[i] if mask_scalar.shape[0] > i else mask_scalar[0]
        else:
            scalar = mask_scalar
        half_weighted_distance = settings.composite_difference_threshold * scalar
        with np.errstate(divide="ignore", invalid="ignore"):
            # a threshold of 0 (or a fully masked pixel at mask influence 1) divides by 0: a change becomes an
            # infinite ratio (generated pixels, as A1111), no change at all 0 / 0, read as 0 (the original kept,
            # what A1111's NaN turns into when cast to uint8 on x86)
            converted = np.where((converted == 0) & (half_weighted_distance == 0), 0.0,
                                 converted / half_weighted_distance)
            converted = 1 / (1 + converted ** settings.composite_difference_contrast)
        converted = 1 - smootherstep(converted)
        mask = _finish_mask(converted, width, height, (overlay_image.width, overlay_image.height), paste_to)
        masks.append(mask)
        overlay_images[i] = _punch(overlay_image, mask)
    return masks


def apply_masks(settings: SoftInpaintingSettings, nmask: torch.Tensor, overlay_images: list, width: int, height: int,
                paste_to: tuple[int, int, int, int] | None) -> list[Image.Image]:
    """Composite masks from the soft mask alone (when sampling returned decoded pictures, no latents to compare)."""
    import torch

    mask = torch.clamp(nmask[0].float(), min=0, max=1).pow(settings.mask_blend_scale / 2).cpu().numpy()
    masks = []
    for i, overlay_image in enumerate(overlay_images):
        converted = _finish_mask(mask, width, height, (overlay_image.width, overlay_image.height), paste_to)
        masks.append(converted)
        overlay_images[i] = _punch(overlay_image, converted)
    return masks


# --- the script -------------------------------------------------------------------------------------------------

class Script(scripts.Script):
    """A1111's "Soft Inpainting" (img2img only)."""

    def __init__(self) -> None:
        self.section = "inpaint"
        self.masks_for_overlay: list | None = None
        self.overlay_images: list | None = None

    def title(self) -> str:
        return "Soft Inpainting"

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible if is_img2img else False

    def ui(self, is_img2img: bool) -> list | None:
        if not is_img2img:
            return None
        import gradio as gr

        from modules.ui_components import InputAccordion

        controls = {}
        with InputAccordion(False, label=enabled_ui_label, elem_id=enabled_el_id) as enabled:
            with gr.Group():
                gr.Markdown(INTRO_TEXT)
                for f in fields(SoftInpaintingSettings):
                    if f.name == "composite_mask_influence":
                        gr.Markdown("### Pixel Composite Settings")
                    minimum, maximum, step = getattr(slider_ranges, f.name)
                    controls[f.name] = gr.Slider(label=getattr(ui_labels, f.name), info=getattr(ui_info, f.name),
                                                 minimum=minimum, maximum=maximum, step=step,
                                                 value=getattr(default, f.name), elem_id=getattr(el_ids, f.name))
                with gr.Accordion("Help", open=False):
                    gr.Markdown(HELP_TEXT)

        self.infotext_fields = [(enabled, enabled_gen_param_label)]
        self.infotext_fields += [(controls[f.name], getattr(gen_param_labels, f.name))
                                 for f in fields(SoftInpaintingSettings)]
        self.paste_field_names = [name for _, name in self.infotext_fields]
        return [enabled, *controls.values()]

    def process(self, p: Any, *args: Any) -> None:
        self.masks_for_overlay = self.overlay_images = None  # nothing from an earlier job
        settings = settings_from_args(p, args)
        if settings is None:
            return
        p.mask_round = False  # the soft mask is the point: no rounding to 0/1 in latent space
        settings.add_generation_params(p.extra_generation_params)

    def on_mask_blend(self, p: Any, mba: Any, *args: Any) -> None:
        settings = settings_from_args(p, args)
        if settings is None:
            return
        if mba.is_final_blend:
            # the composite after decoding does the final blend, in pixel space
            mba.blended_latent = mba.current_latent
            return
        import torch

        # sigma holds one (equal) value per picture of the batch
        sigma = mba.sigma[0] if torch.is_tensor(mba.sigma) and mba.sigma.ndim > 0 else mba.sigma
        mba.blended_latent = latent_blend(settings, mba.init_latent, mba.current_latent,
                                          get_modified_nmask(settings, mba.nmask, sigma))

    def post_sample(self, p: Any, ps: Any, *args: Any) -> None:
        settings = settings_from_args(p, args)
        nmask = getattr(p, "nmask", None)
        if settings is None or nmask is None:
            return
        from modules import shared
        from modules.processing.image_resize import flatten, resize_image

        # the overlays img2img made have hard holes; start again from the whole originals
        self.overlay_images = []
        for img in p.init_images:
            image = flatten(img, shared.opts.img2img_background_color)
            if p.paste_to is None and p.resize_mode != 3:
                image = resize_image(p.resize_mode, image, p.width, p.height)
            self.overlay_images.append(image.convert("RGBA"))
        if len(p.init_images) == 1:
            self.overlay_images = self.overlay_images * p.batch_size

        if getattr(ps.samples, "already_decoded", False):
            self.masks_for_overlay = apply_masks(settings, nmask, self.overlay_images, p.width, p.height, p.paste_to)
        else:
            self.masks_for_overlay = apply_adaptive_masks(settings, nmask, p.init_latent, ps.samples,
                                                          self.overlay_images, p.width, p.height, p.paste_to)

    def postprocess_maskoverlay(self, p: Any, ppmo: Any, *args: Any) -> None:
        if settings_from_args(p, args) is None:
            return
        if self.masks_for_overlay is None or self.overlay_images is None:
            return
        ppmo.mask_for_overlay = self.masks_for_overlay[ppmo.index]
        ppmo.overlay_image = self.overlay_images[ppmo.index]


INTRO_TEXT = ("Soft inpainting allows you to **seamlessly blend original content with inpainted content** according "
              "to the mask opacity.\n**High _Mask blur_** values are recommended!")

HELP_TEXT = f"""
### {ui_labels.mask_blend_power}

The blending strength of original content is scaled proportionally with the decreasing noise level values at each step (sigmas).
This ensures that the influence of the denoiser and original content preservation is roughly balanced at each step.
This balance can be shifted using this parameter, controlling whether earlier or later steps have stronger preservation.

- **Below 1**: Stronger preservation near the end (with low sigma)
- **1**: Balanced (proportional to sigma)
- **Above 1**: Stronger preservation in the beginning (with high sigma)

### {ui_labels.mask_blend_scale}

Skews whether partially masked image regions should be more likely to preserve the original content or favor inpainted content.
This may need to be adjusted depending on the {ui_labels.mask_blend_power}, CFG Scale, prompt and Denoising strength.

- **Low values**: Favors generated content.
- **High values**: Favors original content.

### {ui_labels.inpaint_detail_preservation}

This parameter controls how the original latent vectors and denoised latent vectors are interpolated.
With higher values, the magnitude of the resulting blended vector will be closer to the maximum of the two interpolated vectors.
This can prevent the loss of contrast that occurs with linear interpolation.

- **Low values**: Softer blending, details may fade.
- **High values**: Stronger contrast, may over-saturate colors.

## Pixel Composite Settings

Masks are generated based on how much a part of the image changed after denoising.
These masks are used to blend the original and final images together.
If the difference is low, the original pixels are used instead of the pixels returned by the inpainting process.

### {ui_labels.composite_mask_influence}

This parameter controls how much the mask should bias this sensitivity to difference.

- **0**: Ignore the mask, only consider differences in image content.
- **1**: Follow the mask closely despite image content changes.

### {ui_labels.composite_difference_threshold}

This value represents the difference at which the original pixels will have less than 50% opacity.

- **Low values**: Two images patches must be almost the same in order to retain original pixels.
- **High values**: Two images patches can be very different and still retain original pixels.

### {ui_labels.composite_difference_contrast}

This value represents the contrast between the opacity of the original and inpainted content.

- **Low values**: The blend will be more gradual and have longer transitions, but may cause ghosting.
- **High values**: Ghosting will be less common, but transitions may be very sudden.
"""
