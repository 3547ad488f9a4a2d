"""Checkpoint merging (the Checkpoint Merger tab; A1111's ``extras.run_modelmerger``), without gradio.

Methods, as A1111 computes them on every key whose name contains ``model``:

- Weighted sum: ``A * (1 - M) + B * M`` (keys missing in B stay as in A);
- Add difference: ``A + M * (B - C)`` (a key missing in C makes ``B - C`` zero);
- No interpolation: A alone (format conversion, float16, VAE baking, discarding weights).

An inpainting (9 input channels) or InstructPix2Pix (8) A merged with a normal
B merges the 4 channels they share; the other order is refused.  Files are read
with the same safe loader as checkpoints (no code from pickles), written as
``.safetensors`` (with A1111's metadata) or ``.ckpt``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Callable

import torch
from safetensors.torch import save_file

from modules.models.checkpoint_io import read_checkpoint
from modules.models.checkpoints.registry import find_checkpoint_config_near_filename
from modules.models.state_dict_fixups import unwrap_state_dict
from modules.models.vae_selection import vae_state_dict

METHODS = ("No interpolation", "Weighted sum", "Add difference")
CONFIG_SOURCES = ("A, B or C", "B", "C", "Don't")
SKIP_ON_MERGE = frozenset({"cond_stage_model.transformer.text_model.embeddings.position_ids"})
"""Keys A1111 never merges (integer position ids that must stay as in A)."""


class MergeError(ValueError):
    """A merge that cannot be done; the message is shown to the user as is."""


@dataclass
class MergeRequest:
    """The Merger tab's fields, in A1111's order and meaning."""

    primary: str | None
    secondary: str | None = None
    tertiary: str | None = None
    interp_method: str = "Weighted sum"
    multiplier: float = 0.3
    save_as_half: bool = False
    custom_name: str = ""
    checkpoint_format: str = "safetensors"
    config_source: int = 0
    """Index into :data:`CONFIG_SOURCES`."""
    bake_in_vae: str | None = "None"
    discard_weights: str = ""
    save_metadata: bool = True
    add_merge_recipe: bool = True
    copy_metadata_fields: bool = True
    metadata_json: str = "{}"


def weighted_sum(a: torch.Tensor, b: torch.Tensor, m: float) -> torch.Tensor:
    return (1 - m) * a + m * b


def add_difference(a: torch.Tensor, difference: torch.Tensor, m: float) -> torch.Tensor:
    return a + m * difference


def _to_half(tensor: torch.Tensor, enable: bool) -> torch.Tensor:
    return tensor.half() if enable and tensor.dtype == torch.float32 else tensor


def _read_tensors(filename: str, allow_unsafe: bool) -> dict[str, torch.Tensor]:
    data = unwrap_state_dict(read_checkpoint(filename, "cpu", allow_unsafe))
    # keys as the file has them: the result keeps the inputs' layout
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}


def _output_name(req: MergeRequest, a: Any, b: Any, c: Any) -> str:
    if req.custom_name:
        return req.custom_name
    m = round(req.multiplier, 2)
    if req.interp_method == "Weighted sum":
        return f"{round(1 - req.multiplier, 2)}({a.model_name}) + {m}({b.model_name})"
    if req.interp_method == "Add difference":
        return f"{a.model_name} + {m}({b.model_name} - {c.model_name})"
    return a.model_name


def _check_name(name: str) -> None:
    # the name becomes a file in the checkpoints folder: never a path elsewhere
    if not name.strip() or name != os.path.basename(name) or "\\" in name or name in (".", "..") or "\0" in name:
        raise MergeError(f"Failed: {name!r} is not a file name (no folders allowed).")


@dataclass
class _Plan:
    """A request checked against the registry before any file is read: the inputs, the method, the output name."""

    a: Any
    b: Any
    c: Any
    combine: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor] | None
    discard: re.Pattern[str] | None
    user_metadata: dict[str, Any]
    name: str


class _Progress:
    """The merge's progress on the job state (``textinfo``, step counters, jobs); silent without a state."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def jobs(self, count: int) -> None:
        if self.state is not None:
            self.state.job_count = count

    def note(self, text: str) -> None:
        if self.state is not None:
            self.state.textinfo = text

    def steps(self, count: int) -> None:
        if self.state is not None:
            self.state.sampling_steps = count
            self.state.sampling_step = 0

    def step(self) -> None:
        if self.state is not None:
            self.state.sampling_step += 1

    def next_job(self) -> None:
        if self.state is not None:
            self.state.nextjob()


