"""The parameters of one picture, in A1111's order, read from a processing object.

:func:`generation_params` is A1111 1.10's ``create_infotext`` dictionary and
:func:`create_infotext` the whole text.  Attributes read from ``p`` (a
``StableDiffusionProcessing``-like object; a missing optional one counts as
unset):

* ``steps``, ``sampler_name``, ``scheduler``, ``cfg_scale``, ``image_cfg_scale``
  (img2img instruct-pix2pix only), ``batch_size``;
* ``all_seeds``, ``all_subseeds``, ``all_negative_prompts``, ``main_prompt``,
  ``main_negative_prompt`` (for ``use_main_prompt``), ``subseed_strength``,
  ``seed_resize_from_w``/``_h``;
* ``restore_faces``, ``width``, ``height``, ``sd_model_hash``, ``sd_model_name``,
  ``sd_vae_hash``, ``sd_vae_name``, ``is_using_inpainting_conditioning``,
  ``inpainting_mask_weight``, ``clip_skip``, ``enable_hr``, ``eta``, ``sampler``
  (its ``eta``), ``init_img_hash``, ``tiling``, ``user``;
* ``get_token_merging_ratio(for_hr=...)`` when present, else
  ``token_merging_ratio``/``token_merging_ratio_hr``;
* ``extra_generation_params``: merged after ``Tiling`` in insertion order; a key
  already placed earlier (``Denoising strength``) keeps its early place.  A list
  value gives the item for this picture, a callable is called with the local
  names A1111 offers (``p``, ``index``, ``prompt_text``, ``negative_prompt``,
  ``all_prompts``, ``all_seeds``, ... and ``**kwargs``) and may return ``None``.

Settings read: ``CLIP_stop_at_last_layers`` (when ``p`` has no ``clip_skip``),
``face_restoration_model``, ``add_model_hash_to_info``, ``add_model_name_to_info``,
``add_vae_hash_to_info``, ``add_vae_name_to_info``, ``fp8_storage``,
``cache_fp16_weight``, ``inpainting_mask_weight``, ``eta_noise_seed_delta``,
``token_merging_ratio``, ``token_merging_ratio_hr``, ``randn_source``,
``add_version_to_infotext``, ``add_user_name_to_info``.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from modules.processing import infotext_samplers
from modules.processing.infotext import build_infotext, format_params

log = logging.getLogger(__name__)

_DEFAULTS: dict[str, Any] = {
    "CLIP_stop_at_last_layers": 1,
    "face_restoration_model": "CodeFormer",
    "add_model_hash_to_info": True,
    "add_model_name_to_info": True,
    "add_vae_hash_to_info": True,
    "add_vae_name_to_info": True,
    "fp8_storage": "Disable",
    "cache_fp16_weight": False,
    "inpainting_mask_weight": 1.0,
    "eta_noise_seed_delta": 0,
    "token_merging_ratio": 0.0,
    "token_merging_ratio_hr": 0.0,
    "randn_source": "GPU",
    "add_version_to_infotext": True,
    "add_user_name_to_info": False,
}


def _opt(settings: Any, key: str) -> Any:
    if settings is None:
        return _DEFAULTS[key]
    return getattr(settings, key, _DEFAULTS[key])


def token_merging_ratios(p: Any, settings: Any) -> tuple[float, float]:
    """``(ratio, hires ratio)`` as A1111's ``p.get_token_merging_ratio`` gives them."""
    getter = getattr(p, "get_token_merging_ratio", None)
    if callable(getter):
        return getter(), getter(for_hr=True)
    own = getattr(p, "token_merging_ratio", 0) or 0
    own_hr = getattr(p, "token_merging_ratio_hr", 0) or 0
    ratio = own or _opt(settings, "token_merging_ratio")
    ratio_hr = own_hr or _opt(settings, "token_merging_ratio_hr") or ratio
    return ratio, ratio_hr


def default_uses_ensd(p: Any) -> bool:
    """Whether ``p``'s sampler draws its extra noise with ENSD (A1111's built-in samplers)."""
    sampler = getattr(p, "sampler", None)
    return infotext_samplers.uses_ensd(getattr(p, "sampler_name", None), getattr(p, "eta", None),
                                       getattr(sampler, "eta", None))


