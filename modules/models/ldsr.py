"""The LDSR upscaler's model: CompVis' latent-diffusion 4x super-resolution (``bsr_sr``), and how A1111 runs it.

The files are A1111's: ``model.ckpt`` (or ``model.safetensors``) and its
``project.yaml`` in ``models/LDSR``.  The network is an LDM ``LatentDiffusion``
whose UNet (pixel attention, no text) sees the noisy latent concatenated with
the low-resolution picture, over an f4 vector-quantised autoencoder.

:func:`super_resolution` follows A1111's ``LDSR.super_resolution``: downscale
the input by ``scale / 4`` (Lanczos), pad to a multiple of 64 (at least 128)
with edge pixels, sample with DDIM (eta 1) for ``ldsr_steps`` steps with
LDM's patch-wise UNet (128-pixel latent windows every 64, blended by LDM's
border weighting), decode patch-wise with quantisation, crop the padding away.
A1111 always takes the patch path: the padded input is at least 128 pixels, so
its 4x-upscaled copy passes LDM's ``>= 128`` test.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from modules.models.checkpoint_io import CheckpointError, read_checkpoint
from modules.models.config_registry import ConfigError, build_unet
from modules.models.model_config import read_config
from modules.models.nets.unet import UNetModel
from modules.models.nets.vq import VQModel
from modules.models.schedule import make_alphas_cumprod
from modules.models.state_dict_fixups import unwrap_state_dict

MODEL_TARGETS = frozenset({"ldm.models.diffusion.ddpm.LatentDiffusion", "ldm.models.diffusion.ddpm.LatentDiffusionV1"})
"""``project.yaml``'s ``model.target`` (A1111 rewrites it to its ``LatentDiffusionV1`` copy: the same class)."""
VQ_TARGETS = frozenset({"ldm.models.autoencoder.VQModelInterface", "ldm.models.autoencoder.VQModel"})
UPSCALE = 4
"""A1111's LDSR is a fixed 4x model: the input is enlarged 4 times, the first stage is f4."""
PATCH = 128
PATCH_STRIDE = 64
WEIGHT_CLIP = (0.01, 0.5)
"""LDM's ``split_input_params`` as A1111 sets them (kernel, stride, clip_min_weight / clip_max_weight)."""

_USED = {"linear_start", "linear_end", "timesteps", "scale_factor", "parameterization", "conditioning_key",
         "concat_mode", "unet_config", "first_stage_config", "cond_stage_config", "use_ema"}
_IGNORED = frozenset({"log_every_t", "loss_type", "first_stage_key", "cond_stage_key", "image_size", "channels",
                      "cond_stage_trainable", "monitor", "scheduler_config", "ckpt_path", "ignore_keys",
                      "num_timesteps_cond", "beta_schedule", "original_elbo_weight", "l_simple_weight",
                      "v_posterior", "clip_denoised", "learn_logvar", "logvar_init", "cond_stage_forward"})
_VQ_USED = {"embed_dim", "n_embed", "ddconfig"}
_VQ_IGNORED = frozenset({"monitor", "lossconfig", "ckpt_path", "ignore_keys", "image_key", "colorize_nlabels",
                         "remap", "sane_index_shape", "batch_resize_range", "scheduler_config", "lr_g_factor"})
_DD_USED = {"double_z", "z_channels", "in_channels", "out_ch", "ch", "ch_mult", "num_res_blocks", "attn_resolutions"}
_DD_IGNORED = frozenset({"resolution", "dropout", "attn_type"})


class LdsrModel(nn.Module):
    """``model.diffusion_model`` (the UNet) and ``first_stage_model`` (the VQ autoencoder), the checkpoint's paths."""

    def __init__(self, unet: UNetModel, first_stage: VQModel, linear_start: float, linear_end: float,
                 timesteps: int, scale_factor: float = 1.0) -> None:
        super().__init__()
        self.model = nn.Module()
        self.model.diffusion_model = unet
        self.first_stage_model = first_stage
        self.scale_factor = scale_factor
        with torch.device("cpu"):  # a plain tensor, not a buffer: built on meta, it would have no values
            self.alphas_cumprod = make_alphas_cumprod(linear_start, linear_end, timesteps)

    @property
    def device(self) -> torch.device:
        return self.model.diffusion_model.time_embed[0].weight.device

    @property
    def downscale(self) -> int:
        """How much smaller the latent is than the picture (2 per decoder level)."""
        return 2 ** (len(self.first_stage_model.decoder.up) - 1)


