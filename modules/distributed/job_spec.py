"""How one job becomes chunks for workers, and how their results become the one-machine ``Processed``.

Nothing here imports Ray: a chunk is plain data (pickled by Ray into its object store).  A job's batch count
(``n_iter``) is cut into contiguous runs of iterations; each chunk carries the seeds its first picture has in
the one-machine run, so the worker's ``process_images`` draws exactly the noise it would have drawn there:

- ``seed``: ``seed + first * batch_size`` (A1111 adds the picture's index), unless ``subseed_strength`` is set
  (then every picture has the job's seed);
- ``subseed``: ``subseed + first * batch_size`` always;
- a prompt list (prompt matrix, prompts from file) and a seed list are sliced.

Workers never save: the orchestrator saves the merged pictures in order, with the infotexts the workers wrote,
through the same saver, so the files are those of a one-machine run and each is written once.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

KEPT_ON_ORCHESTRATOR = frozenset({"sd_model", "services", "scripts", "script_args", "outpath_samples",
                                  "outpath_grids", "do_not_save_samples", "do_not_save_grid"})
"""Constructor fields that do not travel: live objects of this process, and where and whether to save."""

COPIED_BACK = ("sd_model_name", "sd_model_hash", "sd_vae_name", "sd_vae_hash", "extra_generation_params",
               "restore_faces", "tiling", "sampler_name", "scheduler", "is_using_inpainting_conditioning",
               "s_min_uncond", "s_churn", "s_tmin", "s_tmax", "s_noise", "eta", "ddim_discretize",
               "denoising_strength", "main_prompt", "main_negative_prompt", "seed_resize_from_w",
               "seed_resize_from_h", "hr_upscale_to_x", "hr_upscale_to_y", "hr_prompt", "hr_negative_prompt",
               "all_hr_prompts", "all_hr_negative_prompts")
"""What a worker's processing object learned while it ran, set on the orchestrator's (for ``Processed`` and the
file names): the model's name and hash, the prompts' notes, the defaults filled from settings."""


@dataclass
class Chunk:
    """One run of iterations of a job, for one worker."""

    kind: str
    """``txt2img``, ``img2img`` or :data:`EXTRAS`."""
    task_id: str
    """The job's task id with the chunk's number (``task(...)#1``): a worker's queue never sees it twice."""
    index: int
    first: int
    """The job's iteration this chunk starts at."""
    count: int
    fields: dict[str, Any]
    """The constructor fields of the worker's processing object."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The orchestrator's settings when the job was dispatched (the job runs with them on the worker)."""
    checkpoint: str | None = None
    """The checkpoint title the job uses (its ``override_settings`` or the setting)."""
    scripts: list[tuple[str, str, int | None, int | None]] = field(default_factory=list)
    """The orchestrator's always-on scripts: (file name, title, args_from, args_to), to find the worker's own."""
    script_args: list = field(default_factory=list)
    """The job's script arguments (the always-on scripts' hooks run on the worker with them)."""
    job_seeds: list[int] = field(default_factory=list)
    """The seeds of the job's first batch: ``init`` of the processing object draws with them once per job (img2img's
    VAE posterior and latent-noise fill use the first seeds), so every chunk's ``init`` gets them too."""
    files: list = field(default_factory=list)
    """The network files the job uses (:class:`~modules.distributed.file_shipping.ShippedFile`): a worker lacking
    one receives it before it runs the chunk."""
    networks: tuple[tuple[str, str], ...] = ()
    """The extra networks its prompts name (:func:`network_tags`): a worker whose last chunk used the same set has
    them loaded and applied already, so it is preferred."""


@dataclass
class ChunkResult:
    """What a worker sends back for a chunk."""

    images: list
    infotexts: list[str]
    all_prompts: list[str]
    all_negative_prompts: list[str]
    all_seeds: list[int]
    all_subseeds: list[int]
    attributes: dict[str, Any]
    comments: dict[str, int]
    grid_text: str
    worker: str = ""
    node: str = ""
    interrupted: bool = False
    seconds: float = 0.0
    """The worker's own time for the chunk (from its ``run`` call to the result), for the overhead measure."""


NETWORK_TAG = re.compile(r"<(lora|lyco|hypernet):([^:>]+)")
"""A prompt's extra-network tag (``<lora:name:1>``): its kind and name."""


def network_tags(prompts: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The (kind, name) of every extra network the prompts name, sorted, each once."""
    return tuple(sorted({(kind, name) for text in prompts if text for kind, name in NETWORK_TAG.findall(text)}))


EXTRAS = "extras"
"""The kind of a chunk that runs the Extras operations over one picture (fields ``picture`` and ``args``)."""


def extras_chunks(task_id: str, pictures: list, op_args: dict[str, dict[str, Any]],
                  settings: dict[str, Any]) -> list[Chunk]:
    """One chunk per picture of an Extras job: each goes to its own worker."""
    return [Chunk(EXTRAS, f"{task_id}#{i}", i, i, 1, {"picture": picture, "args": op_args}, settings)
            for i, picture in enumerate(pictures)]


@dataclass
class ExtrasResult:
    """What a worker sends back for an Extras chunk: the picture as the operations left it (its extra pictures,
    info and caption on it)."""

    picture: Any
    worker: str = ""
    node: str = ""
    seconds: float = 0.0


def constructor_fields(p: Any) -> dict[str, Any]:
    """The dataclass fields of ``p`` that rebuild it on a worker (live objects and saving choices left out)."""
    fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)
              if f.init and f.name not in KEPT_ON_ORCHESTRATOR}
    # fields that __post_init__ moves elsewhere are read back from where it put them, so the worker's own
    # __post_init__ sees what this one did: img2img's mask (image_mask), the old hires "firstphase" size
    if "mask" in fields and hasattr(p, "image_mask"):
        fields["mask"] = p.image_mask
    if fields.get("firstphase_width") or fields.get("firstphase_height"):
        fields["width"], fields["height"] = p.hr_upscale_to_x, p.hr_upscale_to_y
    fields["override_settings"] = dict(fields.get("override_settings") or {})
    fields["extra_generation_params"] = dict(fields.get("extra_generation_params") or {})
    fields["comments"] = dict(fields.get("comments") or {})
    return fields


def split_iterations(n_iter: int, parts: int) -> list[tuple[int, int]]:
    """``(first, count)`` of ``parts`` contiguous runs covering ``range(n_iter)``, the longer runs first."""
    parts = max(1, min(parts, n_iter))
    base, extra = divmod(n_iter, parts)
    runs, first = [], 0
    for i in range(parts):
        count = base + (1 if i < extra else 0)
        runs.append((first, count))
        first += count
    return runs


def chunk_fields(fields: dict[str, Any], first: int, count: int) -> dict[str, Any]:
    """``fields`` for iterations ``first .. first+count-1``: seeds of those pictures, prompt lists sliced."""
    batch = int(fields.get("batch_size") or 1)
    lo, hi = first * batch, (first + count) * batch
    out = dict(fields)
    out["n_iter"] = count
    out["do_not_save_samples"] = True
    out["do_not_save_grid"] = True
    seed, subseed = fields.get("seed"), fields.get("subseed")
    if isinstance(seed, list):
        out["seed"] = seed[lo:hi]
    elif not fields.get("subseed_strength"):
        out["seed"] = int(seed) + lo
    if isinstance(subseed, list):
        out["subseed"] = subseed[lo:hi]
    else:
        out["subseed"] = int(subseed) + lo
    for name in ("prompt", "negative_prompt"):
        if isinstance(fields.get(name), list):
            out[name] = fields[name][lo:hi]
    return out


def first_batch_seeds(fields: dict[str, Any]) -> list[int]:
    """The seeds of the job's first batch (as ``process_images`` fixes them)."""
    batch = int(fields.get("batch_size") or 1)
    seed = fields.get("seed")
    if isinstance(seed, list):
        return [int(s) for s in seed[:batch]]
    if fields.get("subseed_strength"):
        return [int(seed)] * batch
    return [int(seed) + i for i in range(batch)]


def make_chunks(kind: str, task_id: str, fields: dict[str, Any], parts: int, settings: dict[str, Any],
                checkpoint: str | None) -> list[Chunk]:
    """The chunks of a job whose seeds are already fixed (no ``-1`` left), for ``parts`` workers."""
    job_seeds = first_batch_seeds(fields)
    return [Chunk(kind, f"{task_id}#{i}", i, first, count, chunk_fields(fields, first, count), settings, checkpoint,
                  job_seeds=job_seeds)
            for i, (first, count) in enumerate(split_iterations(int(fields.get("n_iter") or 1), parts))]


@dataclass
class Merged:
    """The chunks' results in the job's order."""

    images: list
    infotexts: list[str]
    all_prompts: list[str] = field(default_factory=list)
    all_negative_prompts: list[str] = field(default_factory=list)
    all_seeds: list[int] = field(default_factory=list)
    all_subseeds: list[int] = field(default_factory=list)
    comments: dict[str, int] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    grid_text: str = ""
    workers: list[str] = field(default_factory=list)
    interrupted: bool = False


def merge(results: list[ChunkResult]) -> Merged:
    """Concatenate chunk results (given in chunk order); the first chunk's notes describe the job."""
    merged = Merged([], [])
    for r in results:
        merged.images += list(r.images)
        merged.infotexts += list(r.infotexts)
        merged.all_prompts += list(r.all_prompts)
        merged.all_negative_prompts += list(r.all_negative_prompts)
        merged.all_seeds += list(r.all_seeds)
        merged.all_subseeds += list(r.all_subseeds)
        for text, n in r.comments.items():
            merged.comments.setdefault(text, n)
        merged.workers.append(r.worker)
        merged.interrupted = merged.interrupted or r.interrupted
    if results:
        merged.attributes = dict(results[0].attributes)
        merged.grid_text = results[0].grid_text
    return merged


def always_on_scripts(runner: Any) -> list[tuple[str, str, int | None, int | None]]:
    """(file name, title, args_from, args_to) of the runner's always-on scripts (the worker runs their hooks)."""
    return [(os.path.basename(script.filename or ""), script_title(script), script.args_from, script.args_to)
            for script in getattr(runner, "alwayson_scripts", None) or []]


def script_title(script: Any) -> str:
    """A script's title, lower case ('' when it cannot say)."""
    try:
        return str(script.title() or "").lower()
    except Exception:  # an extension's title() failing must not fail the job
        return ""