def _plan(req: MergeRequest, registry: Any) -> _Plan:
    """Check ``req`` and find its checkpoints; :class:`MergeError` for a request that cannot be done."""
    if req.interp_method not in METHODS:
        raise MergeError(f"Failed: unknown interpolation method {req.interp_method!r}.")
    if req.checkpoint_format not in ("ckpt", "safetensors"):
        raise MergeError(f"Failed: unknown checkpoint format {req.checkpoint_format!r}.")
    combine = {"Weighted sum": weighted_sum, "Add difference": add_difference}.get(req.interp_method)
    uses_c = req.interp_method == "Add difference"

    def lookup(title: str | None, what: str) -> Any:
        info = registry.checkpoint_aliases.get(title) if title else None
        if info is None and title:
            info = registry.get_closest_match(title)
        if info is None:
            raise MergeError(f"Failed: {what} checkpoint {title!r} not found." if title else
                             f"Failed: Merging requires a {what} model.")
        return info

    if not req.primary:
        raise MergeError("Failed: Merging requires a primary model.")
    a = lookup(req.primary, "primary")
    if combine is not None and not req.secondary:
        raise MergeError("Failed: Merging requires a secondary model.")
    b = lookup(req.secondary, "secondary") if combine is not None else None
    if uses_c and not req.tertiary:
        raise MergeError(f"Failed: Interpolation method ({req.interp_method}) requires a tertiary model.")
    c = lookup(req.tertiary, "tertiary") if uses_c else None
    try:
        discard = re.compile(req.discard_weights) if req.discard_weights else None
    except re.error as e:
        raise MergeError(f"Failed: 'Discard weights with matching name' is not a valid regular expression: {e}")
    user_metadata: dict[str, Any] = {}
    if req.save_metadata and req.checkpoint_format == "safetensors":
        try:
            user_metadata = json.loads(req.metadata_json or "{}")
        except json.JSONDecodeError as e:
            raise MergeError(f"Failed: the metadata is not valid JSON: {e}")
        if not isinstance(user_metadata, dict):
            raise MergeError("Failed: the metadata must be a JSON object.")
    name = _output_name(req, a, b, c)
    _check_name(name)
    return _Plan(a, b, c, combine, discard, user_metadata, name)


def merge_checkpoints(req: MergeRequest, registry: Any, vae_dict: dict[str, str], *, ckpt_dir: str | None = None,
                      allow_unsafe: bool = False, state: Any = None) -> str:
    """Merge as ``req`` says; returns the written file's path.  :class:`MergeError` for a request that cannot be
    done (nothing is written then)."""
    plan = _plan(req, registry)
    progress = _Progress(state)
    progress.jobs((1 if plan.c is not None else 0) + (1 if plan.combine else 0) + 1)
    theta_1 = _load_other(plan, allow_unsafe, progress)
    progress.note(f"Loading {plan.a.filename}...")
    theta_0 = _read_tensors(plan.a.filename, allow_unsafe)
    inpainting = instruct_pix2pix = False
    if theta_1 is not None:
        inpainting, instruct_pix2pix = _merge_into(theta_0, theta_1, plan.combine, req, progress)
        del theta_1
        progress.next_job()
    theta_0 = _finish_weights(theta_0, req, plan, vae_dict, allow_unsafe, progress)
    return _write(theta_0, req, plan, registry, ckpt_dir, inpainting, instruct_pix2pix, progress)


