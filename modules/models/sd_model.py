"""The loaded model objects: LDM ``LatentDiffusion`` (SD1/SD2) and SGM ``DiffusionEngine`` (SDXL).

Their top-level attributes are the checkpoint prefixes (``model.diffusion_model``,
``first_stage_model``, ``cond_stage_model`` or ``conditioner``) and they offer
the calls A1111 code and extensions make on ``shared.sd_model``:
``apply_model``, ``get_learned_conditioning``, ``encode_first_stage``,
``get_first_stage_encoding``, ``decode_first_stage`` and ``alphas_cumprod``.
"""
from __future__ import annotations

import math

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from modules.models.nets.autoencoder import AutoencoderKL, DiagonalGaussian
from modules.models.nets.unet import UNetModel
from modules.models.schedule import make_alphas_cumprod


class DiffusionWrapper(nn.Module):
    """Holds the UNet at ``model.diffusion_model`` (the checkpoint path)."""

    def __init__(self, diffusion_model: UNetModel) -> None:
        super().__init__()
        self.diffusion_model = diffusion_model


class TextConditioningHooks(Protocol):
    """What the prompting layer attaches as ``model.text_conditioning`` (A1111 reads these from settings).

    The text path itself is plugged into each text embedder (``prompt_encoder``);
    these are the SDXL size/score defaults :meth:`DiffusionEngine.get_learned_conditioning`
    uses when the caller gives none.
    """

    def sdxl_crop(self) -> tuple[int, int]:
        """``(crop_top, crop_left)``: settings ``sdxl_crop_top`` / ``sdxl_crop_left``."""
        ...

    def sdxl_aesthetic_score(self, is_negative_prompt: bool) -> float:
        """Refiner score: ``sdxl_refiner_low_aesthetic_score`` for negatives, else ``..._high_...``."""
        ...


def _as_list(value: Any) -> list[torch.Tensor]:
    if value is None:
        return []
    if isinstance(value, torch.Tensor):
        return [value]
    return list(value)