def _section(source: str, where: str, node: Any, used: set[str], ignored: frozenset[str]) -> dict[str, Any]:
    params = dict((node or {}).get("params") or {}) if isinstance(node, Mapping) else {}
    unknown = set(params) - used - ignored
    if unknown:
        raise ConfigError(f"{source}: {where}: unsupported parameter(s) {sorted(unknown)}")
    return {k: v for k, v in params.items() if k in used}


def build_ldsr(config: Mapping[str, Any], source: str = "project.yaml") -> LdsrModel:
    """The (untrained) LDSR model ``project.yaml`` describes; tensors follow the current default device."""
    model = config.get("model") if isinstance(config, Mapping) else None
    if not isinstance(model, Mapping) or model.get("target") not in MODEL_TARGETS:
        raise ConfigError(f"{source}: model.target must be one of {sorted(MODEL_TARGETS)} (the LDSR project.yaml)")
    p = _section(source, "model", model, _USED, _IGNORED)
    key = p.get("conditioning_key") or ("concat" if p.get("concat_mode", True) else "crossattn")
    if key != "concat" or p.get("parameterization", "eps") != "eps":
        raise ConfigError(f"{source}: LDSR is an eps-predicting model conditioned by concatenation")
    cond = p.get("cond_stage_config")
    if not isinstance(cond, Mapping) or cond.get("target") != "torch.nn.Identity":
        raise ConfigError(f"{source}: model.params.cond_stage_config must be torch.nn.Identity (the low-res image)")
    first = p.get("first_stage_config")
    if not isinstance(first, Mapping) or first.get("target") not in VQ_TARGETS:
        raise ConfigError(f"{source}: model.params.first_stage_config must be one of {sorted(VQ_TARGETS)}")
    vq = _section(source, "first_stage_config", first, _VQ_USED, _VQ_IGNORED)
    dd = _section(source, "first_stage_config.ddconfig", {"params": vq.get("ddconfig")}, _DD_USED, _DD_IGNORED)
    if dd.pop("double_z", False) or list(dd.pop("attn_resolutions", None) or []):
        raise ConfigError(f"{source}: the VQ ddconfig must have double_z false and no attn_resolutions")
    if "unet_config" not in p:
        raise ConfigError(f"{source}: missing model.params.unet_config")
    unet = build_unet(p["unet_config"], source)
    first_stage = VQModel(embed_dim=int(vq["embed_dim"]), n_embed=int(vq["n_embed"]), ch=int(dd["ch"]),
                          ch_mult=list(dd["ch_mult"]), num_res_blocks=int(dd["num_res_blocks"]),
                          z_channels=int(dd["z_channels"]), in_channels=int(dd.get("in_channels", 3)),
                          out_ch=int(dd.get("out_ch", 3)))
    built = LdsrModel(unet, first_stage, float(p.get("linear_start", 0.0015)), float(p.get("linear_end", 0.0155)),
                      int(p.get("timesteps", 1000)), float(p.get("scale_factor", 1.0)))
    if built.downscale != UPSCALE:
        raise ConfigError(f"{source}: the first stage downscales by {built.downscale}; LDSR needs 4")
    if unet.in_channels != 2 * first_stage.embed_dim:
        raise ConfigError(f"{source}: the UNet takes {unet.in_channels} channels; LDSR concatenates the "
                          f"{first_stage.embed_dim}-channel latent and the picture")
    return built


def ema_key(key: str) -> str:
    """Where LDM's ``LitEma`` keeps the shadow of ``model.diffusion_model.X``: ``diffusion_model.X`` without dots."""
    return "model_ema." + key.removeprefix("model.").replace(".", "")


def ldsr_weights(sd: Mapping[str, Any], model: nn.Module, source: str) -> dict[str, torch.Tensor]:
    """The model's tensors from a checkpoint's state dict; the UNet's EMA copies when the file has them.

    A1111 samples inside LDM's ``ema_scope``, which swaps the EMA weights in: those are what generate.
    """
    wanted = list(model.state_dict().keys())
    unet_keys = [k for k in wanted if k.startswith("model.diffusion_model.")]
    use_ema = all(ema_key(k) in sd for k in unet_keys)
    weights: dict[str, torch.Tensor] = {}
    missing = []
    for key in wanted:
        found = sd.get(ema_key(key) if use_ema and key in unet_keys else key)
        if isinstance(found, torch.Tensor):
            weights[key] = found
        else:
            missing.append(key)
    if missing:
        raise CheckpointError(f"{source}: {len(missing)} LDSR weight(s) missing, e.g. {missing[:5]}")
    return weights