def generation_params(p: Any, all_prompts: Sequence[str], all_seeds: Sequence[int], all_subseeds: Sequence[int],
                      comments: Any = None, iteration: int = 0, position_in_batch: int = 0,
                      use_main_prompt: bool = False, index: int | None = None,
                      all_negative_prompts: Sequence[str] | None = None, *, settings: Any = None,
                      version: str | None = None, fp8: bool = False,
                      uses_ensd: Callable[[Any], bool] | None = None) -> tuple[dict[str, Any], str, str]:
    """``(params, prompt, negative prompt)`` of picture ``index`` of the job, values resolved.

    ``version`` is the program version for ``Version`` (A1111: the git tag);
    ``fp8`` whether weights are stored in FP8 (A1111's ``devices.fp8``);
    ``uses_ensd`` overrides :func:`default_uses_ensd` (the sampling layer knows
    its samplers).  ``settings`` is the options object (``shared.opts``).
    """
    if use_main_prompt:
        index = 0
    elif index is None:
        index = position_in_batch + iteration * p.batch_size

    if all_negative_prompts is None:
        all_negative_prompts = p.all_negative_prompts

    clip_skip = getattr(p, "clip_skip", None)
    if clip_skip is None:
        clip_skip = _opt(settings, "CLIP_stop_at_last_layers")
    enable_hr = getattr(p, "enable_hr", False)
    token_merging_ratio, token_merging_ratio_hr = token_merging_ratios(p, settings)

    prompt_text = p.main_prompt if use_main_prompt else all_prompts[index]
    negative_prompt = p.main_negative_prompt if use_main_prompt else all_negative_prompts[index]

    ensd = _opt(settings, "eta_noise_seed_delta")
    ensd_used = ensd != 0 and (uses_ensd or default_uses_ensd)(p)

    subseed_strength = getattr(p, "subseed_strength", 0) or 0
    resize_w = getattr(p, "seed_resize_from_w", -1) or -1
    resize_h = getattr(p, "seed_resize_from_h", -1) or -1
    randn_source = _opt(settings, "randn_source")
    extra = getattr(p, "extra_generation_params", None) or {}

    params: dict[str, Any] = {
        "Steps": p.steps,
        "Sampler": p.sampler_name,
        "Schedule type": getattr(p, "scheduler", None),
        "CFG scale": p.cfg_scale,
        "Distilled CFG Scale": getattr(p, "distilled_cfg_scale", None)
        if getattr(getattr(p, "sd_model", None), "use_distilled_cfg_scale", False) else None,  # Forge: Flux dev
        "Image CFG scale": getattr(p, "image_cfg_scale", None),
        "Seed": p.all_seeds[0] if use_main_prompt else all_seeds[index],
        "Face restoration": _opt(settings, "face_restoration_model") if getattr(p, "restore_faces", False) else None,
        "Size": f"{p.width}x{p.height}",
        "Model hash": getattr(p, "sd_model_hash", None) if _opt(settings, "add_model_hash_to_info") else None,
        "Model": getattr(p, "sd_model_name", None) if _opt(settings, "add_model_name_to_info") else None,
        "FP8 weight": _opt(settings, "fp8_storage") if fp8 else None,
        "Cache FP16 weight for LoRA": _opt(settings, "cache_fp16_weight") if fp8 else None,
        "VAE hash": getattr(p, "sd_vae_hash", None) if _opt(settings, "add_vae_hash_to_info") else None,
        "VAE": getattr(p, "sd_vae_name", None) if _opt(settings, "add_vae_name_to_info") else None,
        "Variation seed": None if subseed_strength == 0 else (
            p.all_subseeds[0] if use_main_prompt else all_subseeds[index]),
        "Variation seed strength": None if subseed_strength == 0 else subseed_strength,
        "Seed resize from": None if resize_w <= 0 or resize_h <= 0 else f"{resize_w}x{resize_h}",
        "Denoising strength": extra.get("Denoising strength"),
        "Conditional mask weight": getattr(p, "inpainting_mask_weight", _opt(settings, "inpainting_mask_weight"))
        if getattr(p, "is_using_inpainting_conditioning", False) else None,
        "Clip skip": None if clip_skip <= 1 else clip_skip,
        "ENSD": ensd if ensd_used else None,
        "Token merging ratio": None if token_merging_ratio == 0 else token_merging_ratio,
        "Token merging ratio hr": None if not enable_hr or token_merging_ratio_hr == 0 else token_merging_ratio_hr,
        "Init image hash": getattr(p, "init_img_hash", None),
        "RNG": randn_source if randn_source != "GPU" else None,
        "Tiling": "True" if getattr(p, "tiling", False) else None,
    }
    params.update(extra)
    params["Version"] = version if _opt(settings, "add_version_to_infotext") else None
    params["User"] = getattr(p, "user", None) if _opt(settings, "add_user_name_to_info") else None

    # what a callable value sees: the names A1111's create_infotext has in scope
    scope = {
        "p": p, "all_prompts": all_prompts, "all_seeds": all_seeds, "all_subseeds": all_subseeds,
        "comments": comments, "iteration": iteration, "position_in_batch": position_in_batch,
        "use_main_prompt": use_main_prompt, "index": index, "all_negative_prompts": all_negative_prompts,
        "clip_skip": clip_skip, "enable_hr": enable_hr, "token_merging_ratio": token_merging_ratio,
        "token_merging_ratio_hr": token_merging_ratio_hr, "prompt_text": prompt_text,
        "negative_prompt": negative_prompt, "uses_ensd": ensd_used, "generation_params": params,
    }
    for key, value in list(params.items()):
        try:
            if isinstance(value, list):
                params[key] = value[index]
            elif callable(value):
                params[key] = value(**{**scope, "key": key, "value": value})
        except Exception:  # an extension's value must not stop the picture from being saved
            log.exception('Error creating infotext for key "%s"', key)
            params[key] = None

    return params, prompt_text, negative_prompt


def create_infotext(p: Any, all_prompts: Sequence[str], all_seeds: Sequence[int], all_subseeds: Sequence[int],
                    comments: Any = None, iteration: int = 0, position_in_batch: int = 0,
                    use_main_prompt: bool = False, index: int | None = None,
                    all_negative_prompts: Sequence[str] | None = None, **context: Any) -> str:
    """The infotext of one picture (A1111's ``processing.create_infotext``).

    ``context`` takes :func:`generation_params`'s keyword arguments (``settings``,
    ``version``, ``fp8``, ``uses_ensd``).
    """
    params, prompt_text, negative_prompt = generation_params(
        p, all_prompts, all_seeds, all_subseeds, comments, iteration, position_in_batch, use_main_prompt, index,
        all_negative_prompts, **context)
    return build_infotext(prompt_text, negative_prompt, params)


__all__ = ["create_infotext", "default_uses_ensd", "format_params", "generation_params", "token_merging_ratios"]