def _load_other(plan: _Plan, allow_unsafe: bool, progress: _Progress) -> dict[str, torch.Tensor] | None:
    """What is merged into A: B, or ``B - C`` for Add difference (C freed before A is read); None without B."""
    if plan.b is None:
        return None
    progress.note("Loading B")
    theta_1 = _read_tensors(plan.b.filename, allow_unsafe)
    if plan.c is None:
        return theta_1
    progress.note("Loading C")
    theta_2 = _read_tensors(plan.c.filename, allow_unsafe)
    progress.note("Merging B and C")
    progress.steps(len(theta_1))
    for key in theta_1:
        if key not in SKIP_ON_MERGE and "model" in key:
            other = theta_2.get(key)
            theta_1[key] = theta_1[key] - other if other is not None else torch.zeros_like(theta_1[key])
        progress.step()
    del theta_2
    progress.next_job()
    return theta_1


def _merge_into(theta_0: dict[str, torch.Tensor], theta_1: dict[str, torch.Tensor],
                combine: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor], req: MergeRequest,
                progress: _Progress) -> tuple[bool, bool]:
    """Combine every ``model`` key of A (``theta_0``, in place) with B's; returns (inpainting, instruct_pix2pix):
    whether a 9- or 8-channel A was merged with a normal B."""
    inpainting = instruct_pix2pix = False
    progress.note("Merging A and B")
    progress.steps(len(theta_0))
    for key in list(theta_0):
        progress.step()
        if "model" not in key or key not in theta_1 or key in SKIP_ON_MERGE:
            continue
        x, y = theta_0[key], theta_1[key]
        if x.shape != y.shape and x.dim() == 4 and y.dim() == 4 and \
                x.shape[0:1] + x.shape[2:] == y.shape[0:1] + y.shape[2:]:
            if x.shape[1] == 4 and y.shape[1] == 9:
                raise MergeError("When merging inpainting model with a normal one, A must be the inpainting model.")
            if x.shape[1] == 4 and y.shape[1] == 8:
                raise MergeError("When merging instruct-pix2pix model with a normal one, A must be the "
                                 "instruct-pix2pix model.")
            if (x.shape[1], y.shape[1]) not in ((8, 4), (9, 4)):
                raise MergeError(f"Bad dimensions for merged layer {key}: A={tuple(x.shape)}, B={tuple(y.shape)}")
            # only the 4 latent channels both have are merged; the extra image/mask channels stay A's
            merged = x.clone()
            merged[:, 0:4] = combine(x[:, 0:4], y, req.multiplier)
            instruct_pix2pix |= x.shape[1] == 8
            inpainting |= x.shape[1] == 9
            theta_0[key] = merged
        elif x.shape != y.shape:
            raise MergeError(f"Bad dimensions for merged layer {key}: A={tuple(x.shape)}, B={tuple(y.shape)} "
                             "(are the models of the same family?)")
        else:
            theta_0[key] = combine(x, y, req.multiplier)
        theta_0[key] = _to_half(theta_0[key], req.save_as_half)
    return inpainting, instruct_pix2pix


def _finish_weights(theta_0: dict[str, torch.Tensor], req: MergeRequest, plan: _Plan, vae_dict: dict[str, str],
                    allow_unsafe: bool, progress: _Progress) -> dict[str, torch.Tensor]:
    """The merged weights with the VAE baked in, halved when asked (No interpolation) and the discarded keys gone."""
    vae_file = vae_dict.get(req.bake_in_vae) if req.bake_in_vae and req.bake_in_vae != "None" else None
    if req.bake_in_vae and req.bake_in_vae != "None" and vae_file is None:
        raise MergeError(f"Failed: VAE {req.bake_in_vae!r} not found.")
    if vae_file is not None:
        progress.note("Baking in VAE")
        for key, value in vae_state_dict(vae_file, allow_unsafe).items():
            full_key = "first_stage_model." + key
            if full_key in theta_0:
                theta_0[full_key] = _to_half(value, req.save_as_half)
    if req.save_as_half and plan.combine is None:
        theta_0 = {k: _to_half(v, True) for k, v in theta_0.items()}
    if plan.discard is not None:
        theta_0 = {k: v for k, v in theta_0.items() if not plan.discard.search(k)}
    return theta_0


