"""Training a hypernetwork (A1111's ``train_hypernetwork``).

The hypernetwork file is read fresh, becomes the only active hypernetwork (its MLPs hooked into every
cross-attention's k/v context) and its layers are trained, in train mode (dropout on, multiplier
ignored), with the optimizer named in its ``.optim`` file (AdamW when there is none).  The prompts'
conditioning is computed once per picture unless tags are shuffled or dropped.  Files:
``<hypernetwork dir>/<name>.pt`` at the end (also after an error), copies in
``<log>/hypernetworks/<name>-<steps>.pt`` every N steps, previews in ``<log>/images``.  With
``save_optimizer_state``, ``<file>.optim`` holds ``optimizer_name``, the optimizer state and the
saved file's short hash, and a later run resumes from it when the hash matches.
"""
from __future__ import annotations

import inspect
import os
import pickle
import random
from typing import Any

import torch

from modules.core.hashing import calculate_sha256
from modules.core.services import Services, current_services
from modules.models.memory.placement import job_guard
from modules.networks.hypernetworks.hypernetwork import Hypernetwork, HypernetworkError
from modules.networks.hypernetworks.setup import live_registry
from modules.training import common
from modules.training.dataset import Batch
from modules.training.diffusion_loss import diffusion_loss
from modules.training.run import Trainee, run_training
from modules.training.validation import TrainingError

OPTIMIZERS: dict[str, type] = {name: cls for name, cls in inspect.getmembers(torch.optim, inspect.isclass)
                               if issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer}
"""Every optimizer class of ``torch.optim`` by name (A1111's ``optimizer_dict``)."""


def hypernetwork_file_data(hypernetwork: Hypernetwork, name: str, sd_checkpoint: str | None,
                           sd_checkpoint_name: str | None) -> dict[Any, Any]:
    """A1111's ``Hypernetwork.save`` dictionary for ``hypernetwork`` saved as ``name``."""
    data: dict[Any, Any] = {size: (pair[0].state_dict(), pair[1].state_dict())
                            for size, pair in hypernetwork.layers.items()}
    dropout = hypernetwork.dropout_structure
    data.update({"step": hypernetwork.step, "name": name, "layer_structure": hypernetwork.layer_structure,
                 "activation_func": hypernetwork.activation_func, "is_layer_norm": hypernetwork.add_layer_norm,
                 "weight_initialization": hypernetwork.weight_init, "sd_checkpoint": sd_checkpoint,
                 "sd_checkpoint_name": sd_checkpoint_name, "activate_output": hypernetwork.activate_output,
                 "use_dropout": hypernetwork.use_dropout, "dropout_structure": dropout,
                 "last_layer_dropout": (dropout[-2] != 0) if dropout else hypernetwork.last_layer_dropout,
                 "optional_info": hypernetwork.optional_info or None})
    return data


def short_file_hash(filename: str) -> str:
    return (calculate_sha256(filename) or "")[0:10]


def read_optimizer_file(filename: str) -> dict[str, Any]:
    """``<filename>.optim`` as a dict (empty when missing or unreadable)."""
    path = f"{filename}.optim"
    if not os.path.exists(path):
        return {}
    try:
        # not memory-mapped: training writes this file again while the optimizer holds the loaded tensors
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, OSError, RuntimeError, EOFError) as e:
        print(f"Cannot read saved optimizer {path}: {e}")
        return {}
    return saved if isinstance(saved, dict) else {}


