"""Allow-list from YAML ``target`` strings to our classes.

LDM's ``instantiate_from_config`` imports whatever dotted path a YAML names;
here a ``target`` is only a key into the literal tables below.  Anything else
is a :class:`ConfigError` naming the file and the place in it.  Each builder
also lists the parameters it reads and those it knowingly ignores (training
or device knobs); an unexpected parameter is an error too, so a YAML asking
for an architecture we do not build never yields a silently different model.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from modules.models.attention import AttentionStrategy
from modules.models.nets.autoencoder import AutoencoderKL
from modules.models.nets.clip_image import IMAGE_ARCHS, ClipImageEmbedder
from modules.models.nets.clip_text import ClipTextEmbedder
from modules.models.flux_model import Flux
from modules.models.nets.flux import FluxTransformer, flux_sizes
from modules.models.nets.flux_text import FluxTextEncoders
from modules.models.nets.midas import DPTHybrid, MiDaSInference, make_vit_hybrid
from modules.models.nets.mmdit import MMDiT, mmdit_sizes
from modules.models.nets.open_clip_text import OpenClipEmbedder
from modules.models.nets.sdxl_conditioner import ConcatTimestepEmbedderND, GeneralConditioner
from modules.models.nets.unclip_noise import CLIPEmbeddingNoiseAugmentation
from modules.models.nets.xlmr_text import XLMR_LARGE, XlmrTextEmbedder
from modules.models.nets.unet import UNetModel
from modules.models.nets.sd3_text import Sd3TextEncoders
from modules.models.sd3_model import StableDiffusion3
from modules.models.sd_model import DiffusionEngine, LatentDiffusion, StableDiffusionBase


class ConfigError(ValueError):
    """A model YAML we refuse to build from (unknown target, parameter or value)."""


Params = Mapping[str, Any]


class _Ctx:
    """Where we are in which file, for error messages, plus the attention strategy to inject."""

    def __init__(self, source: str, attention: AttentionStrategy | None,
                 shapes: Mapping[str, tuple[int, ...]] | None = None) -> None:
        self.source = source
        self.attention = attention
        self.shapes = shapes

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {message}")


def _params(ctx: _Ctx, where: str, node: Params | None, used: set[str], ignored: frozenset[str]) -> dict[str, Any]:
    params = dict((node or {}).get("params") or {})
    unknown = set(params) - used - ignored
    if unknown:
        raise ctx.fail(where, f"unsupported parameter(s) {sorted(unknown)}")
    return {k: v for k, v in params.items() if k in used}


def _target(ctx: _Ctx, where: str, node: Any, table: Mapping[str, Any]) -> Any:
    if not isinstance(node, Mapping) or "target" not in node:
        raise ctx.fail(where, "missing 'target'")
    target = node["target"]
    if target not in table:
        raise ctx.fail(where, f"target {target!r} is not an allowed class here; allowed: {sorted(table)}")
    return table[target]


# --- UNet -----------------------------------------------------------------

_UNET_USED = {"in_channels", "out_channels", "model_channels", "num_res_blocks", "attention_resolutions",
              "channel_mult", "num_heads", "num_head_channels", "transformer_depth", "transformer_depth_middle",
              "context_dim", "use_linear_in_transformer", "adm_in_channels", "num_classes", "use_spatial_transformer"}
_UNET_IGNORED = frozenset({"image_size", "use_checkpoint", "use_fp16", "legacy",
                           "spatial_transformer_attn_type", "dropout", "conv_resample", "dims",
                           "num_heads_upsample", "use_bf16"})
# Parameters we accept only at the value every SD model uses.
_UNET_FIXED = {"use_scale_shift_norm": False, "resblock_updown": False, "use_new_attention_order": False,
               "disable_self_attentions": None, "num_attention_blocks": None, "disable_middle_self_attn": False,
               "n_embed": None}


def _build_unet(ctx: _Ctx, where: str, node: Params) -> UNetModel:
    raw = dict(node.get("params") or {})
    for key, value in _UNET_FIXED.items():
        if key in raw and raw.pop(key) != value:
            raise ctx.fail(where, f"{key} other than {value!r} is not supported")
    p = _params(ctx, where, {"params": raw}, _UNET_USED, _UNET_IGNORED)
    num_classes = p.pop("num_classes", None)
    if num_classes not in (None, "sequential"):
        raise ctx.fail(where, f"num_classes {num_classes!r} is not supported (only 'sequential')")
    if num_classes == "sequential" and "adm_in_channels" not in p:
        raise ctx.fail(where, "num_classes 'sequential' needs adm_in_channels")
    if num_classes is None:
        p.pop("adm_in_channels", None)
    for key in ("attention_resolutions", "channel_mult"):
        if key in p:
            p[key] = list(p[key])
    # LDM's default is off, and LDM requires it on exactly when there is a text context: so a YAML that
    # leaves it out means "on" for every text-conditioned model (SGM's UNet always builds transformers).
    p["use_spatial_transformer"] = bool(p.get("use_spatial_transformer", p.get("context_dim") is not None))
    if p["use_spatial_transformer"] != (p.get("context_dim") is not None):
        raise ctx.fail(where, "use_spatial_transformer must be set exactly when context_dim is")
    return UNetModel(**p, attention=ctx.attention)


def build_unet(node: Params, source: str = "<config>", attention: AttentionStrategy | None = None) -> UNetModel:
    """The UNet an LDM/SGM ``unet_config`` node describes (same checks as inside a whole model's YAML)."""
    ctx = _Ctx(source, attention)
    return _target(ctx, "unet_config", node, _UNET_TARGETS)(ctx, "unet_config", node)


_UNET_TARGETS = {
    "ldm.modules.diffusionmodules.openaimodel.UNetModel": _build_unet,
    "sgm.modules.diffusionmodules.openaimodel.UNetModel": _build_unet,
}

# --- VAE ------------------------------------------------------------------

_DD_USED = {"double_z", "z_channels", "in_channels", "out_ch", "ch", "ch_mult", "num_res_blocks"}
_DD_IGNORED = frozenset({"resolution", "dropout", "attn_type", "attn_resolutions"})
_VAE_USED = {"embed_dim", "ddconfig", "lossconfig"}
_VAE_IGNORED = frozenset({"monitor", "ckpt_path", "ignore_keys", "image_key", "colorize_nlabels"})


def _build_vae(ctx: _Ctx, where: str, node: Params) -> AutoencoderKL:
    p = _params(ctx, where, node, _VAE_USED, _VAE_IGNORED)
    loss = p.get("lossconfig")
    if loss is not None:
        _target(ctx, f"{where}.params.lossconfig", loss, _INERT_TARGETS)
    dd = p.get("ddconfig")
    if not isinstance(dd, Mapping):
        raise ctx.fail(where, "missing ddconfig")
    if list(dd.get("attn_resolutions") or []):
        raise ctx.fail(f"{where}.params.ddconfig", "attn_resolutions other than [] is not supported")
    ddp = _params(ctx, f"{where}.params.ddconfig", {"params": dd}, _DD_USED, _DD_IGNORED)
    ddp["ch_mult"] = list(ddp["ch_mult"])
    if "embed_dim" not in p:
        raise ctx.fail(where, "missing embed_dim")
    return AutoencoderKL(embed_dim=p["embed_dim"], attention=ctx.attention, **ddp)


_VAE_TARGETS = {
    "ldm.models.autoencoder.AutoencoderKL": _build_vae,
    "sgm.models.autoencoder.AutoencoderKL": _build_vae,
    "sgm.models.autoencoder.AutoencoderKLInferenceWrapper": _build_vae,
    "ldm.models.autoencoder.AutoencoderKLInferenceWrapper": _build_vae,
}

# --- text and vector conditioning ------------------------------------------

_TEXT_IGNORED = frozenset({"freeze", "device", "max_length", "version_pretrained"})
_CLIP_SIZES = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"}
_OPENCLIP_SIZES = {"width", "heads", "layers", "embed_dim"}


def _check_max_length(ctx: _Ctx, where: str, node: Params) -> None:
    length = (node.get("params") or {}).get("max_length", 77)
    if length != 77:
        raise ctx.fail(where, f"max_length {length} is not supported (77)")


def _build_clip(ctx: _Ctx, where: str, node: Params) -> ClipTextEmbedder:
    _check_max_length(ctx, where, node)
    p = _params(ctx, where, node, {"layer", "layer_idx", "version"} | _CLIP_SIZES, _TEXT_IGNORED)
    p.setdefault("version", "openai/clip-vit-large-patch14")
    return ClipTextEmbedder(**p)


def _build_open_clip(legacy_default: bool) -> Callable[[_Ctx, str, Params], OpenClipEmbedder]:
    def build(ctx: _Ctx, where: str, node: Params) -> OpenClipEmbedder:
        _check_max_length(ctx, where, node)
        used = {"arch", "layer", "legacy", "always_return_pooled"} | _OPENCLIP_SIZES
        # ``version`` names pretrained weights to download; the checkpoint has them, so it is ignored.
        p = _params(ctx, where, node, used, _TEXT_IGNORED | {"version"})
        p.setdefault("legacy", legacy_default)
        return OpenClipEmbedder(attention=ctx.attention, **p)
    return build


def _build_size_embedder(ctx: _Ctx, where: str, node: Params) -> ConcatTimestepEmbedderND:
    return ConcatTimestepEmbedderND(**_params(ctx, where, node, {"outdim"}, frozenset()))


def _build_xlmr(penultimate: bool, project_dim: int) -> Callable[[_Ctx, str, Params], XlmrTextEmbedder]:
    """AltDiffusion's ``BertSeriesModelWithTransformation`` (m9: last layer to 768; m18: penultimate to 1024).
    The YAML's ``name`` is always ``XLMR-Large``; sizes (ours) let the tiny test models be narrower."""
    def build(ctx: _Ctx, where: str, node: Params) -> XlmrTextEmbedder:
        p = _params(ctx, where, node, {"name", "project_dim"} | set(XLMR_LARGE), frozenset())
        if p.pop("name", "XLMR-Large") != "XLMR-Large":
            raise ctx.fail(where, "only name XLMR-Large (AltDiffusion's encoder) is supported")
        return XlmrTextEmbedder(project_dim=int(p.pop("project_dim", project_dim)), penultimate=penultimate,
                                **{k: int(v) for k, v in p.items()})
    return build


_TEXT_TARGETS = {
    "modules.xlmr.BertSeriesModelWithTransformation": _build_xlmr(penultimate=False, project_dim=768),
    "modules.xlmr_m18.BertSeriesModelWithTransformation": _build_xlmr(penultimate=True, project_dim=1024),
    "ldm.modules.encoders.modules.FrozenCLIPEmbedder": _build_clip,
    "sgm.modules.encoders.modules.FrozenCLIPEmbedder": _build_clip,
    "ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder": _build_open_clip(legacy_default=True),
    "sgm.modules.encoders.modules.FrozenOpenCLIPEmbedder2": _build_open_clip(legacy_default=True),
}
_EMBEDDER_TARGETS = {
    **_TEXT_TARGETS,
    "sgm.modules.encoders.modules.ConcatTimestepEmbedderND": _build_size_embedder,
    # A1111's sd_xl_inpaint.yaml spells it this way; it is the same embedder.
    "sgm.modules.encoders.modules.ConcatTimestepEmbedderAND": _build_size_embedder,
}


def _build_conditioner(ctx: _Ctx, where: str, node: Params) -> GeneralConditioner:
    p = _params(ctx, where, node, {"emb_models"}, frozenset())
    embedders: list[nn.Module] = []
    for i, spec in enumerate(p.get("emb_models") or []):
        spot = f"{where}.params.emb_models[{i}]"
        builder = _target(ctx, spot, spec, _EMBEDDER_TARGETS)
        extra = set(spec) - {"target", "params", "input_key", "is_trainable", "ucg_rate", "legacy_ucg_value"}
        if extra:
            raise ctx.fail(spot, f"unsupported key(s) {sorted(extra)}")
        embedder = builder(ctx, spot, spec)
        embedder.input_key = spec.get("input_key", "txt")
        embedders.append(embedder)
    return GeneralConditioner(embedders)


_CONDITIONER_TARGETS = {
    "sgm.modules.GeneralConditioner": _build_conditioner,
    "ldm.modules.GeneralConditioner": _build_conditioner,
}

# --- targets accepted and never built ---------------------------------------

_INERT_TARGETS = {name: None for name in (
    "torch.nn.Identity",
    "ldm.lr_scheduler.LambdaLinearScheduler",
    "sgm.lr_scheduler.LambdaLinearScheduler",
)}
_SCALING_TARGETS = {f"{root}.modules.diffusionmodules.denoiser_scaling.{name}": value
                    for root in ("sgm", "ldm") for name, value in (("EpsScaling", "eps"), ("VScaling", "v"))}
_DENOISER_TARGETS = {f"{root}.modules.diffusionmodules.denoiser.DiscreteDenoiser": None for root in ("sgm", "ldm")}
_DISCRETIZATION_TARGETS = {f"{root}.modules.diffusionmodules.discretizer.LegacyDDPMDiscretization": None
                           for root in ("sgm", "ldm")}
_WEIGHTING_TARGETS = {f"{root}.modules.diffusionmodules.denoiser_weighting.{name}": None
                      for root in ("sgm", "ldm") for name in ("EpsWeighting", "VWeighting", "EDMWeighting",
                                                              "UnitWeighting")}

# --- whole models -----------------------------------------------------------

_LDM_USED = {"linear_start", "linear_end", "timesteps", "scale_factor", "parameterization", "conditioning_key",
             "cond_stage_key", "unet_config", "first_stage_config", "cond_stage_config", "depth_stage_config",
             "embedder_config", "noise_aug_config"}
_LDM_IGNORED = frozenset({
    "num_timesteps_cond", "log_every_t", "first_stage_key", "image_size", "channels",
    "cond_stage_trainable", "monitor", "use_ema", "scheduler_config", "finetune_keys", "ckpt_path", "ignore_keys",
    "load_ema", "concat_keys", "masked_image_key", "load_only_unet", "ucg_training", "use_positional_encodings",
    "cond_stage_forward", "beta_schedule", "loss_type", "original_elbo_weight", "l_simple_weight",
    "learn_logvar", "logvar_init", "v_posterior", "clip_denoised", "make_it_fit", "reset_ema",
    "reset_num_ema_updates", "unet_trainable", "given_betas", "cosine_s", "embedding_dropout", "embedding_key",
})


def _build_latent_diffusion(ctx: _Ctx, where: str, node: Params) -> LatentDiffusion:
    p = _params(ctx, where, node, _LDM_USED, _LDM_IGNORED)
    for key in ("unet_config", "first_stage_config", "cond_stage_config"):
        if key not in p:
            raise ctx.fail(where, f"missing {key}")
    unet = _target(ctx, f"{where}.params.unet_config", p["unet_config"], _UNET_TARGETS)(
        ctx, f"{where}.params.unet_config", p["unet_config"])
    vae = _target(ctx, f"{where}.params.first_stage_config", p["first_stage_config"], _VAE_TARGETS)(
        ctx, f"{where}.params.first_stage_config", p["first_stage_config"])
    text = _target(ctx, f"{where}.params.cond_stage_config", p["cond_stage_config"], _TEXT_TARGETS)(
        ctx, f"{where}.params.cond_stage_config", p["cond_stage_config"])
    schedule = {k: p[k] for k in ("linear_start", "linear_end", "timesteps") if k in p}
    model = LatentDiffusion(unet, vae, text, scale_factor=float(p.get("scale_factor", 1.0)),
                            conditioning_key=p.get("conditioning_key", "crossattn"),
                            cond_stage_key=str(p.get("cond_stage_key", "txt")),
                            parameterization=p.get("parameterization", "eps"), **schedule)
    if "depth_stage_config" in p:
        spot = f"{where}.params.depth_stage_config"
        model.depth_model = _target(ctx, spot, p["depth_stage_config"], _DEPTH_TARGETS)(
            ctx, spot, p["depth_stage_config"])
    if ("embedder_config" in p) != ("noise_aug_config" in p):
        raise ctx.fail(where, "unCLIP needs both embedder_config and noise_aug_config")
    if "embedder_config" in p:
        spot = f"{where}.params.embedder_config"
        model.embedder = _target(ctx, spot, p["embedder_config"], _IMAGE_EMBEDDER_TARGETS)(
            ctx, spot, p["embedder_config"])
        spot = f"{where}.params.noise_aug_config"
        model.noise_augmentor = _target(ctx, spot, p["noise_aug_config"], _NOISE_AUG_TARGETS)(
            ctx, spot, p["noise_aug_config"])
    return model


# MiDaS: A1111's YAML names only the model type; the sizes (ours) let the tiny test models be narrower.
_MIDAS_SIZES = {"width", "depth", "heads", "stage_blocks", "stem", "features"}


def _build_midas(ctx: _Ctx, where: str, node: Params) -> MiDaSInference:
    p = _params(ctx, where, node, {"model_type"} | _MIDAS_SIZES, frozenset())
    if p.pop("model_type", "dpt_hybrid") != "dpt_hybrid":
        raise ctx.fail(where, "only model_type dpt_hybrid (SD2-depth's MiDaS) is supported")
    features = int(p.pop("features", 256))
    if "stage_blocks" in p:
        p["stage_blocks"] = tuple(p["stage_blocks"])
    return MiDaSInference(DPTHybrid(make_vit_hybrid(**p), features))


_DEPTH_TARGETS = {"ldm.modules.midas.api.MiDaSInference": _build_midas}

# unCLIP: the YAML names the CLIP model; the sizes (ours) let the tiny test models be narrower.
_IMAGE_SIZES = {"width", "layers", "heads", "patch", "image_size", "embed_dim", "text_width", "text_layers",
                "text_heads", "vocab_size", "context_length"}


def _build_image_embedder(default_arch: str, arch_key: str) -> Callable[[_Ctx, str, Params], ClipImageEmbedder]:
    def build(ctx: _Ctx, where: str, node: Params) -> ClipImageEmbedder:
        # ``version`` names pretrained weights to download, ``layer`` is always "pooled" in unCLIP
        p = _params(ctx, where, node, {arch_key} | _IMAGE_SIZES,
                    frozenset({"version", "device", "freeze", "jit", "antialias", "ucg_rate", "max_length", "layer"}))
        arch = p.pop(arch_key, default_arch)
        if arch not in IMAGE_ARCHS:
            raise ctx.fail(where, f"{arch_key} {arch!r} is not supported; known: {sorted(IMAGE_ARCHS)}")
        return ClipImageEmbedder(arch, attention=ctx.attention, **p)
    return build


def _build_noise_aug(ctx: _Ctx, where: str, node: Params) -> CLIPEmbeddingNoiseAugmentation:
    p = _params(ctx, where, node, {"timestep_dim", "clip_stats_path", "noise_schedule_config", "max_noise_level"},
                frozenset({"to_rgb"}))
    schedule = dict(p.pop("noise_schedule_config", None) or {})
    unknown = set(schedule) - {"timesteps", "beta_schedule"}
    if unknown:
        raise ctx.fail(f"{where}.params.noise_schedule_config", f"unsupported parameter(s) {sorted(unknown)}")
    try:
        return CLIPEmbeddingNoiseAugmentation(int(p.get("timestep_dim", 256)), int(schedule.get("timesteps", 1000)),
                                              str(schedule.get("beta_schedule", "squaredcos_cap_v2")),
                                              int(p.get("max_noise_level", 1000)), p.get("clip_stats_path"))
    except ValueError as e:
        raise ctx.fail(where, str(e)) from e


_IMAGE_EMBEDDER_TARGETS = {
    "ldm.modules.encoders.modules.ClipImageEmbedder": _build_image_embedder("ViT-L/14", "model"),
    "ldm.modules.encoders.modules.FrozenOpenCLIPImageEmbedder": _build_image_embedder("ViT-H-14", "arch"),
}
_NOISE_AUG_TARGETS = {"ldm.modules.encoders.modules.CLIPEmbeddingNoiseAugmentation": _build_noise_aug}


_ENGINE_USED = {"scale_factor", "denoiser_config", "network_config", "conditioner_config", "first_stage_config"}
_ENGINE_IGNORED = frozenset({"disable_first_stage_autocast", "sampler_config", "loss_fn_config", "optimizer_config",
                             "scheduler_config", "network_wrapper", "ckpt_path", "input_key", "log_keys",
                             "no_cond_log", "compile_model", "en_and_decode_n_samples_a_time", "use_ema",
                             "ema_decay_rate"})


def _engine_parameterization(ctx: _Ctx, where: str, node: Params | None) -> str:
    if node is None:
        return "eps"
    _target(ctx, where, node, _DENOISER_TARGETS)
    params = node.get("params") or {}
    extra = set(params) - {"num_idx", "scaling_config", "discretization_config", "weighting_config"}
    if extra:
        raise ctx.fail(where, f"unsupported parameter(s) {sorted(extra)}")
    if params.get("num_idx", 1000) != 1000:
        raise ctx.fail(where, "num_idx other than 1000 is not supported")
    if "discretization_config" in params:
        _target(ctx, f"{where}.params.discretization_config", params["discretization_config"],
                _DISCRETIZATION_TARGETS)
    if "weighting_config" in params:
        _target(ctx, f"{where}.params.weighting_config", params["weighting_config"], _WEIGHTING_TARGETS)
    if "scaling_config" not in params:
        return "eps"
    return _target(ctx, f"{where}.params.scaling_config", params["scaling_config"], _SCALING_TARGETS)


def _build_engine(ctx: _Ctx, where: str, node: Params) -> DiffusionEngine:
    p = _params(ctx, where, node, _ENGINE_USED, _ENGINE_IGNORED)
    for key in ("network_config", "conditioner_config", "first_stage_config"):
        if key not in p:
            raise ctx.fail(where, f"missing {key}")
    parameterization = _engine_parameterization(ctx, f"{where}.params.denoiser_config", p.get("denoiser_config"))
    unet = _target(ctx, f"{where}.params.network_config", p["network_config"], _UNET_TARGETS)(
        ctx, f"{where}.params.network_config", p["network_config"])
    vae = _target(ctx, f"{where}.params.first_stage_config", p["first_stage_config"], _VAE_TARGETS)(
        ctx, f"{where}.params.first_stage_config", p["first_stage_config"])
    conditioner = _target(ctx, f"{where}.params.conditioner_config", p["conditioner_config"],
                          _CONDITIONER_TARGETS)(ctx, f"{where}.params.conditioner_config", p["conditioner_config"])
    return DiffusionEngine(unet, vae, conditioner, scale_factor=float(p.get("scale_factor", 1.0)),
                           parameterization=parameterization)


# --- SD3 ----------------------------------------------------------------------

_SD3_VAE = dict(embed_dim=16, z_channels=16, ch=128, ch_mult=[1, 2, 4, 4], num_res_blocks=2)
_SD3_MMDIT_KEYS = {"depth", "patch_size", "in_channels", "pos_embed_max_size", "adm_in_channels", "context_dim",
                   "head_width"}
_SD3_CLIP_KEYS = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"}
_SD3_T5_KEYS = {"d_model", "d_kv", "d_ff", "num_layers", "num_heads", "vocab_size"}


def _sizes(ctx: _Ctx, where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or set(value) - allowed:
        raise ctx.fail(where, f"expected a mapping of {sorted(allowed)}")
    return dict(value)


def _build_sd3(ctx: _Ctx, where: str, node: Params) -> StableDiffusion3:
    """A1111's ``sd3-inference.yaml`` (``shift``; ``state_dict`` is ignored).  The MMDiT's sizes come from the
    checkpoint's shapes, as A1111 reads them; ``mmdit`` / ``vae`` / ``clip_l`` / ``clip_g`` may set sizes
    explicitly (the tiny test checkpoints do), and ``t5xxl`` the sizes of the T5 encoder built when it is enabled."""
    p = _params(ctx, where, node, {"shift", "mmdit", "vae", "clip_l", "clip_g", "t5xxl"}, frozenset({"state_dict"}))
    mmdit = _sizes(ctx, f"{where}.params.mmdit", p.get("mmdit"), _SD3_MMDIT_KEYS)
    if "depth" not in mmdit:
        if not ctx.shapes:
            raise ctx.fail(where, "the MMDiT's sizes come from the checkpoint, and none was given")
        try:
            mmdit = {**mmdit_sizes(dict(ctx.shapes)), **mmdit}
        except (KeyError, IndexError, ValueError) as e:
            raise ctx.fail(where, f"cannot read the MMDiT's sizes from the checkpoint: {e}") from e
    vae = {**_SD3_VAE, **_sizes(ctx, f"{where}.params.vae", p.get("vae"), set(_SD3_VAE))}
    text = Sd3TextEncoders(_sizes(ctx, f"{where}.params.clip_l", p.get("clip_l"), _SD3_CLIP_KEYS),
                           _sizes(ctx, f"{where}.params.clip_g", p.get("clip_g"), _SD3_CLIP_KEYS),
                           _sizes(ctx, f"{where}.params.t5xxl", p.get("t5xxl"), _SD3_T5_KEYS))
    return StableDiffusion3(MMDiT(**mmdit), AutoencoderKL(attention=ctx.attention, use_quant_conv=False, **vae),
                            text, shift=float(p.get("shift", 3.0)))



# --- Flux.1 ----------------------------------------------------------------------

_FLUX_KEYS = {"width", "heads", "depth", "depth_single", "in_channels", "context_dim", "vec_dim", "axes_dim",
              "guidance"}


def _build_flux(ctx: _Ctx, where: str, node: Params) -> Flux:
    """``flux1-inference.yaml`` (``mu``; ``state_dict`` is ignored).  The transformer's sizes come from the
    checkpoint's shapes; ``transformer`` / ``vae`` / ``clip_l`` / ``t5xxl`` may set sizes (tiny test models)."""
    p = _params(ctx, where, node, {"mu", "transformer", "vae", "clip_l", "t5xxl"}, frozenset({"state_dict"}))
    sizes = _sizes(ctx, f"{where}.params.transformer", p.get("transformer"), _FLUX_KEYS)
    if "width" not in sizes:
        if not ctx.shapes:
            raise ctx.fail(where, "the Flux transformer's sizes come from the checkpoint, and none was given")
        try:
            sizes = {**flux_sizes(dict(ctx.shapes)), **sizes}
        except (KeyError, IndexError, ValueError) as e:
            raise ctx.fail(where, f"cannot read the Flux transformer's sizes from the checkpoint: {e}") from e
    vae = {**_SD3_VAE, **_sizes(ctx, f"{where}.params.vae", p.get("vae"), set(_SD3_VAE))}
    text = FluxTextEncoders(_sizes(ctx, f"{where}.params.clip_l", p.get("clip_l"), _SD3_CLIP_KEYS),
                            _sizes(ctx, f"{where}.params.t5xxl", p.get("t5xxl"), _SD3_T5_KEYS))
    mu = p.get("mu")
    return Flux(FluxTransformer(**sizes), AutoencoderKL(attention=ctx.attention, use_quant_conv=False, **vae), text,
                mu=float(mu) if mu is not None else None)


MODEL_TARGETS: dict[str, Callable[[_Ctx, str, Params], StableDiffusionBase | StableDiffusion3]] = {
    "ldm.models.diffusion.ddpm.LatentDiffusion": _build_latent_diffusion,
    "ldm.models.diffusion.ddpm.LatentInpaintDiffusion": _build_latent_diffusion,
    "ldm.models.diffusion.ddpm.LatentDepth2ImageDiffusion": _build_latent_diffusion,
    "ldm.models.diffusion.ddpm.ImageEmbeddingConditionedLatentDiffusion": _build_latent_diffusion,
    "modules.models.diffusion.ddpm_edit.LatentDiffusion": _build_latent_diffusion,
    "sgm.models.diffusion.DiffusionEngine": _build_engine,
    "ldm.models.diffusion.DiffusionEngine": _build_engine,
    "modules.models.sd3.sd3_model.SD3Inferencer": _build_sd3,
    "modules.models.flux_model.Flux": _build_flux,
}
"""Top-level ``model.target`` names we build (LDM, SGM and A1111's instruct-pix2pix name)."""


def build_from_config(config: Mapping[str, Any], source: str = "<config>",
                      attention: AttentionStrategy | None = None,
                      shapes: Mapping[str, tuple[int, ...]] | None = None) -> StableDiffusionBase | StableDiffusion3:
    """Build the (untrained) model a parsed LDM/SGM YAML describes; tensors follow the current default device.

    ``shapes`` (``{key: shape}`` of the checkpoint) gives the sizes a YAML leaves to the file (SD3's MMDiT).
    """
    ctx = _Ctx(source, attention, shapes)
    model_node = config.get("model") if isinstance(config, Mapping) else None
    if not isinstance(model_node, Mapping):
        raise ctx.fail("model", "missing 'model' section")
    extra = set(model_node) - {"target", "params", "base_learning_rate"}
    if extra:
        raise ctx.fail("model", f"unsupported key(s) {sorted(extra)}")
    builder = _target(ctx, "model", model_node, MODEL_TARGETS)
    return builder(ctx, "model", model_node)
