"""Classifier-free guidance around a denoiser: Ho & Salimans (2022), "Classifier-Free Diffusion Guidance",
arXiv:2207.12598, with composable prompts (Liu et al. 2022, "Compositional Visual Generation with Composable
Diffusion Models", arXiv:2206.01714) and InstructPix2Pix's image guidance (Brooks et al. 2023, arXiv:2211.09800).

One call builds the batch [cond copies of image 0 (one per AND sub-prompt), ..., cond copies of image B-1,
uncond of each image], runs the inner denoiser (once, or in slices), and combines
``uncond + sum_k w_k * scale * (cond_k - uncond)`` per image. Around that sit A1111's hooks: interrupt/skip, the
refiner switch, the ``cfg_denoiser`` / ``cfg_denoised`` / ``cfg_after_cfg`` callbacks, skipping the uncond pass
(Skip Early CFG, NGMS), token-length padding, the inpainting mask blend and the live-preview latent.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch
from torch import nn

from modules.sampling.cfg_params import AfterCFGCallbackParams, CFGDenoisedParams, CFGDenoiserParams, MaskBlendArgs
from modules.sampling.cond_ops import (catenate_conds, cond_rows, cond_tokens, pad_cond_uncond, pad_cond_uncond_v0,
                                       subscript_cond)
from modules.sampling.environment import InterruptedException, SamplingEnv
from modules.sampling.settings import setting


@dataclasses.dataclass
class _Batch:
    """One denoiser call's batch: the rows given to the inner denoiser and what combining them needs."""

    conds_list: list
    """Per image, its ``(cond row, weight)`` pairs (one per AND sub-prompt)."""
    x_in: torch.Tensor
    sigma_in: torch.Tensor
    image_cond_in: Any
    tensor: Any
    """The conds of all rows (tensor, or SDXL dict)."""
    uncond: Any
    is_edit_model: bool
    make_condition_dict: Callable[[Any, Any], dict]
    skip_uncond: bool = False

    @property
    def batch_size(self) -> int:
        return len(self.conds_list)