class StableDiffusionBase(nn.Module):
    """What every family shares: the VAE, the schedule, the model-type flags."""

    is_sdxl = False
    is_sd2 = False
    is_sd1 = False
    is_ssd = False
    is_sd3 = False
    latent_channels = 4
    text_conditioning: TextConditioningHooks | None = None
    """Set by the prompting layer when the model is attached to the web UI; None for a bare model."""

    def __init__(self, unet: UNetModel, first_stage: AutoencoderKL, scale_factor: float,
                 parameterization: str = "eps", linear_start: float = 0.00085, linear_end: float = 0.012,
                 timesteps: int = 1000) -> None:
        super().__init__()
        if parameterization not in ("eps", "v"):
            raise ValueError(f"unknown parameterization {parameterization!r}")
        if not math.isfinite(scale_factor) or scale_factor == 0:
            # latents are divided by it before every VAE decode: 0 would make every picture inf/NaN
            raise ValueError(f"the model config's scale_factor must be a non-zero number, got {scale_factor}")
        self.model = DiffusionWrapper(unet)
        self.first_stage_model = first_stage
        self.scale_factor = scale_factor
        self.parameterization = parameterization
        self.schedule = dict(linear_start=linear_start, linear_end=linear_end, timesteps=timesteps)
        self._alphas_cumprod: torch.Tensor | None = None
        self.config_path: str | None = None
        self.family: str = ""

    # alphas_cumprod lives outside the module's buffers so that .half()/.to(dtype)
    # can never downcast it: samplers need it in fp32 (A1111 keeps an fp32 copy too).
    @property
    def alphas_cumprod(self) -> torch.Tensor:
        if self._alphas_cumprod is None:
            self._alphas_cumprod = make_alphas_cumprod(**self.schedule)
        device = self.device
        if self._alphas_cumprod.device != device:
            self._alphas_cumprod = self._alphas_cumprod.to(device)
        return self._alphas_cumprod

    @alphas_cumprod.setter
    def alphas_cumprod(self, value: torch.Tensor) -> None:
        self._alphas_cumprod = value.detach().to(torch.float32)

    @property
    def device(self) -> torch.device:
        return self.model.diffusion_model.time_embed[0].weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.diffusion_model.dtype

    @property
    def is_sdxl_inpaint(self) -> bool:
        return self.is_sdxl and self.model.diffusion_model.in_channels == 9

    def decode_first_stage(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (scaled) -> image in [-1, 1], in the VAE's dtype."""
        return self.first_stage_model.decode(z / self.scale_factor)

    def _unet(self, x: torch.Tensor, t: torch.Tensor, concat: list[torch.Tensor], context: torch.Tensor | None,
              y: torch.Tensor | None = None) -> torch.Tensor:
        if concat:
            x = torch.cat([x, *[c.to(x.dtype) for c in concat]], dim=1)
        return self.model.diffusion_model(x, t, context=context, y=y)


class LatentDiffusion(StableDiffusionBase):
    """SD1 / SD2 (and their inpainting and instruct-pix2pix variants): ``cond_stage_model`` text encoder."""

    def __init__(self, unet: UNetModel, first_stage: AutoencoderKL, cond_stage: nn.Module, scale_factor: float,
                 conditioning_key: str = "crossattn", cond_stage_key: str = "txt", **kwargs: Any) -> None:
        super().__init__(unet, first_stage, scale_factor, **kwargs)
        if conditioning_key not in ("crossattn", "hybrid", "crossattn-adm"):
            raise ValueError(f"unsupported conditioning_key {conditioning_key!r}")
        self.cond_stage_model = cond_stage
        self.conditioning_key = conditioning_key
        # "edit" marks InstructPix2Pix: its c_concat is the unscaled VAE mode of the picture being edited
        self.cond_stage_key = cond_stage_key
        # OpenCLIP towers (SD2) hold their network at .model; CLIP-L (SD1) at .transformer.
        self.is_sd2 = hasattr(cond_stage, "model")
        self.is_sd1 = not self.is_sd2

    def get_learned_conditioning(self, texts: Sequence[str], clip_skip: int | None = None) -> torch.Tensor:
        """Prompts -> cross-attention context ``[batch, 77 * chunks, width]``.

        Plain 75-token chunks on a bare model; A1111's full path (emphasis,
        textual inversion, settings' clip skip) once the prompting layer set the
        text encoder's ``prompt_encoder``.  ``clip_skip`` None = family default
        or the setting.
        """
        return self.cond_stage_model(list(texts), clip_skip)

    def encode_first_stage(self, x: torch.Tensor) -> DiagonalGaussian:
        """Image in [-1, 1] -> posterior; pass it to :meth:`get_first_stage_encoding`."""
        return self.first_stage_model.encode(x)

    def get_first_stage_encoding(self, encoded: DiagonalGaussian | torch.Tensor,
                                 generator: torch.Generator | None = None) -> torch.Tensor:
        z = encoded.sample(generator) if isinstance(encoded, DiagonalGaussian) else encoded
        return z * self.scale_factor

    def apply_model(self, x: torch.Tensor, t: torch.Tensor, cond: Any) -> torch.Tensor:
        """One UNet call.  ``cond`` is a context tensor or ``{"c_crossattn": [...], "c_concat": [...]}``.

        Returns the raw network output (eps or v, see ``parameterization``).
        """
        if isinstance(cond, Mapping):
            crossattn = _as_list(cond.get("c_crossattn"))
            # A1111 passes a dummy c_concat to every model; only hybrid (inpaint/edit) models read it.
            concat = _as_list(cond.get("c_concat")) if self.conditioning_key == "hybrid" else []
        else:
            crossattn, concat = _as_list(cond), []
        if self.conditioning_key == "hybrid" and not concat:
            raise ValueError("this model (inpainting / edit) needs c_concat image conditioning")
        context = torch.cat(crossattn, dim=1) if crossattn else None
        adm = None
        if self.conditioning_key == "crossattn-adm":
            # unCLIP: the (noised) CLIP image embedding and its noise-level embedding, as the UNet's y
            adm = cond.get("c_adm") if isinstance(cond, Mapping) else None
            if adm is None:
                raise ValueError("this model (unCLIP) needs c_adm image-embedding conditioning")
            adm = adm.to(x.dtype)
        return self._unet(x, t, concat, context, adm)


class DiffusionEngine(StableDiffusionBase):
    """SDXL base / refiner / inpaint: ``conditioner`` produces ``crossattn`` and the ``vector``."""

    is_sdxl = True

    def __init__(self, unet: UNetModel, first_stage: AutoencoderKL, conditioner: nn.Module,
                 scale_factor: float, **kwargs: Any) -> None:
        super().__init__(unet, first_stage, scale_factor, **kwargs)
        self.conditioner = conditioner

    @property
    def is_refiner(self) -> bool:
        return any(getattr(e, "input_key", None) == "aesthetic_score" for e in self.conditioner.embedders)

    def get_learned_conditioning(self, texts: Sequence[str], width: int | None = None, height: int | None = None,
                                 crop_top: int | None = None, crop_left: int | None = None,
                                 is_negative_prompt: bool | None = None,
                                 aesthetic_score: float | None = None) -> dict[str, torch.Tensor]:
        """Prompts -> ``{"crossattn", "vector"}``.

        Like A1111, sizes default to the batch's ``width``/``height`` attributes
        (an ``SdConditioning`` list carries them, 1024 when unset), an all-empty
        negative prompt gives zero text embeddings, and the refiner's aesthetic
        score is 6.0 for prompts and 2.5 for negative prompts.  With
        ``text_conditioning`` attached, crops and scores not given come from it
        (the settings), as in A1111.
        """
        width = width or getattr(texts, "width", None) or 1024
        height = height or getattr(texts, "height", None) or 1024
        if is_negative_prompt is None:
            is_negative_prompt = bool(getattr(texts, "is_negative_prompt", False))
        hooks = self.text_conditioning
        if crop_top is None or crop_left is None:
            top, left = hooks.sdxl_crop() if hooks is not None else (0, 0)
            crop_top = top if crop_top is None else crop_top
            crop_left = left if crop_left is None else crop_left
        if aesthetic_score is None:
            if hooks is not None:
                aesthetic_score = hooks.sdxl_aesthetic_score(is_negative_prompt)
            else:
                aesthetic_score = 2.5 if is_negative_prompt else 6.0
        n = len(texts)
        device = self.device

        def pairs(a: float, b: float) -> torch.Tensor:
            return torch.tensor([[a, b]], device=device, dtype=torch.float32).repeat(n, 1)

        batch = {
            "txt": list(texts),
            "original_size_as_tuple": pairs(height, width),
            "crop_coords_top_left": pairs(crop_top, crop_left),
            "target_size_as_tuple": pairs(height, width),
            "aesthetic_score": torch.full((n, 1), float(aesthetic_score), device=device),
        }
        zero = ["txt"] if is_negative_prompt and all(t == "" for t in texts) else []
        return self.conditioner(batch, force_zero_embeddings=zero)

    def encode_first_stage(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Image in [-1, 1] -> scaled latents (SGM samples and scales in one call)."""
        return self.first_stage_model.encode(x).sample(generator) * self.scale_factor

    def get_first_stage_encoding(self, encoded: torch.Tensor) -> torch.Tensor:
        return encoded

    def apply_model(self, x: torch.Tensor, t: torch.Tensor, cond: Mapping[str, Any]) -> torch.Tensor:
        """One UNet call; ``cond`` has ``crossattn``, ``vector`` and, for inpainting, ``c_concat``."""
        concat = _as_list(cond.get("c_concat")) if self.model.diffusion_model.in_channels != 4 else []
        return self._unet(x, t, concat, cond["crossattn"], cond["vector"])
