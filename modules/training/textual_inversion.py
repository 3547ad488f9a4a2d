"""Training a textual-inversion embedding (A1111's ``train_embedding``).

The embedding's vectors (float32, on the model's device) are the only trained parameters: prompts
made from the templates contain its name, the prompt path puts the vectors in place of the name's
tokens, and the loss flows back through the frozen text encoder and UNet.  AdamW without weight
decay, as A1111.  Files: ``<embeddings dir>/<name>.pt`` at the end, copies in
``<log>/embeddings/<name>-<steps>.pt`` every N steps, previews in ``<log>/images`` and, with "Save
images with embedding in PNG chunks", ``<log>/image_embeddings/<name>-<steps>.png`` holding the
embedding (readable as an embedding by A1111 and this web UI).  With ``save_optimizer_state`` the
optimizer state goes to ``<file>.optim`` with a checksum of the vectors, and a later run resumes it.
"""
from __future__ import annotations

import os
import random
from typing import Any

import torch

from modules.core.services import Services, current_services
from modules.models.memory.placement import job_guard
from modules.prompting.textual_inversion.creation import embedding_file_data
from modules.prompting.textual_inversion.file_loading import load_pickle_safely
from modules.training import common
from modules.training.dataset import Batch
from modules.training.diffusion_loss import diffusion_loss
from modules.training.embedding_image import embedding_preview_png
from modules.training.previews import Preview
from modules.training.run import RunOutcome, Trainee, run_training
from modules.training.validation import TrainingError


def embedding_checksum(vec: torch.Tensor) -> str:
    """A1111's 4-hex checksum of the vectors, which ties a ``.optim`` file to the embedding it was saved with."""
    value = 0
    for v in (vec.detach().float().cpu().reshape(-1) * 100).tolist():
        value = (value * 281 ^ int(v) * 997) & 0xFFFFFFFF
    return f"{value & 0xffff:04x}"


def load_optimizer_state(filename: str, vec: torch.Tensor) -> Any:
    """The optimizer state in ``<filename>.optim`` when its checksum matches ``vec``, else None."""
    path = f"{filename}.optim"
    if not os.path.exists(path):
        return None
    saved = load_pickle_safely(path)
    if isinstance(saved, dict) and saved.get("hash") == embedding_checksum(vec):
        return saved.get("optimizer_state_dict")
    print(f"Cannot resume from saved optimizer: {path} was saved with other vectors")
    return None


class EmbeddingTrainee(Trainee):
    """One embedding of the database, trained in place (prompts use it while it trains)."""

    def __init__(self, services: Services, embedding: Any, filename: str, preview_embed_dir: str | None,
                 checkpoint: tuple[str | None, str | None]) -> None:
        super().__init__(embedding.name, int(embedding.step or 0))
        self.services = services
        self.embedding = embedding
        self.filename = filename
        self.preview_embed_dir = preview_embed_dir
        self.checkpoint_hash, self.checkpoint_name = checkpoint
        self.image_conditioning: torch.Tensor | None = None
        self.copy_not_yet_in_picture = False

    def parameters(self) -> list[torch.Tensor]:
        return [self.embedding.vec]

    def make_optimizer(self, params: list[torch.Tensor], learn_rate: float) -> Any:
        optimizer = torch.optim.AdamW(params, lr=learn_rate, weight_decay=0.0)
        if self.services.opts.save_optimizer_state:
            state = load_optimizer_state(self.filename, self.embedding.vec)
            if state is not None:
                optimizer.load_state_dict(state)
                print("Loaded existing optimizer from checkpoint")
            else:
                print("No saved optimizer exists in checkpoint")
        return optimizer

    def loss(self, model: Any, batch: Batch, device: torch.device) -> torch.Tensor:
        x = batch.latent_sample.to(device=device, dtype=model.dtype, non_blocking=True)
        c = model.get_learned_conditioning(batch.cond_text)
        return diffusion_loss(model, x, common.conditioning_for(model, x, c), batch.weight)

    def file_data(self, name: str) -> dict[str, Any]:
        return embedding_file_data(self.embedding.vec.detach().cpu().clone(), name, self.step, self.checkpoint_hash,
                                   self.checkpoint_name)

    def save_copy(self, filename: str, name: str, optimizer: Any) -> None:
        """A1111's ``save_embedding``: the ``.pt`` and, with ``save_optimizer_state``, its ``.optim``."""
        os.makedirs(os.path.dirname(filename), exist_ok=True)
        torch.save(self.file_data(name), filename)
        if self.services.opts.save_optimizer_state and optimizer is not None:
            torch.save({"hash": embedding_checksum(self.embedding.vec), "optimizer_state_dict": optimizer.state_dict()},
                       f"{filename}.optim")
        self.copy_not_yet_in_picture = True

    def after_preview(self, preview: Preview, steps_done: int, outcome: RunOutcome) -> None:
        """The preview with the last saved copy inside it, as A1111's ``image_embeddings`` pictures."""
        if self.preview_embed_dir is None or not self.copy_not_yet_in_picture:
            return
        if not os.path.exists(outcome.last_saved_file):
            return
        data = load_pickle_safely(outcome.last_saved_file)
        path = os.path.join(self.preview_embed_dir, f"{self.name}-{steps_done}.png")
        embedding_preview_png(preview.image, data, path, self.checkpoint_name or "", self.checkpoint_hash, steps_done)
        self.copy_not_yet_in_picture = False