def load_ldsr(model_path: str | Path, yaml_path: str | Path, device: str | torch.device = "cpu",
              allow_unsafe: bool = False) -> LdsrModel:
    """Read ``model.ckpt``/``model.safetensors`` with its ``project.yaml``: a frozen fp32 model on ``device``."""
    config = read_config(yaml_path)
    with torch.device("meta"):
        model = build_ldsr(config, str(yaml_path))
    sd = unwrap_state_dict(read_checkpoint(model_path, "cpu", allow_unsafe))
    weights = ldsr_weights(sd, model, str(model_path))
    try:
        model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True, assign=True)
    except RuntimeError as e:
        raise CheckpointError(f"{model_path}: weights do not fit {yaml_path}: {e}") from e
    alphas = sd.get("alphas_cumprod")
    if isinstance(alphas, torch.Tensor) and alphas.shape == model.alphas_cumprod.shape:
        model.alphas_cumprod = alphas.detach().float().clone()
    model.requires_grad_(False)
    model.eval()
    return model.to(device)


# --- LDM's patch-wise application ---------------------------------------------------------------------------


def border_weighting(h: int, w: int) -> torch.Tensor:
    """LDM's ``delta_border`` weights of one window, clipped as A1111 sets them: ``(h, w)``."""
    y = torch.arange(h, dtype=torch.float32).view(h, 1).expand(h, w) / (h - 1)
    x = torch.arange(w, dtype=torch.float32).view(1, w).expand(h, w) / (w - 1)
    to_left_up = torch.minimum(y, x)
    to_right_down = torch.minimum(1 - y, 1 - x)
    return torch.minimum(to_left_up, to_right_down).clamp(*WEIGHT_CLIP)


