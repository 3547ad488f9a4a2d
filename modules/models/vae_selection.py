"""Which VAE the live model decodes with (A1111's ``sd_vae``: setting ``sd_vae``, ``--vae-path``, per-model choice).

Resolution order (SPEC 3.7): ``--vae-path``; the ``sd_vae`` setting when it is
not Automatic and ``sd_vae_overrides_per_model_preferences`` is on; the
checkpoint's user metadata (``<checkpoint>.json`` key ``vae``); a VAE whose file
name starts with the checkpoint's name; otherwise the setting (Automatic and
None mean the checkpoint's own VAE).  The checkpoint's baked-in VAE is kept on
the CPU the first time another one is loaded, so choosing None restores it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch

from modules.models.checkpoint_io import read_checkpoint

DROPPED_PREFIXES = ("loss", "model_ema.")
"""Keys of VAE files that are not VAE weights (A1111 drops them too)."""


@dataclass(frozen=True)
class VaeChoice:
    """The VAE file to use (None: the checkpoint's own) and why."""

    path: str | None
    source: str


def user_metadata_vae(checkpoint_file: str) -> str | None:
    """The ``vae`` key of the checkpoint's user metadata file (``<checkpoint>.json``), if any."""
    meta_path = os.path.splitext(checkpoint_file)[0] + ".json"
    try:
        with open(meta_path, encoding="utf8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    value = data.get("vae") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def resolve_vae(checkpoint_file: str, opts: Any, cmd_opts: Any, vae_dict: dict[str, str],
                near_checkpoint: Any = None) -> VaeChoice:
    """Pick the VAE for ``checkpoint_file`` following A1111's order (see the module docstring)."""
    vae_path_flag = getattr(cmd_opts, "vae_path", None)
    if vae_path_flag:
        return VaeChoice(os.path.abspath(vae_path_flag), "from commandline argument")
    setting = getattr(opts, "sd_vae", "Automatic") or "Automatic"
    if getattr(opts, "sd_vae_overrides_per_model_preferences", True) and setting != "Automatic":
        return _from_setting(setting, vae_dict)
    metadata_vae = user_metadata_vae(checkpoint_file)
    if metadata_vae is not None:
        if metadata_vae == "None":
            return VaeChoice(None, "from user metadata")
        if metadata_vae in vae_dict:
            return VaeChoice(vae_dict[metadata_vae], "from user metadata")
    near = near_checkpoint(checkpoint_file) if near_checkpoint is not None else None
    if near is not None:
        return VaeChoice(near, "found near the checkpoint")
    if setting in ("Automatic", "None"):
        return VaeChoice(None, "the checkpoint's own")
    return _from_setting(setting, vae_dict)


def _from_setting(setting: str, vae_dict: dict[str, str]) -> VaeChoice:
    if setting == "None":
        return VaeChoice(None, "from settings (None)")
    if setting in vae_dict:
        return VaeChoice(vae_dict[setting], "specified in settings")
    raise FileNotFoundError(f"VAE {setting!r} not found; put it in models/VAE or choose another in Settings > VAE")


def vae_state_dict(path: str, allow_unsafe: bool = False) -> dict[str, torch.Tensor]:
    """A VAE file's weights with the keys of ``first_stage_model`` (prefix removed, training keys dropped)."""
    sd = read_checkpoint(path, "cpu", allow_unsafe)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    result = {}
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor) or key.startswith(DROPPED_PREFIXES):
            continue
        result[key.removeprefix("first_stage_model.")] = value
    return result


class VaeSwitcher:
    """Loads VAE files into a model's ``first_stage_model`` and restores the baked-in one."""

    def __init__(self, allow_unsafe: bool = False) -> None:
        self.allow_unsafe = allow_unsafe

    def apply(self, model: Any, choice: VaeChoice, hasher: Any = None) -> None:
        """Make ``choice`` the model's VAE (a no-op when it already is)."""
        current = getattr(model, "loaded_vae_file", None)
        if current == choice.path:
            return
        vae = model.first_stage_model
        if getattr(model, "base_vae_state", None) is None:
            model.base_vae_state = {k: v.detach().to("cpu", copy=True) for k, v in vae.state_dict().items()}
        if choice.path is None:
            state = model.base_vae_state
        else:
            print(f"Loading VAE weights {choice.source}: {choice.path}", flush=True)
            state = vae_state_dict(choice.path, self.allow_unsafe)
        param = next(vae.parameters())
        vae.load_state_dict({k: v.to(param.device, param.dtype) for k, v in state.items()}, strict=True)
        model.loaded_vae_file = choice.path
        model.sd_vae_name = os.path.basename(choice.path) if choice.path else None
        model.sd_vae_hash = hasher(choice.path) if (hasher is not None and choice.path) else None
