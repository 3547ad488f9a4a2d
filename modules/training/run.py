"""The training loop embeddings and hypernetworks share (A1111's ``train_embedding`` / ``train_hypernetwork`` body).

Per micro-step: the learning rate from the schedule, the loss of one batch divided by the
accumulation count, backward.  Every ``gradient_step`` micro-steps: gradient clipping, one optimizer
step, ``step += 1``, then (A1111's numbering, ``steps_done = step + 1``) a copy saved every N steps
into ``<log>/<kind>s/<name>-<steps_done>.pt``, a loss CSV row (``training_write_csv_every``), a
preview every N steps into ``<log>/images``, and the progress (``state.job_no`` = step,
``state.textinfo``).  It stops at the schedule's last step or when the job is interrupted; what to
train and how to save it is the :class:`Trainee`'s business.
"""
from __future__ import annotations

import contextlib
import html
import math
import os
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from tqdm import tqdm

from modules.core.services import Services
from modules.models.attention import SplitAttention
from modules.processing.processing_base import persistent_cache
from modules.training.dataset import Batch, PersonalizedBase, iterate_batches
from modules.training.learn_rate import LearnRateScheduler
from modules.training.logs import write_loss
from modules.training.previews import Preview, PreviewSettings, make_preview, save_preview
from modules.training.validation import TrainingError

CLIP_GRAD_MODES = ("disabled", "value", "norm")


@dataclass
class TrainingInputs:
    """The Train tab's values both trainings take."""

    learn_rate: str
    batch_size: int
    gradient_step: int
    data_root: str
    log_directory: str
    training_width: int
    training_height: int
    varsize: bool
    steps: int
    clip_grad_mode: str
    clip_grad_value: str
    shuffle_tags: bool
    tag_drop_out: float
    latent_sampling_method: str
    use_weight: bool
    create_image_every: int
    save_every: int
    preview: PreviewSettings | None = None
    """The txt2img settings for previews; None: the training prompt, 20 steps, training size."""


@dataclass
class RunOutcome:
    """What the loop did: the last files it wrote and whether it was interrupted."""

    last_saved_file: str = "<none>"
    last_saved_image: str = "<none>"
    interrupted: bool = False
    steps_trained: int = 0
    losses: list[float] = field(default_factory=list)


class Trainee:
    """What one training changes and how it is saved (an embedding's vectors, a hypernetwork's layers)."""

    kind = "embedding"
    csv_name = "textual_inversion_loss.csv"
    title = "textual inversion"

    def __init__(self, name: str, step: int) -> None:
        self.name = name
        self.step = step
        self.optimizer: Any = None
        """The optimizer once the loop ran (its state goes into the final ``.optim``)."""

    def parameters(self) -> list[torch.Tensor]:
        raise NotImplementedError

    def make_optimizer(self, params: list[torch.Tensor], learn_rate: float) -> Any:
        """The optimizer, with the saved state of an earlier run when there is a matching one."""
        raise NotImplementedError

    def loss(self, model: Any, batch: Batch, device: torch.device) -> torch.Tensor:
        """The loss of one batch (with the graph back to the trained parameters)."""
        raise NotImplementedError

    def save_copy(self, filename: str, name: str, optimizer: Any) -> None:
        """Write the trained object as ``name`` to ``filename`` (with the optimizer state when that is kept)."""
        raise NotImplementedError

    def set_training(self, training: bool) -> None:
        """Switch dropout and the like (hypernetworks); nothing for embeddings."""

    def after_preview(self, preview: Preview, steps_done: int, outcome: RunOutcome) -> None:
        """Called with each preview picture once it is saved."""


@contextlib.contextmanager
def plain_attention(model: Any, enabled: bool) -> Iterator[None]:
    """With ``enabled``, every attention layer computes plain softmax attention (A1111 trains without its
    cross-attention optimizations unless ``training_xattention_optimizations``); restored afterwards."""
    saved: list[tuple[Any, Any]] = []
    if enabled:
        plain = SplitAttention(query_chunk=2**30)
        for module in model.modules():
            if getattr(module, "uses_attention_strategy", False) and hasattr(module, "attention"):
                saved.append((module, module.attention))
                module.attention = plain
    try:
        yield
    finally:
        for module, strategy in saved:
            module.attention = strategy