def _embedding_to_train(services: Services, name: str, model: Any) -> Any:
    db = services.embeddings
    if db is None:
        raise TrainingError("The embedding database is not set up")
    db.load_textual_inversion_embeddings()
    embedding = db.word_embeddings.get(name)
    if embedding is None:
        raise TrainingError(f"Embedding {name!r} is not loaded (create it first, or it does not fit this model)")
    if isinstance(embedding.vec, dict):
        raise TrainingError(f"Embedding {name!r} is an SDXL embedding; training is for SD1 and SD2 models")
    return embedding


def train_embedding(id_task: Any = None, embedding_name: str = "", learn_rate: Any = "0.005", batch_size: Any = 1,
                    gradient_step: Any = 1, data_root: str = "", log_directory: str = "textual_inversion",
                    training_width: Any = 512, training_height: Any = 512, varsize: bool = False,
                    steps: Any = 100000, clip_grad_mode: str = "disabled", clip_grad_value: Any = "0.1",
                    shuffle_tags: bool = False, tag_drop_out: Any = 0, latent_sampling_method: str = "once",
                    use_weight: bool = False, create_image_every: Any = 500, save_embedding_every: Any = 500,
                    template_filename: str = "style_filewords.txt", save_image_with_stored_embedding: bool = True,
                    preview_from_txt2img: bool = False, preview_prompt: str = "", preview_negative_prompt: str = "",
                    preview_steps: Any = 20, preview_sampler_name: str = "Euler a", preview_cfg_scale: Any = 7.0,
                    preview_seed: Any = -1, preview_width: Any = 512, preview_height: Any = 512,
                    services: Services | None = None) -> tuple[Any, str]:
    """Train ``embedding_name`` (A1111's signature and argument names); returns ``(embedding, final file)``.

    Runs inside a job of the queue (it reads the job's interrupt flag and reports progress through
    the services' state).  Bad inputs raise :class:`TrainingError` before anything is written.
    """
    services = services or current_services()
    state = services.state
    preview = common.preview_settings(preview_from_txt2img, preview_prompt, preview_negative_prompt, preview_steps,
                                      preview_sampler_name, preview_cfg_scale, preview_seed, preview_width,
                                      preview_height)
    inputs, template_path = common.training_inputs(
        services, "embedding", embedding_name, learn_rate, batch_size, gradient_step, data_root, log_directory,
        training_width, training_height, varsize, steps, clip_grad_mode, clip_grad_value, shuffle_tags, tag_drop_out,
        latent_sampling_method, use_weight, create_image_every, save_embedding_every, template_filename, preview)
    model = common.trainable_model(services)
    state.job = "train-embedding"
    state.textinfo = "Initializing textual inversion training..."
    state.job_count = inputs.steps
    embedding = _embedding_to_train(services, embedding_name, model)
    filename = os.path.join(services.cmd_opts.embeddings_dir, f"{embedding_name}.pt")
    log_dir = common.log_directory_for(services, inputs.log_directory, embedding_name)
    initial_step = int(embedding.step or 0)
    if initial_step >= inputs.steps:
        state.textinfo = "Model has already been trained beyond specified max steps"
        return embedding, filename
    embed_dir = None
    if inputs.create_image_every > 0 and save_image_with_stored_embedding:
        embed_dir = os.path.join(log_dir, "image_embeddings")
        os.makedirs(embed_dir, exist_ok=True)
    rng = random.Random(random.getrandbits(64))  # seeding Python's random makes a run repeatable
    settings = {**vars(inputs), "embedding_name": embedding_name, "template_file": template_path,
                "initial_step": initial_step, "num_vectors_per_token": embedding.vectors,
                "save_embedding_every": inputs.save_every,
                "save_image_with_stored_embedding": save_image_with_stored_embedding,
                "preview_from_txt2img": preview_from_txt2img, **_preview_values(preview)}
    # the memory manager starts the job from rest and turns running out of device memory into advice
    with job_guard(services):
        dataset = common.build_dataset(services, model, inputs, template_path, embedding_name, include_cond=False,
                                       rng=rng)
        common.write_settings(services, log_dir, model, dataset, settings)
        trainee = EmbeddingTrainee(services, embedding, filename, embed_dir, common.checkpoint_identity(model))
        _train(services, model, trainee, inputs, dataset, log_dir, initial_step, rng)
    embedding.sd_checkpoint, embedding.sd_checkpoint_name = trainee.checkpoint_hash, trainee.checkpoint_name
    embedding.filename, embedding.hash = filename, None
    return embedding, filename


def _train(services: Services, model: Any, trainee: EmbeddingTrainee, inputs: Any, dataset: Any, log_dir: str,
           initial_step: int, rng: random.Random) -> None:
    """The loop with the vectors trainable on the model's device; they go back to the CPU, detached, afterwards."""
    embedding = trainee.embedding
    embedding.vec = embedding.vec.detach().to(device=model.device, dtype=torch.float32).requires_grad_(True)
    try:
        run_training(services, model, trainee, inputs, dataset, log_dir, initial_step, rng)
        trainee.save_copy(trainee.filename, trainee.name, trainee.optimizer)
    finally:
        embedding.vec = embedding.vec.detach().cpu()
        embedding.step = trainee.step


def _preview_values(preview: Any) -> dict[str, Any]:
    return {} if preview is None else {f"preview_{k}": v for k, v in vars(preview).items()}

