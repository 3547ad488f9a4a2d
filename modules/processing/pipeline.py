"""``process_images``: runs a processing object batch by batch, in A1111's order.

Per batch: prompts/seeds sliced, per-image RNG, extra networks activated,
conds computed (cached), sampled, decoded, then per image: face restoration,
script hooks, overlay, saving with infotext.  ``override_settings`` hold for
the job only: every setting reads as before afterwards, including keys that
were absent from ``config.json`` (A1111 leaks those).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

# the limits live in one module for every layer; re-exported here under their old names
from modules.core.limits import MAX_MEGAPIXELS, MAX_SIDE, MAX_STEPS, limits_text, within_limits  # noqa: F401
from modules.models.compiled_unet import apply_compile_setting
from modules.models.memory.placement import job_guard
from modules.models.token_merging import token_merging
from modules.networks.extra_networks import registry as extra_networks
from modules.processing import image_saver
from modules.processing.color_correction import apply_color_correction
from modules.processing.executors import current_executor
from modules.processing.face_restore import restore_faces
from modules.processing.image_resize import resize_image
from modules.processing.image_saving import output_dir, write_params_txt
from modules.processing.job_infotext import create_infotext
from modules.processing.latents import decode_latent_batch
from modules.processing.model_switch import apply_fp8_setting, reload_model_weights
from modules.processing.overlay import apply_overlay
from modules.processing.processed import Processed
from modules.processing.processing_base import OPT_C, OPT_F, GenerationError, StableDiffusionProcessing
from modules.processing.refiner import resolve_refiner
from modules.processing.rng import ImageRNG, get_fixed_seed
from modules.processing.sampler_setup import resolve_sampler
from modules.scripting.hook_args import (PostprocessBatchListArgs, PostprocessImageArgs, PostProcessMaskOverlayArgs,
                                         PostSampleArgs)

log = logging.getLogger(__name__)


def _call_hook(p: StableDiffusionProcessing, name: str, *args: Any, **kwargs: Any) -> None:
    runner = p.scripts
    if runner is not None and hasattr(runner, name):
        getattr(runner, name)(p, *args, **kwargs)


# --- settings for the job only ---
class OverrideSettings:
    """Apply ``p.override_settings`` for one job and put every value back afterwards."""

    def __init__(self, p: StableDiffusionProcessing) -> None:
        self.p = p
        self.saved: dict[str, Any] = {}
        self.absent: set[str] = set()

    def __enter__(self) -> "OverrideSettings":
        services = self.p.services
        opts = services.opts
        overrides = dict(self.p.override_settings)
        checkpoint = overrides.get("sd_model_checkpoint")
        checkpoints = services.checkpoints
        if checkpoint is not None and checkpoints is not None and checkpoints.get_closest_match(checkpoint) is None:
            raise GenerationError(f"checkpoint {checkpoint!r} not found")
        for key in overrides:
            opts.validate(key, overrides[key], is_api=False)
        try:
            for key, value in overrides.items():
                if key in opts.data:
                    self.saved[key] = opts.data[key]
                else:
                    self.absent.add(key)
                opts.set(key, value, is_api=True, run_callbacks=False)
                if key == "sd_model_checkpoint":
                    # the job's model is the switched one (A1111's p.sd_model reads shared.sd_model): its name and
                    # hash go into the infotext, not those of the model live when the request came
                    self.p.sd_model = reload_model_weights(services)
            apply_fp8_setting(services, overrides)  # FP8 storage is a property of the loaded weights
        except Exception:
            # no job runs and __exit__ is not called: without this a refused checkpoint stayed the setting and
            # every later job failed loading it (the model manager already put the previous model back)
            self._restore_settings()
            raise
        return self

    def _restore_settings(self) -> None:
        opts = self.p.services.opts
        for key, value in self.saved.items():
            opts.data[key] = value
        for key in self.absent:
            opts.data.pop(key, None)

    def __exit__(self, *exc: Any) -> None:
        if not self.p.override_settings_restore_afterwards:
            return
        self._restore_settings()
        if "sd_model_checkpoint" in self.p.override_settings:
            reload_model_weights(self.p.services)
        apply_fp8_setting(self.p.services, self.p.override_settings)


def process_images(p: StableDiffusionProcessing) -> Processed:
    """Run ``p`` (A1111's entry point): scripts' ``before_process``, settings overrides, then the batches."""
    _call_hook(p, "before_process")
    executor = current_executor()
    if executor is not None and executor.accepts(p):  # --ray: the job runs on worker actors
        return executor.run(p)
    # the memory manager starts the job from rest and turns an out-of-memory error into one naming the setting
    with OverrideSettings(p), job_guard(p.services):
        return process_images_inner(p)


def _validate(p: StableDiffusionProcessing) -> None:
    if p.width % 8 or p.height % 8 or p.width <= 0 or p.height <= 0:
        raise GenerationError(f"width and height must be positive multiples of 8, got {p.width}x{p.height}")
    if not within_limits(p.width, p.height):
        raise GenerationError(f"{p.width}x{p.height} is larger than the limit ({limits_text()})")
    resolve_sampler(p)
    if not isinstance(p.steps, int) or isinstance(p.steps, bool) or not 1 <= p.steps <= MAX_STEPS:
        raise GenerationError(f"steps must be between 1 and {MAX_STEPS}, got {p.steps}")
    if p.batch_size < 1 or p.n_iter < 1:
        raise GenerationError("batch_size and n_iter must be at least 1")
    if p.services.sd_model is None and p.sd_model is None:
        raise GenerationError("no model is loaded: put a checkpoint into models/Stable-diffusion")


def _check_hires_size(p: StableDiffusionProcessing) -> None:
    """The hires fix target, known once ``init`` computed it, is held to the first pass's limits."""
    if getattr(p, "enable_hr", False):
        width, height = getattr(p, "hr_upscale_to_x", 0) or 0, getattr(p, "hr_upscale_to_y", 0) or 0
        if not within_limits(width, height):
            raise GenerationError(f"hires fix target {width}x{height} is larger than the limit ({limits_text()})")


def _fix_seeds(p: StableDiffusionProcessing) -> None:
    seed, subseed = get_fixed_seed(p.seed), get_fixed_seed(p.subseed)
    count = len(p.all_prompts)
    p.all_seeds = list(seed) if isinstance(seed, list) else [int(seed) + (x if p.subseed_strength == 0 else 0) for x in range(count)]
    p.all_subseeds = list(subseed) if isinstance(subseed, list) else [int(subseed) + x for x in range(count)]


def _model_identity(p: StableDiffusionProcessing) -> None:
    model = p.sd_model
    info = getattr(model, "sd_checkpoint_info", None)
    p.sd_model_name = getattr(info, "name_for_extra", None)
    p.sd_model_hash = getattr(model, "sd_model_hash", None)
    p.sd_vae_name = getattr(model, "sd_vae_name", None)
    p.sd_vae_hash = getattr(model, "sd_vae_hash", None)
    # a GGUF model's text encoder / VAE files, as Forge writes them ("Module 1: ae, Module 2: clip_l")
    for number, path in enumerate(getattr(model, "additional_modules", None) or (), start=1):
        p.extra_generation_params[f"Module {number}"] = os.path.splitext(os.path.basename(path))[0]


def process_images_inner(p: StableDiffusionProcessing) -> Processed:
    """The batch loop (see the module docstring)."""
    state = p.services.state
    opts = p.services.opts
    if p.sd_model is None:
        p.sd_model = p.services.sd_model
    _validate(p)
    if p.restore_faces is None:
        p.restore_faces = opts.face_restoration
    if p.tiling is None:
        p.tiling = opts.tiling
    resolve_refiner(p)
    _model_identity(p)
    _default_output_dirs(p)
    p.prompt_notes.clear()
    p.fill_fields_from_opts()
    p.setup_prompts()
    _fix_seeds(p)
    _reload_embeddings(p)
    _call_hook(p, "process")

    infotexts: list[str] = []
    output_images: list[Image.Image] = []
    with torch.no_grad(), _tiling(p.sd_model, bool(p.tiling)):
        p.init(p.all_prompts, p.all_seeds, p.all_subseeds)
        _check_hires_size(p)
        if state.job_count == -1:
            state.job_count = p.n_iter
        for n in range(p.n_iter):
            p.iteration = n
            if state.skipped:
                state.skipped = False
            if state.interrupted or state.stopping_generation:
                break
            _run_batch(p, n, infotexts, output_images)

    if not infotexts:
        infotexts.append(create_infotext(p, p.all_prompts, p.all_seeds, p.all_subseeds))
    p.color_corrections = None
    index_of_first_image = add_grid(p, output_images, infotexts)
    if not p.disable_extra_networks and p.extra_network_data:
        extra_networks.deactivate(p, p.extra_network_data)
    res = Processed(p, images_list=output_images, seed=p.all_seeds[0], info=infotexts[0],
                    subseed=p.all_subseeds[0], index_of_first_image=index_of_first_image, infotexts=infotexts)
    _call_hook(p, "postprocess", res)
    return res


def _default_output_dirs(p: StableDiffusionProcessing) -> None:
    """Unset output folders follow the settings of the job's tab (``outdir_samples`` wins when set)."""
    tab = getattr(p, "tab", "txt2img")
    opts, data_dir = p.services.opts, p.services.paths.data_dir
    if p.outpath_samples is None:
        p.outpath_samples = output_dir(opts, tab, grid=False, data_dir=data_dir)
    if p.outpath_grids is None:
        p.outpath_grids = output_dir(opts, tab, grid=True, data_dir=data_dir)


def _reload_embeddings(p: StableDiffusionProcessing) -> None:
    db = p.services.embeddings
    if db is not None and not p.do_not_reload_embeddings:
        db.load_textual_inversion_embeddings(print_at_load=p.services.opts.textual_inversion_print_at_load)


class _tiling:
    """Circular padding in every Conv2d for seamless tiles (``p.tiling``), restored afterwards."""

    def __init__(self, model: Any, enabled: bool) -> None:
        self.model, self.enabled, self.saved = model, enabled, []

    def __enter__(self) -> None:
        if not self.enabled or not isinstance(self.model, torch.nn.Module):
            return
        for module in self.model.modules():
            if isinstance(module, torch.nn.Conv2d):
                self.saved.append((module, module.padding_mode))
                module.padding_mode = "circular"

    def __exit__(self, *exc: Any) -> None:
        for module, mode in self.saved:
            module.padding_mode = mode


def _run_batch(p: StableDiffusionProcessing, n: int, infotexts: list[str], output_images: list) -> None:
    services = p.services
    state, opts = services.state, services.opts
    p.sd_model = reload_model_weights(services)  # the refiner of the previous batch may be live
    apply_compile_setting(p.sd_model, opts, services.cmd_opts)  # setting compile_unet may have changed
    lo, hi = n * p.batch_size, (n + 1) * p.batch_size
    p.prompts = p.all_prompts[lo:hi]
    p.negative_prompts = p.all_negative_prompts[lo:hi]
    p.seeds = p.all_seeds[lo:hi]
    p.subseeds = p.all_subseeds[lo:hi]
    channels = getattr(p.sd_model, "latent_channels", OPT_C)
    p.rng = ImageRNG((channels, p.height // OPT_F, p.width // OPT_F), p.seeds, subseeds=p.subseeds,
                     subseed_strength=p.subseed_strength, seed_resize_from_h=p.seed_resize_from_h,
                     seed_resize_from_w=p.seed_resize_from_w, settings=opts, device=_device(p))
    _call_hook(p, "before_process_batch", batch_number=n, prompts=p.prompts, seeds=p.seeds, subseeds=p.subseeds)
    if not p.prompts:
        return
    p.parse_extra_network_prompts()
    if not p.disable_extra_networks:
        extra_networks.activate(p, p.extra_network_data)
    _call_hook(p, "after_extra_networks_activate", batch_number=n, prompts=p.prompts, seeds=p.seeds,
               subseeds=p.subseeds, extra_network_data=p.extra_network_data)
    _call_hook(p, "process_batch", batch_number=n, prompts=p.prompts, seeds=p.seeds, subseeds=p.subseeds)
    p.setup_conds()
    # what encoding the job's prompts noted so far (TI hashes, Emphasis, truncation comments)
    p.extra_generation_params.update(p.prompt_notes.extra_generation_params)
    for comment in p.prompt_notes.comments:
        p.comment(comment)

    if n == 0 and not services.cmd_opts.no_prompt_history:
        write_params_txt(os.path.join(services.paths.data_dir, "params.txt"),
                         create_infotext(p, p.all_prompts, p.all_seeds, p.all_subseeds))
    if p.n_iter > 1:
        state.job = f"Batch {n + 1} out of {p.n_iter}"

    with token_merging(p.sd_model, p.get_token_merging_ratio()):  # off again after; the hires pass sets its own
        samples = p.sample(conditioning=p.c, unconditional_conditioning=p.uc, seeds=p.seeds, subseeds=p.subseeds,
                           subseed_strength=p.subseed_strength, prompts=p.prompts)
    runner = p.scripts
    if runner is not None and hasattr(runner, "post_sample"):
        ps = PostSampleArgs(samples)
        runner.post_sample(p, ps)
        samples = ps.samples
    if getattr(samples, "already_decoded", False):
        decoded = samples
    else:
        decoded = decode_latent_batch(p.sd_model, samples, check_for_nans=not services.cmd_opts.disable_nan_check)
    x_samples = torch.clamp((torch.stack(list(decoded)).float() + 1.0) / 2.0, min=0.0, max=1.0)
    del samples
    state.nextjob()

    if runner is not None and hasattr(runner, "postprocess_batch"):
        runner.postprocess_batch(p, x_samples, batch_number=n)
        batch_params = PostprocessBatchListArgs(list(x_samples))
        runner.postprocess_batch_list(p, batch_params, batch_number=n)
        x_samples = batch_params.images

    def infotext(index: int = 0, use_main_prompt: bool = False) -> str:
        return create_infotext(p, p.prompts, p.seeds, p.subseeds, use_main_prompt=use_main_prompt, index=index,
                               all_negative_prompts=p.negative_prompts)

    save_samples = p.save_samples()
    for i, x_sample in enumerate(x_samples):
        p.batch_index = i
        array = (255.0 * np.moveaxis(x_sample.cpu().numpy(), 0, 2)).astype(np.uint8)
        if p.restore_faces:
            if save_samples and opts.save_images_before_face_restoration:
                _save(p, Image.fromarray(array), i, infotext(i), suffix="-before-face-restoration")
            array = restore_faces(services, array)
        image = Image.fromarray(array)
        image, mask_for_overlay, original = _postprocess_image(p, image, i, save_samples, infotext)
        text = infotext(i)
        if save_samples:
            _save(p, image, i, text)
        infotexts.append(text)
        if opts.enable_pnginfo:
            image.info["parameters"] = text
        output_images.append(image)
        if mask_for_overlay is not None:
            _mask_outputs(p, image, original, mask_for_overlay, i, save_samples, text, output_images)


def _postprocess_image(p: StableDiffusionProcessing, image: Image.Image, i: int, save_samples: bool,
                       infotext: Callable[..., str]) -> tuple[Image.Image, Any, Image.Image]:
    """Script hooks, colour correction, the composite over the original picture (inpainting);
    returns (picture, mask for the overlay, picture before the composite)."""
    opts = p.services.opts
    runner = p.scripts
    if runner is not None and hasattr(runner, "postprocess_image"):
        pp = PostprocessImageArgs(image)
        runner.postprocess_image(p, pp)
        image = pp.image
    mask_for_overlay = getattr(p, "mask_for_overlay", None)
    overlays = getattr(p, "overlay_images", None)
    overlay_image = overlays[i] if opts.overlay_inpaint and overlays is not None and i < len(overlays) else None
    if runner is not None and hasattr(runner, "postprocess_maskoverlay"):
        ppmo = PostProcessMaskOverlayArgs(i, mask_for_overlay, overlay_image)
        runner.postprocess_maskoverlay(p, ppmo)
        mask_for_overlay, overlay_image = ppmo.mask_for_overlay, ppmo.overlay_image
    corrections = p.color_corrections
    if corrections is not None and i < len(corrections):
        if save_samples and opts.save_images_before_color_correction:
            uncorrected, _ = apply_overlay(image, p.paste_to, overlay_image)
            _save(p, uncorrected, i, infotext(i), suffix="-before-color-correction")
        image = apply_color_correction(corrections[i], image)
    image, original = apply_overlay(image, p.paste_to, overlay_image)
    if runner is not None and hasattr(runner, "postprocess_image_after_composite"):
        pp = PostprocessImageArgs(image)
        runner.postprocess_image_after_composite(p, pp)
        image = pp.image
    return image, mask_for_overlay, original


def _mask_outputs(p: StableDiffusionProcessing, image: Image.Image, original: Image.Image, mask: Image.Image,
                  i: int, save_samples: bool, info: str, output_images: list) -> None:
    """Settings ``save_mask`` / ``return_mask`` and ``save_mask_composite`` / ``return_mask_composite``."""
    opts = p.services.opts
    if opts.return_mask or opts.save_mask:
        image_mask = mask.convert("RGB")
        if save_samples and opts.save_mask:
            _save(p, image_mask, i, info, suffix="-mask")
        if opts.return_mask:
            output_images.append(image_mask)
    if opts.return_mask_composite or opts.save_mask_composite:
        composite = Image.composite(original.convert("RGBA").convert("RGBa"), Image.new("RGBa", image.size),
                                    resize_image(2, mask, image.width, image.height).convert("L")).convert("RGBA")
        if save_samples and opts.save_mask_composite:
            _save(p, composite, i, info, suffix="-mask-composite")
        if opts.return_mask_composite:
            output_images.append(composite)


def _save(p: StableDiffusionProcessing, image: Image.Image, i: int, info: str, suffix: str = "") -> None:
    image_saver.save_image(p.services, image, p.outpath_samples, "", p.seeds[i], p.prompts[i],
                           p.services.opts.samples_format, info=info, p=p, suffix=suffix)


def add_grid(p: StableDiffusionProcessing, output_images: list, infotexts: list[str], text: str | None = None) -> int:
    """Insert the grid as the first image and save it when A1111 would; returns ``index_of_first_image``.

    ``text`` is the grid's infotext (default: the job's, with the main prompt); the distributed executor
    hands in the one its first chunk made.
    """
    opts = p.services.opts
    too_few = len(output_images) < 2 and opts.grid_only_if_multiple
    if not (opts.return_grid or opts.grid_save) or p.do_not_save_grid or too_few:
        return 0
    grid = image_saver.image_grid(p.services, output_images, p.batch_size)
    if text is None:
        text = create_infotext(p, p.all_prompts, p.all_seeds, p.all_subseeds, use_main_prompt=True)
    index = 0
    if opts.return_grid:
        infotexts.insert(0, text)
        if opts.enable_pnginfo:
            grid.info["parameters"] = text
        output_images.insert(0, grid)
        index = 1
    if opts.grid_save:
        image_saver.save_image(p.services, grid, p.outpath_grids, "grid", p.all_seeds[0], p.all_prompts[0],
                               opts.grid_format, info=text, short_filename=not opts.grid_extended_filename, p=p,
                               grid=True)
    return index


def _device(p: StableDiffusionProcessing) -> torch.device:
    model = p.sd_model
    return getattr(model, "device", torch.device("cpu")) if model is not None else torch.device("cpu")
