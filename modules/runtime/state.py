"""Progress of the running job (A1111's ``shared.state``), read by the progress API and the UI.

The processing layer updates it (job counts, sampling steps, the latest latent
for live previews); interrupt and skip are requests it checks between steps.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable


class State:
    """What the running job is doing right now (the process's one; a job run beside others under ``--ray`` has a
    :class:`JobState` of its own)."""

    def __init__(self) -> None:
        self.skipped = False
        self.interrupted = False
        self.stopping_generation = False
        self.job = ""
        self.job_no = 0
        self.job_count = 0
        self.processing_has_refined_job_count = False
        self.job_timestamp = "0"
        self.sampling_step = 0
        self.sampling_steps = 0
        self.current_latent: Any = None
        self.current_image: Any = None
        self.current_image_sampling_step = 0
        self.id_live_preview = 0
        self.textinfo: str | None = None
        self.time_start: float | None = None
        self.server_start = time.time()
        self.current_task_id: str | None = None
        self._lock = threading.Lock()
        self.preview_decoder: Callable[[Any], Any] | None = None
        """Turns ``current_latent`` into a PIL image for live previews (set by the model layer)."""
        self._server_command: str | None = None
        self._server_command_event = threading.Event()

    # --- requests to the server loop (webui.py) ---
    @property
    def server_command(self) -> str | None:
        """What the serving loop should do next: ``"restart"`` (rebuild the UI in-process), ``"stop"`` or None."""
        return self._server_command

    @server_command.setter
    def server_command(self, value: str | None) -> None:
        self._server_command = value
        self._server_command_event.set()

    def wait_for_server_command(self, timeout: float | None = None) -> str | None:
        """Block until a command is set (or ``timeout`` passes); returns it and clears it."""
        if self._server_command_event.wait(timeout):
            self._server_command_event.clear()
            command, self._server_command = self._server_command, None
            return command
        return None

    def request_restart(self) -> None:
        """A1111's "Reload UI": stop the running job, then the serving loop rebuilds scripts and UI."""
        self.interrupt()
        self.server_command = "restart"

    # --- requests from the UI / API ---
    def interrupt(self) -> None:
        """Stop the job: the current sampling loop ends at its next step."""
        self.interrupted = True

    def stop_generating(self) -> None:
        """Finish the current image, then stop (A1111's ``interrupt_after_current``)."""
        self.stopping_generation = True

    def skip(self) -> None:
        """End the current batch and go on with the next one."""
        self.skipped = True

    # --- called by processing ---
    def begin(self, job: str = "(unknown)", task_id: str | None = None) -> None:
        with self._lock:
            self.sampling_step = 0
            self.time_start = time.time()
            self.job_count = -1
            self.processing_has_refined_job_count = False
            self.job_no = 0
            self.job_timestamp = time.strftime("%Y%m%d%H%M%S")
            self.current_latent = None
            self.current_image = None
            self.current_image_sampling_step = 0
            self.id_live_preview = 0
            self.skipped = False
            self.interrupted = False
            self.stopping_generation = False
            self.textinfo = None
            self.job = job
            # a step that begins inside a queued task (Extras run by the job queue) keeps the task's id, so the
            # page following that task keeps seeing its progress
            if task_id is not None:
                self.current_task_id = task_id

    def end(self) -> None:
        with self._lock:
            self.job = ""
            self.job_count = 0
            self.current_latent = None
            self.current_task_id = None

    def nextjob(self) -> None:
        """One image (or batch) done: count it and reset the step counter."""
        self.job_no += 1
        self.sampling_step = 0
        self.current_image_sampling_step = 0

    def set_current_latent(self, latent: Any, step: int) -> None:
        self.current_latent = latent
        self.sampling_step = step

    def assign_current_image(self, image: Any) -> None:
        self.current_image = image
        self.id_live_preview += 1

    def progress(self) -> float:
        """Fraction of the job done: finished jobs plus the fraction of the current one's steps."""
        if self.job_count in (0, -1):
            return 0.0
        done = self.job_no / self.job_count
        if self.sampling_steps > 0:
            done += 1 / self.job_count * self.sampling_step / self.sampling_steps
        return min(done, 1.0)

    def dict(self) -> dict:
        """A1111's ``state`` object in ``/sdapi/v1/progress``."""
        return {
            "skipped": self.skipped,
            "interrupted": self.interrupted,
            "stopping_generation": self.stopping_generation,
            "job": self.job,
            "job_count": self.job_count,
            "job_timestamp": self.job_timestamp,
            "job_no": self.job_no,
            "sampling_step": self.sampling_step,
            "sampling_steps": self.sampling_steps,
        }


class JobState(State):
    """The own state of one job that the job queue runs beside others (``--ray`` with several workers): its
    progress, live preview, interrupt and skip are its own; requests to the serving loop (restart, stop) go to
    the process's state, which the serving loop waits on."""

    def __init__(self, process_state: State | None) -> None:
        super().__init__()
        self._process_state = process_state
        if process_state is not None:
            self.server_start = process_state.server_start
            self.preview_decoder = process_state.preview_decoder

    @property
    def server_command(self) -> str | None:
        return self._process_state.server_command if self._process_state is not None else None

    @server_command.setter
    def server_command(self, value: str | None) -> None:
        if self._process_state is not None:
            self._process_state.server_command = value

    def wait_for_server_command(self, timeout: float | None = None) -> str | None:
        if self._process_state is None:
            return None
        return self._process_state.wait_for_server_command(timeout)