@contextlib.contextmanager
def vae_in_ram(model: Any, enabled: bool) -> Iterator[None]:
    """``unload_models_when_training``: the VAE waits in RAM while training (it is needed only for previews)."""
    if enabled:
        model.first_stage_model.to("cpu")
    try:
        yield
    finally:
        if enabled:
            model.first_stage_model.to(model.device)


@contextlib.contextmanager
def vae_on_device(model: Any, unloaded: bool) -> Iterator[None]:
    """The VAE back on the model's device for a preview, when training keeps it in RAM."""
    if unloaded:
        model.first_stage_model.to(model.device)
    try:
        yield
    finally:
        if unloaded:
            model.first_stage_model.to("cpu")


def _clip_function(mode: str) -> Callable[..., Any] | None:
    if mode not in CLIP_GRAD_MODES:
        raise TrainingError(f"Gradient Clipping must be one of {', '.join(CLIP_GRAD_MODES)}, got {mode!r}")
    return {"value": torch.nn.utils.clip_grad_value_, "norm": torch.nn.utils.clip_grad_norm_}.get(mode)


def reset_cond_caches(services: Services) -> None:
    """The trained object changed: conds cached by earlier jobs for the same prompt are stale."""
    for kind in ("c", "uc", "hr_c", "hr_uc"):
        persistent_cache(kind, services.opts).reset()


def _tensorboard(services: Services, log_directory: str) -> Any:
    if not services.opts.training_enable_tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        print(f"Error initializing tensorboard (training goes on without it): {e}")
        return None
    return SummaryWriter(log_dir=os.path.join(log_directory, "tensorboard"),
                         flush_secs=services.opts.training_tensorboard_flush_every)


def _textinfo(loss: float, steps_done: int, prompt: str, outcome: RunOutcome, what: str) -> str:
    return ("\n<p>\n"
            f"Loss: {loss:.7f}<br/>\nStep: {steps_done}<br/>\nLast prompt: {html.escape(prompt)}<br/>\n"
            f"Last saved {what}: {html.escape(outcome.last_saved_file)}<br/>\n"
            f"Last saved image: {html.escape(outcome.last_saved_image)}<br/>\n</p>\n")


