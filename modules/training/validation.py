"""Checking the Train tab's inputs before anything slow starts (A1111's ``validate_train_inputs``)."""
from __future__ import annotations

import os
from typing import Any


class TrainingError(ValueError):
    """Training cannot start (or go on); the message says why in the user's terms."""


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise TrainingError(f"{what} must be integer")
    return int(value)


def validate_train_inputs(model_name: str, learn_rate: Any, batch_size: Any, gradient_step: Any, data_root: str,
                          template_file: Any, template_filename: str, steps: Any, save_model_every: Any,
                          create_image_every: Any, log_directory: str, name: str = "embedding") -> None:
    """Raise :class:`TrainingError` with A1111's message for the first input that is wrong."""
    if not model_name:
        raise TrainingError(f"{name} not selected")
    if not learn_rate:
        raise TrainingError("Learning rate is empty or 0")
    if _whole(batch_size, "Batch size") <= 0:
        raise TrainingError("Batch size must be positive")
    if _whole(gradient_step, "Gradient accumulation step") <= 0:
        raise TrainingError("Gradient accumulation step must be positive")
    if not data_root:
        raise TrainingError("Dataset directory is empty")
    if not os.path.isdir(data_root):
        raise TrainingError(f"Dataset directory doesn't exist: {data_root}")
    if not os.listdir(data_root):
        raise TrainingError(f"Dataset directory is empty: {data_root}")
    if not template_filename:
        raise TrainingError("Prompt template file not selected")
    if not template_file:
        raise TrainingError(f"Prompt template file {template_filename} not found")
    if not os.path.isfile(template_file.path):
        raise TrainingError(f"Prompt template file {template_filename} doesn't exist")
    if not steps:
        raise TrainingError("Max steps is empty or 0")
    if _whole(steps, "Max steps") <= 0:
        raise TrainingError("Max steps must be positive")
    if _whole(save_model_every, f"Save {name}") < 0:
        raise TrainingError(f"Save {name} must be positive or 0")
    if _whole(create_image_every, "Create image") < 0:
        raise TrainingError("Create image must be positive or 0")
    if (save_model_every or create_image_every) and not log_directory:
        raise TrainingError("Log directory is empty")