class PatchGrid:
    """LDM's ``get_fold_unfold``: windows of ``kernel`` every ``stride`` over an ``(h, w)`` map, output ``scale``x."""

    def __init__(self, h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int], scale: int,
                 device: torch.device, dtype: torch.dtype) -> None:
        self.kernel = kernel
        self.unfold = nn.Unfold(kernel_size=kernel, stride=stride)
        out_kernel = (kernel[0] * scale, kernel[1] * scale)
        self.fold = nn.Fold(output_size=(h * scale, w * scale), kernel_size=out_kernel,
                            stride=(stride[0] * scale, stride[1] * scale))
        count = ((h - kernel[0]) // stride[0] + 1) * ((w - kernel[1]) // stride[1] + 1)
        weights = border_weighting(*out_kernel).to(device, dtype).reshape(1, -1, 1).repeat(1, 1, count)
        self.normalization = self.fold(weights).view(1, 1, h * scale, w * scale)
        self.weighting = weights.view(1, 1, *out_kernel, count)

    def split(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``x`` cut into its windows, in LDM's order."""
        cols = self.unfold(x)
        cols = cols.view(x.shape[0], -1, *self.kernel, cols.shape[-1])
        return [cols[..., i] for i in range(cols.shape[-1])]

    def merge(self, outputs: list[torch.Tensor]) -> torch.Tensor:
        """The windows' outputs blended back into one map."""
        stacked = torch.stack(outputs, dim=-1) * self.weighting
        return self.fold(stacked.view(stacked.shape[0], -1, stacked.shape[-1])) / self.normalization


def apply_unet(model: LdsrModel, x: torch.Tensor, t: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
    """The UNet's eps for latent ``x`` given the low-res picture ``lr``, window by window (LDM ``apply_model``)."""
    h, w = x.shape[-2:]
    kernel = (min(PATCH, h), min(PATCH, w))
    stride = (min(PATCH_STRIDE, h), min(PATCH_STRIDE, w))
    grid = PatchGrid(h, w, kernel, stride, 1, x.device, x.dtype)
    unet = model.model.diffusion_model
    outs = [unet(torch.cat([xp, cp], dim=1), t) for xp, cp in zip(grid.split(x), grid.split(lr))]
    return grid.merge(outs)


def decode(model: LdsrModel, z: torch.Tensor) -> torch.Tensor:
    """Latent -> picture in [-1, 1], window by window with quantisation (LDM ``decode_first_stage``)."""
    z = z / model.scale_factor
    h, w = z.shape[-2:]
    kernel = (min(PATCH, h), min(PATCH, w))
    stride = (min(PATCH_STRIDE, h), min(PATCH_STRIDE, w))
    grid = PatchGrid(h, w, kernel, stride, model.downscale, z.device, z.dtype)
    return grid.merge([model.first_stage_model.decode(part) for part in grid.split(z)])


# --- DDIM as LDM's DDIMSampler runs it ------------------------------------------------------------------------


def ddim_timesteps(steps: int, train_steps: int = 1000) -> np.ndarray:
    """LDM's "uniform" DDIM steps: every ``train_steps // steps`` from 0, plus one.

    LDM runs one more step than asked when ``steps`` does not divide 1000 (7 -> 8) and, for a few counts
    (3, 9, 27, 37, 111), its last index is 1000, past the schedule: A1111 then fails with an IndexError.
    Here that index is held at the schedule's end (999).
    """
    if not 1 <= steps <= train_steps:
        raise ValueError(f"LDSR steps must be between 1 and {train_steps}, got {steps}")
    stride = train_steps // steps
    return np.minimum(np.arange(0, train_steps, stride) + 1, train_steps - 1)


def ddim_parameters(alphas_cumprod: torch.Tensor, timesteps: np.ndarray, eta: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(alphas, alphas_prev, sigmas)`` at the DDIM steps (LDM ``make_ddim_sampling_parameters``)."""
    cumprod = alphas_cumprod.detach().cpu().double().numpy()
    alphas = cumprod[timesteps]
    alphas_prev = np.concatenate([cumprod[:1], cumprod[timesteps[:-1]]])
    sigmas = eta * np.sqrt((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev))
    return alphas, alphas_prev, sigmas


def sample(model: LdsrModel, lr: torch.Tensor, steps: int, eta: float = 1.0,
           generator: torch.Generator | None = None,
           on_step: Callable[[int, int], bool] | None = None) -> torch.Tensor:
    """DDIM from noise to the latent of the 4x picture of ``lr`` (a ``(1, 3, h, w)`` picture in [-1, 1]).

    ``on_step(done, total)`` is called after each step; returning True stops early (interrupt).
    """
    timesteps = ddim_timesteps(steps)
    alphas, alphas_prev, sigmas = ddim_parameters(model.alphas_cumprod, timesteps, eta)
    shape = (lr.shape[0], model.first_stage_model.embed_dim, *lr.shape[-2:])
    x = torch.randn(shape, generator=generator, device=lr.device, dtype=lr.dtype)
    total = len(timesteps)
    for done, index in enumerate(reversed(range(total)), start=1):
        t = torch.full((shape[0],), int(timesteps[index]), device=lr.device, dtype=torch.long)
        eps = apply_unet(model, x, t, lr)
        a_t, a_prev, sigma = (float(v[index]) for v in (alphas, alphas_prev, sigmas))
        pred_x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        direction = math.sqrt(1 - a_prev - sigma ** 2) * eps
        noise = torch.randn(shape, generator=generator, device=lr.device, dtype=lr.dtype) * sigma
        x = math.sqrt(a_prev) * pred_x0 + direction + noise
        if on_step is not None and on_step(done, total):
            break
    return x


def picture_to_tensor(image: Image.Image, device: torch.device) -> torch.Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None].to(device) * 2 - 1


def super_resolution(model: LdsrModel, image: Image.Image, steps: int = 100, target_scale: float = 4,
                     generator: torch.Generator | None = None,
                     on_step: Callable[[int, int], bool] | None = None) -> Image.Image:
    """A1111's ``LDSR.super_resolution``: ``image`` enlarged ``target_scale`` times (the model's 4x after a
    Lanczos downscale by ``target_scale / 4``)."""
    rate = target_scale / UPSCALE
    if rate != 1:
        image = image.resize((int(np.ceil(image.width * rate)), int(np.ceil(image.height * rate))),
                             Image.Resampling.LANCZOS)
    size = np.array(image.size)
    pad_w, pad_h = np.max(((2, 2), np.ceil(size / 64).astype(int)), axis=0) * 64 - size
    padded = Image.fromarray(np.pad(np.asarray(image.convert("RGB")), ((0, pad_h), (0, pad_w), (0, 0)), mode="edge"))
    with torch.no_grad():
        lr = picture_to_tensor(padded, model.device)
        latent = sample(model, lr, steps, generator=generator, on_step=on_step)
        out = decode(model, latent).clamp(-1, 1)
    pixels = ((out[0].permute(1, 2, 0).float().cpu().numpy() + 1) / 2 * 255).astype(np.uint8)
    return Image.fromarray(pixels).crop((0, 0, *(size * UPSCALE)))