def run_training(services: Services, model: Any, trainee: Trainee, inputs: TrainingInputs, dataset: PersonalizedBase,
                 log_directory: str, initial_step: int, rng: random.Random | None = None) -> RunOutcome:
    """Train ``trainee`` until ``inputs.steps`` or an interrupt (see the module docstring)."""
    state, opts = services.state, services.opts
    rng = rng or random.Random()
    outcome = RunOutcome()
    scheduler = LearnRateScheduler(inputs.learn_rate, inputs.steps, initial_step)
    clip = _clip_function(inputs.clip_grad_mode)
    clip_sched = LearnRateScheduler(inputs.clip_grad_value, inputs.steps, initial_step, verbose=False) if clip else None
    save_dir = os.path.join(log_directory, f"{trainee.kind}s") if inputs.save_every > 0 else None
    images_dir = os.path.join(log_directory, "images") if inputs.create_image_every > 0 else None
    for folder in (save_dir, images_dir):
        if folder:
            os.makedirs(folder, exist_ok=True)
    params = trainee.parameters()
    optimizer = trainee.make_optimizer(params, scheduler.learn_rate)
    batch_size, gradient_step = dataset.batch_size, dataset.gradient_step
    steps_per_epoch = max(1, len(dataset) // batch_size // gradient_step)
    per_epoch = len(dataset) // batch_size
    max_steps_per_epoch = per_epoch - per_epoch % gradient_step
    writer = _tensorboard(services, log_directory)
    device = model.device
    # half-precision gradients on CUDA are scaled so small ones do not flush to zero (a no-op elsewhere)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    loss_acc = 0.0
    unload = bool(opts.unload_models_when_training) and device.type != "cpu"
    pin = bool(opts.pin_memory) and device.type == "cuda"  # page-locked latents copy to the GPU asynchronously
    bar = tqdm(total=inputs.steps - initial_step, leave=False)
    trainee.set_training(True)
    try:
        with plain_attention(model, not opts.training_xattention_optimizations), vae_in_ram(model, unload):
            for _ in range((inputs.steps - initial_step) * gradient_step):
                if scheduler.finished or state.interrupted:
                    break
                for j, batch in enumerate(iterate_batches(dataset, rng)):
                    if j == max_steps_per_epoch:
                        break
                    if pin:
                        batch.latent_sample = batch.latent_sample.pin_memory()
                    scheduler.apply(optimizer, trainee.step)
                    if scheduler.finished or state.interrupted:
                        break
                    if clip_sched is not None:
                        clip_sched.step(trainee.step)
                    loss = trainee.loss(model, batch, device) / gradient_step
                    loss_acc += loss.item()
                    scaler.scale(loss).backward()
                    if (j + 1) % gradient_step != 0:
                        continue
                    if clip is not None and clip_sched is not None:
                        scaler.unscale_(optimizer)
                        clip(params, clip_sched.learn_rate)
                    scaler.step(optimizer)
                    scaler.update()
                    trainee.step += 1
                    outcome.steps_trained += 1
                    optimizer.zero_grad(set_to_none=True)
                    loss_step, loss_acc = loss_acc, 0.0
                    outcome.losses.append(loss_step)
                    with vae_on_device(model, unload and _preview_due(inputs, trainee.step + 1)):
                        _after_step(services, model, trainee, inputs, optimizer, outcome, loss_step, batch,
                                    steps_per_epoch, scheduler.learn_rate, save_dir, images_dir, log_directory,
                                    writer, bar)
            outcome.interrupted = bool(state.interrupted)
    finally:
        trainee.set_training(False)
        optimizer.zero_grad(set_to_none=True)
        trainee.optimizer = optimizer
        bar.close()
        if writer is not None:
            writer.close()
        reset_cond_caches(services)
    return outcome


def _preview_due(inputs: TrainingInputs, steps_done: int) -> bool:
    return inputs.create_image_every > 0 and steps_done % inputs.create_image_every == 0


def _after_step(services: Services, model: Any, trainee: Trainee, inputs: TrainingInputs, optimizer: Any,
                outcome: RunOutcome, loss_step: float, batch: Batch, steps_per_epoch: int, learn_rate: float,
                save_dir: str | None, images_dir: str | None, log_directory: str, writer: Any, bar: Any = None) -> None:
    """Saving, the loss log, the preview and the progress after one optimizer step."""
    state, opts = services.state, services.opts
    steps_done = trainee.step + 1
    epoch_num, epoch_step = trainee.step // steps_per_epoch, trainee.step % steps_per_epoch
    if bar is not None:
        bar.update()
        bar.set_description(f"Training {trainee.title} [Epoch {epoch_num}: {epoch_step + 1}/{steps_per_epoch}] "
                            f"loss: {loss_step:.7f}")
    if save_dir is not None and steps_done % inputs.save_every == 0:
        outcome.last_saved_file = os.path.join(save_dir, f"{trainee.name}-{steps_done}.pt")
        trainee.save_copy(outcome.last_saved_file, f"{trainee.name}-{steps_done}", optimizer)
    write_loss(log_directory, trainee.csv_name, trainee.step, steps_per_epoch,
               {"loss": f"{loss_step:.7f}", "learn_rate": learn_rate}, opts.training_write_csv_every)
    if writer is not None:
        writer.add_scalar("Loss/train", loss_step, trainee.step)
        writer.add_scalar("Learn rate/train", learn_rate, trainee.step)
    if images_dir is not None and _preview_due(inputs, steps_done):
        trainee.set_training(False)
        reset_cond_caches(services)
        try:
            preview = make_preview(services, batch.cond_text[0], inputs.training_width, inputs.training_height,
                                   inputs.preview)
        finally:
            trainee.set_training(True)
        state.sampling_step = state.sampling_steps = 0
        if preview is not None:
            state.assign_current_image(preview.image)
            path = save_preview(services, preview, images_dir, f"{trainee.name}-{steps_done}")
            outcome.last_saved_image = f"{path}, prompt: {preview.prompt}"
            if writer is not None and opts.training_tensorboard_save_images:
                import numpy as np  # numpy only for tensorboard's picture format

                writer.add_image(f"Validation at epoch {epoch_num}", np.asarray(preview.image), trainee.step,
                                 dataformats="HWC")
            trainee.after_preview(preview, steps_done, outcome)
    state.job_no = trainee.step
    state.textinfo = _textinfo(loss_step, steps_done, batch.cond_text[0], outcome, trainee.kind)
    if not math.isfinite(loss_step):
        raise TrainingError(f"the loss became {loss_step} at step {trainee.step}: lower the learning rate")
