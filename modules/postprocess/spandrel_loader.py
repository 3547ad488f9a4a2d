"""Loading upscaler and face-restoration networks through spandrel, safely and once per file.

The architecture (ESRGAN/RRDB, Real-ESRGAN Compact, SwinIR, DAT, HAT, SCUNet,
GFPGAN, CodeFormer ...) is detected by spandrel from the state dict; the extra
architectures of ``spandrel_extra_arches`` (CodeFormer among them) are installed
into spandrel's registry on first use.  Pickled files (``.pth``/``.pt``/``.ckpt``)
are read only with ``torch.load(weights_only=True)``: a file that needs anything
more is refused with a message naming it, never unpickled.

Imported only when a model runs (it imports torch at module level).
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from modules.core.services import current_services
from modules.postprocess.unavailable import UpscalerUnavailable

log = logging.getLogger(__name__)

PICKLE_EXTENSIONS = (".pth", ".pt", ".ckpt", ".bin")
SAFETENSORS_EXTENSIONS = (".safetensors",)

_extra_arches_lock = threading.Lock()
_extra_arches_installed = False


class ModelLoadError(UpscalerUnavailable):
    """A model file exists but cannot be read or is not an architecture spandrel knows."""


def _import_spandrel() -> Any:
    with warnings.catch_warnings():
        # some architectures use torch.jit.script at import, which current torch marks deprecated
        warnings.simplefilter("ignore", FutureWarning)
        import spandrel

    return spandrel


def install_extra_architectures() -> None:
    """Add ``spandrel_extra_arches`` (CodeFormer, SRFormer ...) to spandrel's registry, once."""
    global _extra_arches_installed
    _import_spandrel()
    with _extra_arches_lock:
        if _extra_arches_installed:
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                import spandrel_extra_arches
        except ImportError:
            log.warning("spandrel_extra_arches is not installed: CodeFormer and other extra architectures are unavailable")
        else:
            spandrel_extra_arches.install(ignore_duplicates=True)
        _extra_arches_installed = True


def read_state_dict(path: str) -> dict[str, Any]:
    """The tensors of a model file: safetensors directly, pickles only through ``weights_only`` loading."""
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise UpscalerUnavailable(f"model file {os.path.basename(path)} not found in {os.path.dirname(path) or '.'}")
    if ext in SAFETENSORS_EXTENSIONS:
        from safetensors.torch import load_file

        try:
            return load_file(path, device="cpu")
        except Exception as e:  # a damaged or truncated file: the request's choice, not our fault (a 4xx)
            raise ModelLoadError(f"model file {path} cannot be read: {e}") from e
    if ext in PICKLE_EXTENSIONS:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # an unsafe pickle, a TorchScript archive or a damaged file: all refused alike
            raise ModelLoadError(
                f"model file {path} cannot be loaded safely (only plain weights are read from pickles; "
                f"convert it to .safetensors): {e}"
            ) from e
    raise ModelLoadError(f"model file {path}: unsupported extension {ext!r} (use .pth, .pt or .safetensors)")


