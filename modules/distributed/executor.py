"""The executor ``process_images`` hands jobs to under ``--ray``: chunks out, one-machine results back.

For a job it takes, :class:`RayExecutor` fixes the seeds (a ``-1`` is drawn once, here), cuts the batch count
across the free workers (:mod:`modules.distributed.job_spec`), runs the chunks through the
:class:`~modules.distributed.orchestrator.Orchestrator`, and then does here what the end of a local
``process_images`` does: the pictures saved in order with the workers' infotexts, ``params.txt``, the grid, the
``Processed`` with A1111's fields and the scripts' ``postprocess`` hook.  The job's state (``shared.state``)
follows the workers: iterations done, sampling step, the latest latent for live previews; interrupt and skip
reach the workers running the job.  While its chunks run, a job lends ``queue_lock`` when the job queue runs
several jobs at once (one slot per worker): the next job starts on the free workers meanwhile.

The LoRA, hypernetwork, embedding and VAE files a job uses go with its chunks, by hash, to workers that lack
them (:mod:`modules.distributed.file_shipping`).  Extras jobs run each picture's operations on a worker
(:meth:`RayExecutor.run_postprocessing`) and save here.
Jobs it does not take run here as before: processing classes other than txt2img/img2img, and settings that
save extra pictures from inside the batch loop (before face restoration, masks...), which only a local run
writes in their place.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, ContextManager

from modules.distributed.file_shipping import FileStore, job_files
from modules.distributed.job_spec import Merged, always_on_scripts, constructor_fields, extras_chunks, make_chunks
from modules.distributed.job_spec import network_tags
from modules.distributed.job_spec import merge
from modules.distributed.orchestrator import Orchestrator
from modules.processing import image_saver
from modules.processing.image_saving import output_dir, write_params_txt
from modules.processing.img2img import StableDiffusionProcessingImg2Img
from modules.processing.pipeline import add_grid
from modules.processing.processed import Processed
from modules.processing.processing_base import GenerationError
from modules.processing.rng import get_fixed_seed
from modules.processing.txt2img import StableDiffusionProcessingTxt2Img
from modules.runtime.jobs import job_queue
from modules.runtime.queue_lock import queue_lock

LOCAL_ONLY_SETTINGS = ("save_images_before_face_restoration", "save_images_before_color_correction",
                       "save_images_before_highres_fix", "save_mask", "save_mask_composite", "return_mask",
                       "return_mask_composite")
"""Settings under which a job stays local: the pictures they add are made inside the batch loop."""
SEQUENTIAL_SETTINGS = ("hypertile_enable_unet", "hypertile_enable_unet_secondpass", "hypertile_enable_vae")
"""Settings under which a batch's pictures depend on the batches before it: Hypertile draws its tile counts from
one random sequence seeded once per job and running on through every batch (as in A1111), so a worker starting at
a later batch could not draw what one machine draws there.  Such a job runs whole, as one chunk on one worker."""


def waiting_for_workers() -> ContextManager[bool]:
    """The block waits for chunks on the workers: ``queue_lock`` is lent meanwhile when the job queue runs jobs
    side by side (code in another thread of the job, such as an X/Y/Z cell, holds nothing to lend)."""
    return queue_lock.lent() if job_queue().slots > 1 else contextlib.nullcontext(False)


def _prompts_of(p: Any) -> list[str]:
    """Every prompt text of the job (lists flattened), where its network tags and embedding names are."""
    texts: list[str] = []
    for name in ("prompt", "negative_prompt", "hr_prompt", "hr_negative_prompt"):
        value = getattr(p, name, None)
        texts += [v for v in value if isinstance(v, str)] if isinstance(value, list) else [value] if value else []
    return texts


class RayExecutor:
    """Runs txt2img/img2img jobs on the orchestrator's workers (installed by :func:`modules.distributed.start`)."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        # the object store is reached only when a job uses network files (stand-in orchestrators have none)
        self.files = FileStore(lambda data: self.orchestrator.ray.put(data))

    def accepts(self, p: Any) -> bool:
        if type(p) not in (StableDiffusionProcessingTxt2Img, StableDiffusionProcessingImg2Img):
            return False
        opts = p.services.opts
        return not any(getattr(opts, name, False) for name in LOCAL_ONLY_SETTINGS)

    def parallel_slots(self) -> int:
        """Jobs that can run at once (the workers free now): X/Y/Z plot runs that many cells together."""
        return max(1, self.orchestrator.free_workers())

    def accepts_postprocessing(self) -> bool:
        """Extras jobs run their operations on the workers too (upscalers and face restorers from their folders)."""
        return True

    def run_postprocessing(self, services: Any, task_id: str, pictures: list, op_args: dict) -> list:
        """Each picture's operations on a worker of its own, at once; the processed pictures in order (fewer when
        interrupted).  Saving stays with the caller, as for generation jobs."""
        state = services.state

        def control() -> str | None:
            return "interrupt" if state is not None and state.interrupted else None

        chunks = extras_chunks(task_id, pictures, op_args, dict(services.opts.data))
        with waiting_for_workers():
            results = self.orchestrator.run_chunks(chunks, None, control)
        return [result.picture for result in results]

    def run(self, p: Any) -> Processed:
        services = p.services
        opts, state = services.opts, services.state
        kind = "txt2img" if isinstance(p, StableDiffusionProcessingTxt2Img) else "img2img"
        if not isinstance(p.seed, list):
            p.seed = int(get_fixed_seed(p.seed))
        if not isinstance(p.subseed, list):
            p.subseed = int(get_fixed_seed(p.subseed))
        checkpoint = self._checkpoint(p)
        wanted = (p.override_settings or {}).get("sd_model_checkpoint")
        if wanted is not None and services.checkpoints is not None and services.checkpoints.get_closest_match(wanted) is None:
            raise GenerationError(f"checkpoint {wanted!r} not found")  # the words of a local run (OverrideSettings)
        fields = constructor_fields(p)
        parts = 1 if self.batches_depend_on_each_other(p) else max(1, self.orchestrator.free_workers(checkpoint))
        task_id = getattr(p, "task_id", None) or getattr(state, "current_task_id", None) or "task(ray)"
        chunks = make_chunks(kind, task_id, fields, parts, dict(opts.data), checkpoint)
        scripts = always_on_scripts(p.scripts)
        # workers on this node read its folders: the files are listed (and hashed) only for workers elsewhere
        files = (self.files.manifest(job_files(services, _prompts_of(p), self._vae_name(p)))
                 if self.orchestrator.workers_elsewhere() else [])
        networks = network_tags(_prompts_of(p))
        for chunk in chunks:
            chunk.scripts, chunk.script_args = scripts, list(p.script_args or []) if scripts else []
            chunk.files, chunk.networks = files, networks
        if state is not None and state.job_count == -1:
            state.job_count = p.n_iter

        def on_progress(info: dict[str, Any]) -> None:
            if state is None:
                return
            state.job_no = info["job_no"]
            state.sampling_step, state.sampling_steps = info["sampling_step"], info["sampling_steps"]
            if info.get("latent") is not None:
                state.current_latent = info["latent"]
            state.textinfo = "Ray workers: " + ", ".join(info["workers"]) if info["workers"] else None

        def control() -> str | None:
            if state is None:
                return None
            if state.interrupted or state.stopping_generation:
                return "interrupt"
            if state.skipped:
                state.skipped = False
                return "skip"
            return None

        with waiting_for_workers():
            results = self.orchestrator.run_chunks(chunks, on_progress, control)
        return self._finish(p, merge(results))

    @staticmethod
    def batches_depend_on_each_other(p: Any) -> bool:
        """True when a setting of :data:`SEQUENTIAL_SETTINGS` is on for ``p`` (its own override first)."""
        overrides, opts = p.override_settings or {}, p.services.opts
        return any(overrides.get(name, getattr(opts, name, False)) for name in SEQUENTIAL_SETTINGS)

    @staticmethod
    def _vae_name(p: Any) -> str | None:
        """The VAE file the job asks for by name (None: automatic or none)."""
        name = (p.override_settings or {}).get("sd_vae", getattr(p.services.opts, "sd_vae", None))
        return name if name not in (None, "", "Automatic", "None") else None

    def _checkpoint(self, p: Any) -> str | None:
        """The title of the checkpoint the job uses, as this process's list names it."""
        services = p.services
        name = (p.override_settings or {}).get("sd_model_checkpoint") or getattr(services.opts, "sd_model_checkpoint", None)
        checkpoints = services.checkpoints
        found = checkpoints.get_closest_match(name) if name and checkpoints is not None else None
        return found.title if found is not None else name or None

    def _finish(self, p: Any, merged: Merged) -> Processed:
        """The end of a local ``process_images``, with the workers' pictures: saving, params.txt, grid, Processed."""
        services = p.services
        opts = services.opts
        p.all_prompts, p.all_negative_prompts = merged.all_prompts, merged.all_negative_prompts
        p.all_seeds, p.all_subseeds = merged.all_seeds, merged.all_subseeds
        for name, value in merged.attributes.items():
            setattr(p, name, value)
        for text, n in merged.comments.items():
            p.comments.setdefault(text, n)
        tab = getattr(p, "tab", "txt2img")
        if p.outpath_samples is None:
            p.outpath_samples = output_dir(opts, tab, grid=False, data_dir=services.paths.data_dir)
        if p.outpath_grids is None:
            p.outpath_grids = output_dir(opts, tab, grid=True, data_dir=services.paths.data_dir)
        if merged.infotexts and not services.cmd_opts.no_prompt_history:
            write_params_txt(os.path.join(services.paths.data_dir, "params.txt"), merged.infotexts[0])
        self._save_samples(p, merged)
        images, infotexts = list(merged.images), list(merged.infotexts)
        if not infotexts:
            infotexts.append(merged.grid_text)
        # the grid carries the first chunk's infotext, as a local run's does
        index_of_first_image = add_grid(p, images, infotexts, merged.grid_text)
        seed = p.all_seeds[0] if p.all_seeds else p.seed
        subseed = p.all_subseeds[0] if p.all_subseeds else p.subseed
        res = Processed(p, images_list=images, seed=seed, info=infotexts[0], subseed=subseed,
                        index_of_first_image=index_of_first_image, infotexts=infotexts)
        res.ray_workers = merged.workers
        return res  # the always-on scripts' postprocess ran on each worker, after their process hooks there

    @staticmethod
    def _save_samples(p: Any, merged: Merged) -> None:
        if not p.save_samples() or len(merged.images) != len(merged.infotexts):
            return
        opts = p.services.opts
        batch = max(1, int(p.batch_size))
        for g, (image, text) in enumerate(zip(merged.images, merged.infotexts)):
            n, i = divmod(g, batch)
            p.iteration, p.batch_index = n, i
            p.prompts = p.all_prompts[n * batch:(n + 1) * batch]
            p.negative_prompts = p.all_negative_prompts[n * batch:(n + 1) * batch]
            p.seeds = p.all_seeds[n * batch:(n + 1) * batch]
            p.subseeds = p.all_subseeds[n * batch:(n + 1) * batch]
            parameters = image.info.pop("parameters", None)  # a local run saves before it sets this
            try:
                image_saver.save_image(p.services, image, p.outpath_samples, "", p.seeds[i], p.prompts[i],
                                       opts.samples_format, info=text, p=p)
            finally:
                if parameters is not None:
                    image.info["parameters"] = parameters
