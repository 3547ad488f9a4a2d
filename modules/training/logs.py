"""What training writes next to its outputs: the loss CSV and the settings it started with."""
from __future__ import annotations

import csv
import datetime
import json
import os
from typing import Any

SHARED_PARAMS = {"batch_size", "clip_grad_mode", "clip_grad_value", "create_image_every", "data_root",
                 "gradient_step", "initial_step", "latent_sampling_method", "learn_rate", "log_directory",
                 "model_hash", "model_name", "num_of_dataset_images", "steps", "template_file", "training_height",
                 "training_width"}
EMBEDDING_PARAMS = {"embedding_name", "num_vectors_per_token", "save_embedding_every",
                    "save_image_with_stored_embedding"}
HYPERNETWORK_PARAMS = {"activation_func", "add_layer_norm", "hypernetwork_name", "layer_structure",
                       "save_hypernetwork_every", "use_dropout", "weight_init"}
PREVIEW_PARAMS = {"preview_cfg_scale", "preview_height", "preview_negative_prompt", "preview_prompt",
                  "preview_sampler_name", "preview_seed", "preview_steps", "preview_width"}
"""A1111's lists of the values written to ``settings-<time>.json`` (previews only when read from txt2img)."""


def write_loss(log_directory: str, filename: str, step: int, epoch_len: int, values: dict[str, Any],
               every: int) -> bool:
    """Append ``step, epoch, epoch_step, *values`` to the CSV when ``step`` is a multiple of ``every`` (0: never).

    The header is written with the first row.  Returns whether a row was written.
    """
    if not every or step % every != 0:
        return False
    path = os.path.join(log_directory, filename)
    new_file = not os.path.exists(path)
    os.makedirs(log_directory, exist_ok=True)
    with open(path, "a+", newline="", encoding="utf8") as fout:
        writer = csv.DictWriter(fout, fieldnames=["step", "epoch", "epoch_step", *values.keys()])
        if new_file:
            writer.writeheader()
        epoch_len = max(epoch_len, 1)
        writer.writerow({"step": step, "epoch": (step - 1) // epoch_len, "epoch_step": (step - 1) % epoch_len,
                         **values})
    return True


def save_settings_to_file(log_directory: str, all_params: dict[str, Any]) -> str:
    """Write ``settings-<YYYY-MM-DD-HH-MM-SS>.json`` with the training's inputs; returns its path."""
    now = datetime.datetime.now()
    keys = SHARED_PARAMS | EMBEDDING_PARAMS | HYPERNETWORK_PARAMS
    if all_params.get("preview_from_txt2img"):
        keys = keys | PREVIEW_PARAMS
    params: dict[str, Any] = {"datetime": now.strftime("%Y-%m-%d %H:%M:%S")}
    params.update({k: v for k, v in all_params.items() if k in keys})
    os.makedirs(log_directory, exist_ok=True)
    path = os.path.join(log_directory, f"settings-{now.strftime('%Y-%m-%d-%H-%M-%S')}.json")
    with open(path, "w", encoding="utf8") as file:
        json.dump(params, file, indent=4, default=str)
    return path