class HypernetworkTrainee(Trainee):
    """A hypernetwork read from its file, hooked into the model while it trains."""

    kind = "hypernetwork"
    csv_name = "hypernetwork_loss.csv"
    title = "hypernetwork"

    def __init__(self, services: Services, hypernetwork: Hypernetwork, filename: str, name: str,
                 checkpoint: tuple[str | None, str | None]) -> None:
        super().__init__(name, int(hypernetwork.step or 0))
        self.services = services
        self.hypernetwork = hypernetwork
        self.filename = filename
        self.checkpoint_hash, self.checkpoint_name = checkpoint
        saved = read_optimizer_file(filename)
        self.optimizer_name = str(saved.get("optimizer_name", "AdamW"))
        same_file = saved.get("hash") is not None and saved.get("hash") == short_file_hash(filename)
        self.optimizer_state = saved.get("optimizer_state_dict") if same_file else None

    def modules(self) -> list[torch.nn.Module]:
        return [module for pair in self.hypernetwork.layers.values() for module in pair]

    def parameters(self) -> list[torch.Tensor]:
        params = []
        for module in self.modules():
            for param in module.parameters():
                param.requires_grad_(True)
                params.append(param)
        return params

    def make_optimizer(self, params: list[torch.Tensor], learn_rate: float) -> Any:
        cls = OPTIMIZERS.get(self.optimizer_name)
        if cls is None:
            print(f"Optimizer type {self.optimizer_name} is not defined!")
            cls, self.optimizer_name = torch.optim.AdamW, "AdamW"
        optimizer = cls(params=params, lr=learn_rate)
        if self.optimizer_state:
            try:
                optimizer.load_state_dict(self.optimizer_state)
                print("Loaded existing optimizer from checkpoint")
            except (RuntimeError, ValueError, KeyError) as e:
                print(f"Cannot resume from saved optimizer! {e}")
        return optimizer

    def set_training(self, training: bool) -> None:
        for module in self.modules():
            module.train(training)

    def loss(self, model: Any, batch: Batch, device: torch.device) -> torch.Tensor:
        x = batch.latent_sample.to(device=device, dtype=model.dtype, non_blocking=True)
        if all(c is not None for c in batch.cond):
            c = torch.stack([c for c in batch.cond if c is not None]).to(device)
        else:
            with torch.no_grad():
                c = model.get_learned_conditioning(batch.cond_text)
        return diffusion_loss(model, x, common.conditioning_for(model, x, c), batch.weight)

    def save_copy(self, filename: str, name: str, optimizer: Any) -> None:
        """A1111's ``save_hypernetwork``: the ``.pt`` and, with ``save_optimizer_state``, its ``.optim``."""
        os.makedirs(os.path.dirname(filename), exist_ok=True)
        self.hypernetwork.step = self.step
        torch.save(hypernetwork_file_data(self.hypernetwork, name, self.checkpoint_hash, self.checkpoint_name),
                   filename)
        saved: dict[str, Any] = {"optimizer_name": self.optimizer_name}
        if self.services.opts.save_optimizer_state and optimizer is not None:
            saved["hash"] = short_file_hash(filename)
            saved["optimizer_state_dict"] = optimizer.state_dict()
            torch.save(saved, f"{filename}.optim")


def attention_context_widths(model: Any) -> set[int]:
    """The widths of what the model's attention layers feed to ``to_k`` (the sizes a hypernetwork module can match)."""
    return {int(m.to_k.in_features) for m in model.model.diffusion_model.modules()
            if isinstance(getattr(m, "to_k", None), torch.nn.Linear)}


def _read_hypernetwork(services: Services, name: str) -> tuple[Hypernetwork, str]:
    registry = live_registry()
    registry.ensure_listed()
    name = name.rsplit("(", 1)[0].strip()  # A1111's dropdown titles may carry "(hash)"
    path = registry.available.get(name)
    if path is None:
        registry.refresh()
        path = registry.available.get(name)
    if path is None:
        raise TrainingError(f"Hypernetwork {name!r} not found in {services.cmd_opts.hypernetwork_dir}")
    try:
        return Hypernetwork().load(path), path
    except HypernetworkError as e:
        raise TrainingError(f"Cannot read hypernetwork {path}: {e}") from e


