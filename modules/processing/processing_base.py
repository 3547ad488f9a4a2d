"""``StableDiffusionProcessing``: one generation request, with A1111's field names and defaults.

The subclasses (:mod:`modules.processing.txt2img`, :mod:`modules.processing.img2img`)
prepare their latents in :meth:`init` and run the sampler in :meth:`sample`;
:func:`modules.processing.pipeline.process_images` drives the batches.
Extensions read and write these attributes, so the names are A1111's.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from modules.core.services import Services, current_services
from modules.networks.extra_networks import parse_prompts
from modules.processing.errors import GenerationError  # noqa: F401  (its A1111-era home)
from modules.processing.latents import test_conds_for_nans
from modules.prompting.cond_cache import CondCache, cond_cache_params, conds_with_caching
from modules.prompting.conditioning import learned_conditioning_functions
from modules.prompting.notes import PromptNotes, encode_with_notes
from modules.prompting.sd_conditioning import SdConditioning

log = logging.getLogger(__name__)

OPT_C = 4
"""Latent channels of SD1/SD2/SDXL."""
OPT_F = 8
"""VAE downscale factor."""


@dataclass(repr=False)
class StableDiffusionProcessing:
    """Fields common to txt2img and img2img (SPEC 7.1; API and class defaults, not the UI's)."""

    sd_model: Any = None
    outpath_samples: str | None = None
    outpath_grids: str | None = None
    prompt: Any = ""
    prompt_for_display: str | None = None
    negative_prompt: Any = ""
    styles: list[str] | None = None
    seed: Any = -1
    subseed: Any = -1
    subseed_strength: float = 0
    seed_resize_from_h: int = -1
    seed_resize_from_w: int = -1
    seed_enable_extras: bool = True
    sampler_name: str | None = None
    scheduler: str | None = None
    batch_size: int = 1
    n_iter: int = 1
    steps: int = 50
    cfg_scale: float = 7.0
    distilled_cfg_scale: float = 3.5
    """Forge's "Distilled CFG Scale": the guidance embedding of a guidance-distilled model (Flux dev)."""
    width: int = 512
    height: int = 512
    restore_faces: bool | None = None
    tiling: bool | None = None
    do_not_save_samples: bool = False
    do_not_save_grid: bool = False
    extra_generation_params: dict[str, Any] | None = None
    overlay_images: list | None = None
    eta: float | None = None
    do_not_reload_embeddings: bool = False
    denoising_strength: float | None = None
    ddim_discretize: str | None = None
    s_min_uncond: float | None = None
    s_churn: float | None = None
    s_tmax: float | None = None
    s_tmin: float | None = None
    s_noise: float | None = None
    override_settings: dict[str, Any] | None = None
    override_settings_restore_afterwards: bool = True
    sampler_index: int | None = None
    refiner_checkpoint: str | None = None
    refiner_switch_at: float | None = None
    token_merging_ratio: float = 0
    token_merging_ratio_hr: float = 0
    disable_extra_networks: bool = False
    firstpass_image: Any = None
    scripts: Any = None
    script_args: list | None = None
    comments: dict[str, int] | None = None
    user: str | None = None
    is_api: bool = False
    services: Services | None = None
    """The running app's services (settings, model, state, script runners...); the installed ones when unset,
    so extensions that build a processing object and call ``process_images`` keep working."""

    def __post_init__(self) -> None:
        if self.services is None:
            self.services = current_services()
        if self.sampler_index is not None:
            log.warning("sampler_index argument for StableDiffusionProcessing does not do anything; use sampler_name")
        self.comments = dict(self.comments or {})
        self.styles = list(self.styles or [])
        self.extra_generation_params = dict(self.extra_generation_params or {})
        self.override_settings = dict(self.override_settings or {})
        self.script_args = list(self.script_args or [])
        if self.sd_model is None:
            self.sd_model = self.services.sd_model
        self.s_min_uncond = self.s_min_uncond if self.s_min_uncond is not None else self.opt("s_min_uncond", 0.0)
        self.s_churn = self.s_churn if self.s_churn is not None else self.opt("s_churn", 0.0)
        self.s_tmin = self.s_tmin if self.s_tmin is not None else self.opt("s_tmin", 0.0)
        self.s_tmax = (self.s_tmax if self.s_tmax is not None else self.opt("s_tmax", 0.0)) or float("inf")
        self.s_noise = self.s_noise if self.s_noise is not None else self.opt("s_noise", 1.0)
        if not self.seed_enable_extras:
            self.subseed, self.subseed_strength = -1, 0
            self.seed_resize_from_h = self.seed_resize_from_w = 0

        self.is_using_inpainting_conditioning = False
        self.paste_to = None
        self.color_corrections = None
        self.iteration = 0
        self.batch_index = 0
        self.is_hr_pass = False
        self.sampler = None
        self.sampler_choice = None  # the sampler and schedule type, resolved once when the job starts
        self.hr_sampler_choice = None
        self.refiner_checkpoint_info = None
        self.all_prompts: list[str] = []
        self.all_negative_prompts: list[str] = []
        self.all_seeds: list[int] = []
        self.all_subseeds: list[int] = []
        self.prompts: list[str] = []
        self.negative_prompts: list[str] = []
        self.seeds: list[int] = []
        self.subseeds: list[int] = []
        self.main_prompt: str | None = None
        self.main_negative_prompt: str | None = None
        self.extra_network_data: dict = {}
        self.rng = None
        self.step_multiplier = 1
        self.cached_uc = persistent_cache("uc", self.services.opts)
        self.cached_c = persistent_cache("c", self.services.opts)
        self.prompt_notes = PromptNotes()  # what encoding this job's prompts noted for its infotext
        self.uc = None
        self.c = None
        self.sd_model_name = None
        self.sd_model_hash = None
        self.sd_vae_name = None
        self.sd_vae_hash = None
        self.job_timestamp = ""
        self.task_id: str | None = None
        self.scripts_setup_complete = False

    # --- A1111 surface ---
    def opt(self, key: str, default: Any) -> Any:
        """Setting ``key`` of the job's services, or ``default`` (no settings, or no such setting)."""
        opts = self.services.opts
        return getattr(opts, key, default) if opts is not None else default

    @property
    def sd_model_hash_short(self) -> str | None:
        return self.sd_model_hash

    def comment(self, text: str) -> None:
        """Add a line to the job's comments (shown under the infotext in the UI)."""
        self.comments[text] = 1

    def fill_fields_from_opts(self) -> None:
        """Settings-backed fields left unset take the settings' values now (A1111 does this per job)."""
        self.s_min_uncond = self.s_min_uncond if self.s_min_uncond is not None else self.opt("s_min_uncond", 0.0)

    def setup_prompts(self) -> None:
        """Build ``all_prompts`` / ``all_negative_prompts`` (one per image) with styles applied."""
        count = self.batch_size * self.n_iter
        if isinstance(self.prompt, list):
            self.all_prompts = list(self.prompt)
        else:
            self.all_prompts = count * [self.prompt]
        if isinstance(self.negative_prompt, list):
            self.all_negative_prompts = list(self.negative_prompt)
        else:
            self.all_negative_prompts = len(self.all_prompts) * [self.negative_prompt]
        if len(self.all_prompts) != len(self.all_negative_prompts):
            raise GenerationError(f"Received a different number of prompts ({len(self.all_prompts)}) "
                                  f"and negative prompts ({len(self.all_negative_prompts)})")
        styles = self.services.prompt_styles
        if styles is not None and self.styles:
            self.all_prompts = [styles.apply_styles_to_prompt(x, self.styles) for x in self.all_prompts]
            self.all_negative_prompts = [styles.apply_negative_styles_to_prompt(x, self.styles)
                                         for x in self.all_negative_prompts]
        self.main_prompt = self.all_prompts[0]
        self.main_negative_prompt = self.all_negative_prompts[0]

    def get_token_merging_ratio(self, for_hr: bool = False) -> float:
        if for_hr:
            return self.token_merging_ratio_hr or self.opt("token_merging_ratio_hr", 0.0) or self.get_token_merging_ratio()
        return self.token_merging_ratio or self.opt("token_merging_ratio", 0.0)

    def cached_params(self, required_prompts: list[str], steps: int, extra_network_data: Any,
                      hires_steps: int | None = None, use_old_scheduling: bool = False) -> tuple:
        """What invalidates cached conds (prompts, steps, clip skip, checkpoint, networks, SDXL sizes...)."""
        info = getattr(self.sd_model, "sd_checkpoint_info", None)
        return cond_cache_params(
            required_prompts, steps, hires_steps, use_old_scheduling,
            clip_skip=self.opt("CLIP_stop_at_last_layers", 1), checkpoint=info, extra_network_data=extra_network_data,
            sdxl_crop_left=self.opt("sdxl_crop_left", 0), sdxl_crop_top=self.opt("sdxl_crop_top", 0),
            width=self.width, height=self.height, fp8_storage=self.opt("fp8_storage", "Disable"),
            cache_fp16_weight=self.opt("cache_fp16_weight", False), emphasis=self.opt("emphasis", "Original"))

    def get_conds_with_caching(self, function: Any, required_prompts: list[str], steps: int, caches: list,
                               extra_network_data: Any, hires_steps: int | None = None) -> Any:
        """Compute conds with ``function(model, prompts, steps, hires_steps, use_old_scheduling)``, reusing caches.

        What encoding notes for the infotext (``TI hashes``, ``Emphasis``, comments) is added to
        ``self.prompt_notes``; conds taken from a cache note nothing, as in A1111.
        """
        use_old = self.opt("use_old_scheduling", False)
        params = self.cached_params(required_prompts, steps, extra_network_data, hires_steps, use_old)
        check = not getattr(self.services.cmd_opts, "disable_nan_check", False)

        def compute() -> Any:
            encoding = encode_with_notes(lambda: function(self.sd_model, required_prompts, steps, hires_steps, use_old))
            if check:
                # checked before it is cached (a NaN cond must not be reused by the next job), and here
                # rather than later: a NaN from the text encoder would only show up as a "NaN in Unet"
                test_conds_for_nans(encoding.conds)
            self.prompt_notes.add(encoding.notes)
            return encoding.conds

        return conds_with_caching(compute, params, caches)

    def setup_conds(self) -> None:
        """Compute ``self.uc`` and ``self.c`` for the current batch's prompts."""
        learned, multicond = learned_conditioning_functions()
        negative = SdConditioning(self.negative_prompts, is_negative_prompt=True, width=self.width, height=self.height)
        positive = SdConditioning(self.prompts, width=self.width, height=self.height)
        total_steps = self.steps * self.step_multiplier
        self.uc = self.get_conds_with_caching(learned, negative, total_steps, [self.cached_uc], self.extra_network_data)
        self.c = self.get_conds_with_caching(multicond, positive, total_steps, [self.cached_c], self.extra_network_data)
        if getattr(self.sd_model, "use_distilled_cfg_scale", False):
            # not part of the cached conds (Forge puts it in them): a new scale must not need a new encoding
            self.sd_model.distilled_cfg_scale = float(self.distilled_cfg_scale)

    def get_conds(self) -> tuple[Any, Any]:
        return self.c, self.uc

    def parse_extra_network_prompts(self) -> None:
        """Strip ``<lora:...>`` tags from the batch's prompts; the networks come from the first one."""
        self.prompts, self.extra_network_data = parse_prompts(self.prompts)

    def save_samples(self) -> bool:
        """Whether pictures are saved: setting ``samples_save``, not ``do_not_save_samples``, and the job not
        interrupted or skipped unless setting ``save_incomplete_images``."""
        state = self.services.state
        stopped = state is not None and (state.interrupted or state.skipped)
        return bool(self.opt("samples_save", True) and not self.do_not_save_samples
                    and (self.opt("save_incomplete_images", False) or not stopped))

    def init(self, all_prompts: list[str], all_seeds: list[int], all_subseeds: list[int]) -> None:
        """Prepare what every batch needs (init latents, hires sizes)."""

    def sample(self, conditioning: Any, unconditional_conditioning: Any, seeds: list[int], subseeds: list[int],
               subseed_strength: float, prompts: list[str]) -> Any:
        """Run the sampler for one batch; returns latents (or decoded images with ``already_decoded``)."""
        raise NotImplementedError

    def close(self) -> None:
        self.sampler = None
        self.c = None
        self.uc = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.width}x{self.height} steps={self.steps} sampler={self.sampler_name}>"


_PERSISTENT_CACHES: dict[str, CondCache] = {}
"""Cond caches kept across jobs (A1111 keeps them as class attributes)."""


def persistent_cache(kind: str, settings: Any = None) -> CondCache:
    """The cache for one kind of cond (``c``, ``uc``, ``hr_c``, ``hr_uc``): shared across jobs with setting
    ``persistent_cond_cache`` (the default; ``settings`` default: the installed services' options), a fresh
    one per job otherwise."""
    if settings is None:
        settings = current_services().opts
    if not getattr(settings, "persistent_cond_cache", True):
        return CondCache()
    return _PERSISTENT_CACHES.setdefault(kind, CondCache())
