"""What the Train tab's Train Embedding / Train Hypernetwork / Interrupt buttons do.

The two trainings run through the one job queue (``wrap_gradio_gpu_call``: the page's task id is the
first value, so the progress bar over the output follows the job); their answer is A1111's
"Training finished/interrupted at N steps" line, a refusal becomes the error under the output.
"""
from __future__ import annotations

import html
from typing import Any

from modules.core.services import current_services
from modules.runtime.call_queue import wrap_gradio_gpu_call
from modules.runtime.jobs import job_queue
from modules.training.templates import list_templates
from modules.training.validation import TrainingError
from modules.ui.paste import paste_fields

PREVIEW_LABELS = ("Prompt", "Negative prompt", "Steps", "Sampling method", "CFG scale", "Seed", "Size-1", "Size-2")
"""The txt2img controls previews read ("Read parameters ... from txt2img tab"), in A1111's argument order."""


def txt2img_preview_components() -> list[Any] | None:
    """The txt2img tab's prompt, negative prompt, steps, sampler, CFG scale, seed, width and height, or None when
    the txt2img tab (built before this one) does not offer them all."""
    found: dict[str, Any] = {}
    for component, name in (paste_fields.get("txt2img") or {}).get("fields") or []:
        if isinstance(name, str):
            found.setdefault(name, component)
        if getattr(component, "label", None) == "Sampling method":
            found.setdefault("Sampling method", component)
    components = [found.get(label) for label in PREVIEW_LABELS]
    return components if all(c is not None for c in components) else None


def _lowvram_refusal() -> None:
    if getattr(current_services().cmd_opts, "lowvram", False):
        raise TrainingError("Training models with lowvram not possible")


def _finished(what: str, step: int, filename: str) -> str:
    interrupted = bool(getattr(current_services().state, "interrupted", False))
    return (f"\nTraining {'interrupted' if interrupted else 'finished'} at {step} steps.\n"
            f"{what} saved to {html.escape(filename)}\n")


def train_embedding(*args: Any) -> tuple[str, str]:
    """The Train Embedding button: ``(message, error html)`` (arguments: A1111's ``train_embedding`` order)."""
    # torch on first use: the page builds without it
    from modules.training.textual_inversion import train_embedding as train

    _lowvram_refusal()
    embedding, filename = train(*args)
    return _finished("Embedding", embedding.step, filename), ""


def train_hypernetwork(*args: Any) -> tuple[str, str]:
    """The Train Hypernetwork button: ``(message, error html)`` (arguments: A1111's ``train_hypernetwork`` order)."""
    # torch on first use: the page builds without it
    from modules.training.hypernetwork import train_hypernetwork as train

    _lowvram_refusal()
    hypernetwork, filename = train(*args)
    return _finished("Hypernetwork", hypernetwork.step, filename), ""


def interrupt() -> None:
    """The Interrupt button: the training stops after its current step and saves (A1111 interrupts whatever runs:
    every running job, when several run at once)."""
    for state in job_queue().running_states():
        state.interrupt()


def queued(fn: Any) -> Any:
    """``fn`` as a job of the queue; a failure leaves the message empty and shows the error."""
    return wrap_gradio_gpu_call(fn, extra_outputs=[""])


def template_names() -> list[str]:
    """The files of ``--textual-inversion-templates-dir``, for the Prompt template dropdown."""
    return list(list_templates(current_services().cmd_opts.textual_inversion_templates_dir))