class CFGDenoiser(nn.Module):
    """``forward(x, sigma, uncond, cond, cond_scale, s_min_uncond, image_cond)`` -> guided prediction.

    Subclasses choose the inner denoiser (:meth:`make_inner_model`) and how a UNet output maps to a predicted x0
    (:meth:`get_pred_x0`). ``sampler`` is the owning sampler object: the denoiser writes its ``last_latent`` and
    reads ``sampler_extra_args`` after a refiner switch.
    """

    def __init__(self, sampler: Any, sd_model: Any, env: SamplingEnv | None = None) -> None:
        super().__init__()
        self.sampler = sampler
        self.sd_model = sd_model
        self.env = env if env is not None else SamplingEnv()
        self.model_wrap: nn.Module | None = None
        self.mask = None
        self.nmask = None
        self.init_latent = None
        self.steps: int | None = None
        """Number of steps as specified by the user."""
        self.total_steps: int | None = None
        """Expected number of denoiser calls: ``steps``, doubled for second-order samplers."""
        self.step = 0
        self.image_cfg_scale: float | None = None
        self.padded_cond_uncond = False
        self.padded_cond_uncond_v0 = False
        self.p: Any = None
        self.cond_scale_miltiplier = 1.0  # (sic) A1111's attribute name, set by DDIM CFG++
        self.need_last_noise_uncond = False
        self.last_noise_uncond: torch.Tensor | None = None
        # Blending before the denoiser call suits timestep samplers; for k-diffusion it over-smooths, as the
        # original latents carry no noise, so they blend the prediction afterwards.
        self.mask_before_denoising = False

    # -- pieces the subclasses provide -------------------------------------------------------------------------

    def make_inner_model(self) -> nn.Module:
        raise NotImplementedError

    def get_pred_x0(self, x_in: torch.Tensor, x_out: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The predicted clean latent for the inner model's output (k-diffusion denoisers already give x0)."""
        return x_out

    @property
    def inner_model(self) -> nn.Module:
        if self.model_wrap is None:
            self.model_wrap = self.make_inner_model()
        return self.model_wrap

    def update_inner_model(self, sd_model: Any = None) -> None:
        """After a model switch (refiner): rebuild the inner denoiser and take fresh conds from ``p.get_conds()``."""
        if sd_model is not None:
            self.sd_model = sd_model
        self.model_wrap = None
        if self.p is not None and hasattr(self.p, "get_conds"):
            c, uc = self.p.get_conds()
            self.sampler.sampler_extra_args["cond"] = c
            self.sampler.sampler_extra_args["uncond"] = uc

    # -- combination ---------------------------------------------------------------------------------------------

    def combine_denoised(self, x_out: torch.Tensor, conds_list: list, uncond: Any, cond_scale: float) -> torch.Tensor:
        """uncond + sum over each image's sub-prompts of weight * cond_scale * (cond_k - uncond)."""
        uncond_rows = cond_rows(uncond)
        denoised_uncond = x_out[-uncond_rows:]
        denoised = torch.clone(denoised_uncond)
        for i, conds in enumerate(conds_list):
            for cond_index, weight in conds:
                denoised[i] += (x_out[cond_index] - denoised_uncond[i]) * (weight * cond_scale)
        return denoised

    def combine_denoised_for_edit_model(self, x_out: torch.Tensor, cond_scale: float) -> torch.Tensor:
        """InstructPix2Pix (Brooks et al. 2023, eq. 3): uncond + s_T (cond - image) + s_I (image - uncond)."""
        out_cond, out_img_cond, out_uncond = x_out.chunk(3)
        return out_uncond + cond_scale * (out_cond - out_img_cond) + self.image_cfg_scale * (out_img_cond - out_uncond)

    # -- the call ------------------------------------------------------------------------------------------------

    def _apply_blend(self, current_latent: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Keep the unmasked area from the original: ``current * nmask + init_latent * mask`` (scripts may change
        the result through ``on_mask_blend``)."""
        blended = current_latent * self.nmask + self.init_latent * self.mask
        scripts = getattr(self.p, "scripts", None)
        if scripts is not None:
            mba = MaskBlendArgs(current_latent, self.nmask, self.init_latent, self.mask, blended, denoiser=self,
                                sigma=sigma)
            scripts.on_mask_blend(self.p, mba)
            blended = mba.blended_latent
        return blended

    def _condition_maker(self, uncond: Any, image_cond: Any):
        """How text and image conditioning are put into the ``cond`` dict of ``apply_model``."""
        conditioning_key = getattr(self.sd_model, "conditioning_key", None) or \
            getattr(getattr(self.sd_model, "model", None), "conditioning_key", None)
        if conditioning_key == "crossattn-adm" and image_cond is not None:
            # unCLIP: the image embedding goes in c_adm; the uncond branch gets zeros
            return torch.zeros_like(image_cond), lambda c, adm: {"c_crossattn": [c], "c_adm": adm}
        if isinstance(uncond, dict):
            def make(c, concat):
                return {**c, "c_concat": [concat]} if concat is not None else dict(c)
        else:
            def make(c, concat):
                return {"c_crossattn": [c], "c_concat": [concat]} if concat is not None else {"c_crossattn": [c]}
        return image_cond, make

    def _note(self, key: str, value: Any) -> None:
        params = getattr(self.p, "extra_generation_params", None)
        if params is not None:
            params[key] = value

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, uncond: Any, cond: Any, cond_scale: float,
                s_min_uncond: float, image_cond: Any) -> torch.Tensor:
        """One guided denoiser call: prepare the batch, run the inner denoiser on it, combine the outputs."""
        env = self.env
        if env.state.interrupted or env.state.skipped:
            raise InterruptedException

        if env.refiner_switch is not None and env.refiner_switch(self, sigma):
            cond = self.sampler.sampler_extra_args["cond"]
            uncond = self.sampler.sampler_extra_args["uncond"]

        batch = self._prepare_batch(x, sigma, uncond, cond, image_cond)
        self._skip_uncond_pass(batch, sigma, s_min_uncond)
        self._pad_conds(batch)
        x_out = self._run_inner(batch)
        denoised = self._combine(batch, x_out, sigma, cond_scale)
        self.step += 1
        return denoised

    # -- prepare: the batch of cond and uncond rows ----------------------------------------------------------------

    def _prepare_batch(self, x: torch.Tensor, sigma: torch.Tensor, uncond: Any, cond: Any, image_cond: Any) -> _Batch:
        """The step's conds, and the batch [cond copies of each image ..., uncond of each image (, image-only
        branch of an edit model)] as the ``cfg_denoiser`` callbacks leave it."""
        env = self.env
        # at image_cfg_scale 1 an edit model's three-branch guidance equals plain CFG, which also allows AND
        is_edit_model = (getattr(self.sd_model, "cond_stage_key", None) == "edit"
                         and self.image_cfg_scale is not None and self.image_cfg_scale != 1.0)

        conds_list, tensor = env.reconstruct_multicond_batch(cond, self.step)
        uncond = env.reconstruct_cond_batch(uncond, self.step)
        if is_edit_model and not all(len(conds) == 1 for conds in conds_list):
            raise ValueError("AND is not supported for InstructPix2Pix checkpoint (unless using Image CFG scale = 1.0)")

        if self.mask_before_denoising and self.mask is not None:
            x = self._apply_blend(x, sigma)

        batch_size = len(conds_list)
        # row i of the batch repeated once per AND sub-prompt of image i (an index, to avoid a device sync)
        rows = [i for i, conds in enumerate(conds_list) for _ in conds]
        index = None if rows == list(range(batch_size)) else torch.tensor(rows, device=x.device)
        image_uncond, make_condition_dict = self._condition_maker(uncond, image_cond)

        def cond_copies(t: torch.Tensor) -> torch.Tensor:
            return t if index is None else t.index_select(0, index.to(t.device))

        x_in = torch.cat([cond_copies(x), x] + ([x] if is_edit_model else []))
        sigma_in = torch.cat([cond_copies(sigma), sigma] + ([sigma] if is_edit_model else []))
        image_cond_in = None
        if image_cond is not None:
            extra = [torch.zeros_like(self.init_latent)] if is_edit_model else []
            image_cond_in = torch.cat([cond_copies(image_cond), image_uncond] + extra)

        params = CFGDenoiserParams(x_in, image_cond_in, sigma_in, env.state.sampling_step, env.state.sampling_steps,
                                   tensor, uncond, self)
        env.emit(env.cfg_denoiser_callbacks, params)
        return _Batch(conds_list=conds_list, x_in=params.x, sigma_in=params.sigma, image_cond_in=params.image_cond,
                      tensor=params.text_cond, uncond=params.text_uncond, is_edit_model=is_edit_model,
                      make_condition_dict=make_condition_dict)

    def _skip_uncond_pass(self, batch: _Batch, sigma: torch.Tensor, s_min_uncond: float) -> None:
        """Leave the uncond rows out of this step (Skip Early CFG at the start; NGMS below ``s_min_uncond``)."""
        opts = self.env.opts
        skip_early_cond = setting(opts, "skip_early_cond")
        s_min_uncond_all = setting(opts, "s_min_uncond_all")
        if (skip_early_cond != 0 and self.total_steps and not batch.is_edit_model
                and self.step / self.total_steps <= skip_early_cond):
            batch.skip_uncond = True
            self._note("Skip Early CFG", skip_early_cond)
        elif ((self.step % 2 or s_min_uncond_all) and s_min_uncond > 0 and sigma[0] < s_min_uncond
              and not batch.is_edit_model):
            # alternating the uncond pass allows higher thresholds without the usual quality loss
            batch.skip_uncond = True
            self._note("NGMS", s_min_uncond)
            if s_min_uncond_all:
                self._note("NGMS all steps", s_min_uncond_all)
        if batch.skip_uncond:
            batch.x_in = batch.x_in[:-batch.batch_size]
            batch.sigma_in = batch.sigma_in[:-batch.batch_size]
            if batch.image_cond_in is not None:
                batch.image_cond_in = batch.image_cond_in[:-batch.batch_size]

    def _pad_conds(self, batch: _Batch) -> None:
        """Prompt and negative prompt of different token lengths padded to one length when a setting asks."""
        self.padded_cond_uncond = False
        self.padded_cond_uncond_v0 = False
        if cond_tokens(batch.tensor) == cond_tokens(batch.uncond):
            return
        empty = getattr(self.sd_model, "cond_stage_model_empty_prompt", None)
        if setting(self.env.opts, "pad_cond_uncond_v0"):
            batch.tensor, batch.uncond = pad_cond_uncond_v0(batch.tensor, batch.uncond)
            self.padded_cond_uncond_v0 = True
        elif setting(self.env.opts, "pad_cond_uncond") and empty is not None:
            batch.tensor, batch.uncond = pad_cond_uncond(batch.tensor, batch.uncond, empty)
            self.padded_cond_uncond = True

    # -- batch: the inner denoiser calls -------------------------------------------------------------------------

    def _run_inner(self, batch: _Batch) -> torch.Tensor:
        """The UNet calls: one batch (``batch_cond_uncond``), slices of ``batch_size``, or, when prompt and negative
        prompt have different token lengths, the conds and the unconds separately."""
        inner = self.inner_model
        x_in, sigma_in, image_cond_in = batch.x_in, batch.sigma_in, batch.image_cond_in
        tensor, uncond, batch_size = batch.tensor, batch.uncond, batch.batch_size
        make_condition_dict = batch.make_condition_dict
        opts = self.env.opts

        def image_rows(a: int, b: int):
            return None if image_cond_in is None else image_cond_in[a:b]

        if cond_tokens(tensor) == cond_tokens(uncond) or batch.skip_uncond:
            if batch.is_edit_model:
                cond_in = catenate_conds([tensor, uncond, uncond])
            elif batch.skip_uncond:
                cond_in = tensor
            else:
                cond_in = catenate_conds([tensor, uncond])
            if setting(opts, "batch_cond_uncond"):
                return inner(x_in, sigma_in, cond=make_condition_dict(cond_in, image_cond_in))
            x_out = torch.zeros_like(x_in)
            for a in range(0, x_out.shape[0], batch_size):
                b = a + batch_size
                x_out[a:b] = inner(x_in[a:b], sigma_in[a:b],
                                   cond=make_condition_dict(subscript_cond(cond_in, a, b), image_rows(a, b)))
            return x_out

        x_out = torch.zeros_like(x_in)
        cond_count = cond_rows(tensor)
        step = batch_size * 2 if setting(opts, "batch_cond_uncond") else batch_size
        for a in range(0, cond_count, step):
            b = min(a + step, cond_count)
            x_out[a:b] = inner(x_in[a:b], sigma_in[a:b],
                               cond=make_condition_dict(subscript_cond(tensor, a, b), image_rows(a, b)))
        # the rows after the conds: the uncond branch (and the edit model's image-only branch, also text-uncond)
        rest = x_in.shape[0] - cond_count
        rest_cond = catenate_conds([uncond] * (rest // cond_rows(uncond)))
        x_out[cond_count:] = inner(x_in[cond_count:], sigma_in[cond_count:],
                                   cond=make_condition_dict(rest_cond, image_rows(cond_count, x_in.shape[0])))
        return x_out

    # -- combine: the guided prediction --------------------------------------------------------------------------

    def _combine(self, batch: _Batch, x_out: torch.Tensor, sigma: torch.Tensor, cond_scale: float) -> torch.Tensor:
        """The guided prediction from the inner outputs, with the ``cfg_denoised`` / ``cfg_after_cfg`` callbacks,
        the NaN check, the mask blend and the live-preview latent."""
        env = self.env
        state = env.state
        denoised_image_indexes = [conds[0][0] for conds in batch.conds_list]
        if batch.skip_uncond:
            # the uncond pass was skipped: its place is taken by each image's first cond output (CFG 1 below)
            fake_uncond = torch.cat([x_out[i:i + 1] for i in denoised_image_indexes])
            x_out = torch.cat([x_out, fake_uncond])

        env.emit(env.cfg_denoised_callbacks,
                 CFGDenoisedParams(x_out, state.sampling_step, state.sampling_steps, self.inner_model))
        if env.nan_check is not None:
            env.nan_check(x_out, "unet")

        uncond_rows = cond_rows(batch.uncond)
        if self.need_last_noise_uncond:
            self.last_noise_uncond = torch.clone(x_out[-uncond_rows:])

        if batch.is_edit_model:
            denoised = self.combine_denoised_for_edit_model(x_out, cond_scale * self.cond_scale_miltiplier)
        elif batch.skip_uncond:
            denoised = self.combine_denoised(x_out, batch.conds_list, batch.uncond, 1.0)
        else:
            denoised = self.combine_denoised(x_out, batch.conds_list, batch.uncond,
                                             cond_scale * self.cond_scale_miltiplier)

        if not self.mask_before_denoising and self.mask is not None:
            denoised = self._apply_blend(denoised, sigma)

        self._store_latents(batch, x_out, denoised, denoised_image_indexes, uncond_rows, sigma)

        after_params = AfterCFGCallbackParams(denoised, state.sampling_step, state.sampling_steps)
        env.emit(env.cfg_after_cfg_callbacks, after_params)
        return after_params.x

    def _store_latents(self, batch: _Batch, x_out: torch.Tensor, denoised: torch.Tensor,
                       denoised_image_indexes: list[int], uncond_rows: int, sigma: torch.Tensor) -> None:
        """The sampler's ``last_latent`` (each image's predicted x0) and the live preview setting
        ``live_preview_content`` asks for."""
        x_in = batch.x_in
        cond_x_in = torch.cat([x_in[i:i + 1] for i in denoised_image_indexes])
        cond_x_out = torch.cat([x_out[i:i + 1] for i in denoised_image_indexes])
        self.sampler.last_latent = self.get_pred_x0(cond_x_in, cond_x_out, sigma)
        if self.env.store_latent is None:
            return
        content = setting(self.env.opts, "live_preview_content")
        if content == "Prompt":
            preview = self.sampler.last_latent
        elif content == "Negative prompt":
            preview = self.get_pred_x0(x_in[-uncond_rows:], x_out[-uncond_rows:], sigma)
        else:
            preview = self.get_pred_x0(cond_x_in, torch.cat([denoised[i:i + 1] for i in denoised_image_indexes]),
                                       sigma)
        self.env.store_latent(preview)
