"""A runtime without the UI or the HTTP server: the bootstrap's services and the one job queue.

:func:`start_headless` runs the same start-up as ``webui.py`` (:func:`modules.runtime.bootstrap.initialize`:
options, flags, extensions, model registries, scripts, the model) and stops there: no gradio page,
no FastAPI app.  Jobs go through :mod:`modules.runtime.jobs`, the queue the UI and the API use, so
they run one at a time with every other user of ``queue_lock`` and ``services.state`` follows them::

    runtime = start_headless(["--data-dir", "/srv/webui"])
    processed = runtime.txt2img(prompt="a cat", steps=20, width=512, height=512)
    processed.images[0].save("cat.png")

The scripts loaded at start-up are not run for these jobs: a script's arguments come from its UI
components (built with gradio), and a headless caller has none.  A caller that has them sets
``p.scripts`` / ``p.script_args`` itself through :meth:`HeadlessRuntime.run`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from modules.core.services import Services
from modules.processing.pipeline import process_images
from modules.processing.processed import Processed
from modules.processing.txt2img import StableDiffusionProcessingTxt2Img
from modules.runtime.bootstrap import ModelLoader, StartupResult, initialize
from modules.runtime.jobs import Job, job_queue
from modules.runtime.progress import create_task_id


@dataclass
class HeadlessRuntime:
    """One started runtime: its services and what its start-up did."""

    services: Services
    startup: StartupResult

    def txt2img_job(self, **fields: Any) -> Callable[[], Processed]:
        """The job making pictures from ``fields`` (``StableDiffusionProcessingTxt2Img``'s fields: ``prompt``,
        ``steps``, ``width``, ``sampler_name``...), to run on the job queue's worker."""
        def run() -> Processed:
            p = StableDiffusionProcessingTxt2Img(services=self.services, **fields)
            try:
                return process_images(p)
            finally:
                p.close()

        return run

    def txt2img(self, *, task_id: str | None = None, **fields: Any) -> Processed:
        """Run a txt2img job through the job queue and wait for it; raises the job's exception."""
        return self.run(self.txt2img_job(**fields), task_id=task_id, kind="txt2img")

    def submit_txt2img(self, *, task_id: str | None = None, **fields: Any) -> Job:
        """Queue a txt2img job and return its :class:`~modules.runtime.jobs.Job` at once (``job.done.wait()``,
        ``job.take_result()``)."""
        task_id = task_id or create_task_id("txt2img")
        return job_queue().submit(self.txt2img_job(**fields), task_id=task_id, name="scripts_txt2img", kind="txt2img")

    def run(self, fn: Callable[[], Any], *, task_id: str | None = None, kind: str = "job") -> Any:
        """Run ``fn`` as a job on the queue (after the jobs already waiting) and return its result."""
        task_id = task_id or create_task_id(kind)
        return job_queue().run(fn, task_id=task_id, name=f"scripts_{kind}", kind=kind)


def start_headless(argv: Sequence[str] = (), *, model_loader: ModelLoader | None = None) -> HeadlessRuntime:
    """Start a runtime for the flags ``argv`` (``--data-dir``, ``--ckpt``...) without UI or server.

    ``--nowebui`` is added (extensions see an API-style start); the model loads in this thread, so it is
    ready (or its failure printed) when this returns.  The services are installed as the current ones
    (``modules.shared`` shows them) for extensions' code.
    """
    flags = list(argv)
    if "--nowebui" not in flags:
        flags.append("--nowebui")
    result = initialize(flags, model_loader=model_loader)
    return HeadlessRuntime(result.services, result)