def train_hypernetwork(id_task: Any = None, hypernetwork_name: str = "", learn_rate: Any = "0.00001",
                       batch_size: Any = 1, gradient_step: Any = 1, data_root: str = "",
                       log_directory: str = "textual_inversion", training_width: Any = 512, training_height: Any = 512,
                       varsize: bool = False, steps: Any = 100000, clip_grad_mode: str = "disabled",
                       clip_grad_value: Any = "0.1", shuffle_tags: bool = False, tag_drop_out: Any = 0,
                       latent_sampling_method: str = "once", use_weight: bool = False, create_image_every: Any = 500,
                       save_hypernetwork_every: Any = 500, template_filename: str = "hypernetwork.txt",
                       preview_from_txt2img: bool = False, preview_prompt: str = "", preview_negative_prompt: str = "",
                       preview_steps: Any = 20, preview_sampler_name: str = "Euler a", preview_cfg_scale: Any = 7.0,
                       preview_seed: Any = -1, preview_width: Any = 512, preview_height: Any = 512,
                       services: Services | None = None) -> tuple[Hypernetwork, str]:
    """Train ``hypernetwork_name`` (A1111's signature and argument names); returns ``(hypernetwork, final file)``."""
    services = services or current_services()
    state = services.state
    preview = common.preview_settings(preview_from_txt2img, preview_prompt, preview_negative_prompt, preview_steps,
                                      preview_sampler_name, preview_cfg_scale, preview_seed, preview_width,
                                      preview_height)
    inputs, template_path = common.training_inputs(
        services, "hypernetwork", hypernetwork_name, learn_rate, batch_size, gradient_step, data_root, log_directory,
        training_width, training_height, varsize, steps, clip_grad_mode, clip_grad_value, shuffle_tags, tag_drop_out,
        latent_sampling_method, use_weight, create_image_every, save_hypernetwork_every, template_filename, preview)
    model = common.trainable_model(services)
    state.job = "train-hypernetwork"
    state.textinfo = "Initializing hypernetwork training..."
    state.job_count = inputs.steps
    hypernetwork, _ = _read_hypernetwork(services, hypernetwork_name)
    name = hypernetwork_name.rsplit("(", 1)[0].strip()
    filename = os.path.join(services.cmd_opts.hypernetwork_dir, f"{name}.pt")
    log_dir = common.log_directory_for(services, inputs.log_directory, name)
    initial_step = int(hypernetwork.step or 0)
    if initial_step >= inputs.steps:
        state.textinfo = "Model has already been trained beyond specified max steps"
        return hypernetwork, filename
    widths = attention_context_widths(model)
    if not widths & set(hypernetwork.layers):
        raise TrainingError(f"Hypernetwork {name} has no module this model uses: it has "
                            f"{', '.join(map(str, sorted(hypernetwork.layers))) or 'none'}, the model's attention "
                            f"layers take {', '.join(map(str, sorted(widths)))}")
    # the memory manager starts the job from rest and turns running out of device memory into advice
    with job_guard(services):
        registry = live_registry()
        hypernetwork.to(model.device).set_multiplier(1.0)
        registry.loaded[:] = [hypernetwork]
        registry.apply_to(model)
        trainee = HypernetworkTrainee(services, hypernetwork, filename, name, common.checkpoint_identity(model))
        rng = random.Random(random.getrandbits(64))  # seeding Python's random makes a run repeatable
        try:
            dataset = common.build_dataset(services, model, inputs, template_path, name, include_cond=True, rng=rng)
            common.write_settings(services, log_dir, model, dataset, {
                **vars(inputs), "hypernetwork_name": name, "template_file": template_path, "initial_step": initial_step,
                "save_hypernetwork_every": inputs.save_every, "preview_from_txt2img": preview_from_txt2img,
                "layer_structure": hypernetwork.layer_structure, "activation_func": hypernetwork.activation_func,
                "weight_init": hypernetwork.weight_init, "add_layer_norm": hypernetwork.add_layer_norm,
                "use_dropout": hypernetwork.use_dropout,
                **({} if preview is None else {f"preview_{k}": v for k, v in vars(preview).items()})})
            try:
                run_training(services, model, trainee, inputs, dataset, log_dir, initial_step, rng)
            finally:
                # A1111 saves the hypernetwork even when training failed part way
                trainee.save_copy(filename, name, trainee.optimizer)
        finally:
            for module in trainee.modules():
                module.requires_grad_(False)
                module.eval()
            registry.loaded[:] = []
            registry.apply_to(model)
    return hypernetwork, filename