def default_device(task: str) -> torch.device:
    """A1111's ``devices.get_device_for``: the CPU when ``--use-cpu`` names ``task`` or ``all``, else the best device."""
    cmd_opts = current_services().cmd_opts
    use_cpu = [x.lower() for x in (getattr(cmd_opts, "use_cpu", None) or [])]
    if "all" in use_cpu or task.lower() in use_cpu:
        return torch.device("cpu")
    if torch.cuda.is_available():
        device_id = getattr(cmd_opts, "device_id", None)
        return torch.device(f"cuda:{device_id}" if device_id is not None else "cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def half_allowed() -> bool:
    """Half precision unless ``--no-half`` or ``--upcast-sampling`` (A1111's ``prefer_half`` rule)."""
    cmd_opts = current_services().cmd_opts
    return not (getattr(cmd_opts, "no_half", False) or getattr(cmd_opts, "upcast_sampling", False))


def _gfpgan_descriptor(state_dict: dict[str, Any]) -> Any:
    """Build spandrel's GFPGAN class with the width the weights have.

    spandrel assumes the released width (``narrow`` 1); the architecture has the
    ``narrow`` knob, read here from the first convolution so narrower variants load too.
    """
    from spandrel import MAIN_REGISTRY, ImageModelDescriptor, SizeRequirements
    from spandrel.architectures.GFPGAN import GFPGAN

    first = state_dict["conv_body_first.weight"].shape[0]
    narrow = first / 32  # the 512-px body starts with int(32 * channel_multiplier * narrow / 2) channels
    style = state_dict["stylegan_decoder.style_mlp.1.weight"].shape[0]
    model = GFPGAN(out_size=512, num_style_feat=style, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
                   num_mlp=8, input_is_latent=True, different_w=True, narrow=narrow, sft_half=True)
    return ImageModelDescriptor(model, state_dict, architecture=MAIN_REGISTRY.get("GFPGAN").architecture,
                                purpose="FaceSR", tags=[f"narrow{narrow:g}"], supports_half=False,
                                supports_bfloat16=True, scale=1, input_channels=3, output_channels=3,
                                size_requirements=SizeRequirements(minimum=512),
                                call_fn=lambda m, image: m(image)[0])


def describe_state_dict(state_dict: dict[str, Any], path: str) -> Any:
    """spandrel's model descriptor for ``state_dict`` (architecture detected from its keys and shapes)."""
    spandrel = _import_spandrel()
    install_extra_architectures()
    state_dict = spandrel.canonicalize_state_dict(state_dict)
    try:
        gfpgan = spandrel.MAIN_REGISTRY.get("GFPGAN")
        if gfpgan.architecture.detect(state_dict) and state_dict["conv_body_first.weight"].shape[0] != 32:
            return _gfpgan_descriptor(state_dict)
        return spandrel.MAIN_REGISTRY.load(state_dict)
    except spandrel.UnsupportedModelError as e:
        raise ModelLoadError(f"model file {path}: spandrel does not know this architecture") from e
    except (RuntimeError, KeyError, ValueError) as e:  # keys look right but shapes do not fit
        raise ModelLoadError(f"model file {path} could not be loaded: {e}") from e


@dataclass
class LoadedModel:
    descriptor: Any
    mtime: float
    size: int


class ModelCache:
    """Loaded models by file: each file is read once and kept until it changes on disk or is dropped."""

    def __init__(self) -> None:
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    def get(self, path: str, *, device: torch.device | str, prefer_half: bool = False,
            expected_architecture: str | None = None) -> Any:
        """The model descriptor of ``path`` on ``device`` (fp16 if ``prefer_half`` and the model supports it)."""
        key = os.path.realpath(path)
        try:
            stat = os.stat(key)
        except OSError as e:
            raise UpscalerUnavailable(
                f"model file {os.path.basename(path)} not found in {os.path.dirname(path) or '.'}") from e
        with self._lock:
            entry = self._models.get(key)
            if entry is None or entry.mtime != stat.st_mtime or entry.size != stat.st_size:
                descriptor = describe_state_dict(read_state_dict(key), path)
                descriptor.eval()
                arch = descriptor.architecture.name
                if expected_architecture and arch != expected_architecture:
                    log.warning("Model %r is not a %r model (got %r)", path, expected_architecture, arch)
                entry = LoadedModel(descriptor, stat.st_mtime, stat.st_size)
                self._models[key] = entry
        descriptor = entry.descriptor
        dtype = torch.float16 if (prefer_half and descriptor.supports_half and torch.device(device).type == "cuda") \
            else torch.float32
        if descriptor.device != torch.device(device) or descriptor.dtype != dtype:
            descriptor.to(torch.device(device), dtype)
        return descriptor

    def drop(self, path: str | None = None) -> None:
        """Forget one file's model, or all of them."""
        with self._lock:
            if path is None:
                self._models.clear()
            else:
                self._models.pop(os.path.realpath(path), None)

    def __contains__(self, path: str) -> bool:
        return os.path.realpath(path) in self._models


model_cache = ModelCache()
"""The process-wide cache every upscaler and face restorer loads through."""


def load_spandrel_model(path: str, *, device: torch.device | str | None = None, prefer_half: bool = False,
                        expected_architecture: str | None = None) -> Any:
    """A1111's ``modelloader.load_spandrel_model``: the descriptor for ``path``, cached."""
    return model_cache.get(path, device=device or torch.device("cpu"), prefer_half=prefer_half,
                           expected_architecture=expected_architecture)