def _write(theta_0: dict[str, torch.Tensor], req: MergeRequest, plan: _Plan, registry: Any, ckpt_dir: str | None,
           inpainting: bool, instruct_pix2pix: bool, progress: _Progress) -> str:
    """Save the result into the checkpoints folder with its config, list it and hash it; returns its path."""
    filename = plan.name + (".inpainting" if inpainting else "") + (".instruct-pix2pix" if instruct_pix2pix else "")
    filename += "." + req.checkpoint_format
    out_dir = ckpt_dir or registry.model_path
    os.makedirs(out_dir, exist_ok=True)
    output = os.path.join(out_dir, filename)

    progress.note("Saving")
    if req.checkpoint_format == "safetensors":
        a, b, c = plan.a, plan.b, plan.c
        metadata = _metadata(req, a, b, c, plan.user_metadata, inpainting, instruct_pix2pix) if req.save_metadata else {}
        # safetensors wants contiguous tensors that share no memory
        save_file({k: _own_storage(v) for k, v in theta_0.items()}, output, metadata=metadata or None)
    else:
        torch.save(theta_0, output)
    _copy_config(output, req.config_source, plan.a, plan.b, plan.c)

    registry.refresh()
    created = next((info for info in registry.checkpoints_list.values()
                    if os.path.abspath(info.filename) == os.path.abspath(output)), None)
    if created is not None:
        created.calculate_shorthash()
    progress.note("Checkpoint saved")
    return output


def _own_storage(tensor: torch.Tensor) -> torch.Tensor:
    """safetensors refuses tensors sharing memory: views into a larger storage (as pickles hold them) are copied."""
    tensor = tensor.contiguous()
    if tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size():
        tensor = tensor.clone()
    return tensor


def _metadata(req: MergeRequest, a: Any, b: Any, c: Any, user: dict[str, Any], inpainting: bool,
              instruct_pix2pix: bool) -> dict[str, str]:
    metadata: dict[str, Any] = {}
    if req.copy_metadata_fields:
        for info in (a, b, c):
            if info is not None:
                metadata.update(info.metadata or {})
    metadata.update(user)
    metadata["format"] = "pt"
    if req.add_merge_recipe:
        for info in (a, b, c):
            if info is not None:
                info.calculate_shorthash()
        recipe = {
            "type": "webui",
            "primary_model_hash": a.sha256,
            "secondary_model_hash": b.sha256 if b is not None else None,
            "tertiary_model_hash": c.sha256 if c is not None else None,
            "interp_method": req.interp_method,
            "multiplier": req.multiplier,
            "save_as_half": req.save_as_half,
            "custom_name": req.custom_name,
            "config_source": req.config_source,
            "bake_in_vae": req.bake_in_vae,
            "discard_weights": req.discard_weights,
            "is_inpainting": inpainting,
            "is_instruct_pix2pix": instruct_pix2pix,
        }
        models: dict[str, Any] = {}
        for info in (a, b, c):
            if info is None:
                continue
            own = info.metadata or {}
            models[info.sha256] = {"name": info.name, "legacy_hash": info.hash,
                                   "sd_merge_recipe": _json_or_none(own.get("sd_merge_recipe"))}
            nested = _json_or_none(own.get("sd_merge_models"))
            if isinstance(nested, dict):
                models.update(nested)
        metadata["sd_merge_recipe"] = json.dumps(recipe)
        metadata["sd_merge_models"] = json.dumps(models)
    # safetensors metadata holds strings only
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}


def _json_or_none(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _copy_config(output: str, source: int, a: Any, b: Any, c: Any) -> None:
    """Copy the chosen input's own ``.yaml`` beside the result (A1111's ``create_config``)."""
    candidates = {0: (a, b, c), 1: (b,), 2: (c,)}.get(source, ())
    for info in candidates:
        config = find_checkpoint_config_near_filename(info)
        if config is not None:
            shutil.copyfile(config, os.path.splitext(output)[0] + ".yaml")
            return
