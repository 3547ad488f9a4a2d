"""A training set from a folder of pictures (A1111's ``PersonalizedBase``): latents, captions, prompts, batches.

Every readable picture in the folder is resized to the training size (unless "Do not resize images"),
encoded by the VAE once, and captioned by ``<picture>.txt`` when that exists, else by its file name
without leading numbers (``dataset_filename_word_regex`` picks words, ``dataset_filename_join_string``
joins them).  A prompt is a random template line with ``[name]`` and ``[filewords]`` filled in; with
``shuffle_tags`` or ``tag_drop_out`` it is made again each time the picture is drawn.

Latent sampling: ``once`` draws one sample of the VAE posterior at load, ``deterministic`` takes its
mean, ``random`` draws a new sample each time (the posterior is kept).  Pictures of different sizes
go into separate batches (buckets).
"""
from __future__ import annotations

import os
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

from modules.models.nets.autoencoder import DiagonalGaussian
from modules.training.validation import TrainingError

RE_NUMBERS_AT_START = re.compile(r"^[-\d]+\s*")
LATENT_SAMPLING_METHODS = ("once", "deterministic", "random")


@dataclass
class DatasetEntry:
    """One picture: its file, caption, latent (or posterior for ``random``), loss weight and prompt."""

    filename: str
    filename_text: str
    latent_sample: torch.Tensor | None = None
    latent_dist: Any = None
    weight: torch.Tensor | None = None
    cond_text: str | None = None
    cond: torch.Tensor | None = None


@dataclass
class Batch:
    """What one optimizer micro-step trains on."""

    cond_text: list[str]
    cond: list[torch.Tensor | None]
    latent_sample: torch.Tensor
    weight: torch.Tensor | None


def caption_from_filename(filename: str, word_regex: str = "", join_string: str = " ") -> str:
    """A1111's caption for a picture without a ``.txt``: the stem without leading numbers, words picked by the regex."""
    text = RE_NUMBERS_AT_START.sub("", os.path.splitext(os.path.basename(filename))[0])
    if word_regex:
        text = (join_string or "").join(re.findall(word_regex, text))
    return text


def read_caption(path: str, word_regex: str = "", join_string: str = " ") -> str:
    """``<stem>.txt`` next to the picture when it exists, else :func:`caption_from_filename`."""
    text_filename = f"{os.path.splitext(path)[0]}.txt"
    if os.path.exists(text_filename):
        with open(text_filename, encoding="utf8") as file:
            return file.read()
    return caption_from_filename(path, word_regex, join_string)


def alpha_weight(alpha: Image.Image, latent_shape: Sequence[int]) -> torch.Tensor:
    """The loss weight from a picture's alpha channel at latent size: minimum 0, mean 1, per channel."""
    channels, height, width = latent_shape
    values = np.array(alpha.resize((width, height)), dtype=np.float32)
    weight = torch.from_numpy(values).unsqueeze(0).repeat(channels, 1, 1)
    weight -= weight.min()
    mean = weight.mean()
    return weight / mean if mean > 0 else torch.ones_like(weight)


def _first_stage_dtype(model: Any) -> torch.dtype:
    return next(model.first_stage_model.parameters()).dtype


class PersonalizedBase:
    """The pictures of ``data_root`` prepared for training (see the module docstring).

    ``cond_model`` (texts -> conditioning) is used only with ``include_cond`` (hypernetworks: the
    prompts' conditioning is computed once when it never changes).  ``interrupted`` is asked between
    pictures, so a long load can be stopped.
    """

    def __init__(self, data_root: str, width: int, height: int, repeats: int, placeholder_token: str, model: Any,
                 template_lines: list[str], device: torch.device | str = "cpu",
                 cond_model: Callable[[list[str]], Any] | None = None, include_cond: bool = False,
                 batch_size: int = 1, gradient_step: int = 1, shuffle_tags: bool = False, tag_drop_out: float = 0,
                 latent_sampling_method: str = "once", varsize: bool = False, use_weight: bool = False,
                 word_regex: str = "", join_string: str = " ",
                 interrupted: Callable[[], bool] = lambda: False, rng: random.Random | None = None) -> None:
        if latent_sampling_method not in LATENT_SAMPLING_METHODS:
            raise TrainingError(f"Unknown latent sampling method {latent_sampling_method!r}; "
                                f"one of {', '.join(LATENT_SAMPLING_METHODS)}")
        self.placeholder_token = placeholder_token
        self.lines = template_lines
        self.shuffle_tags = shuffle_tags
        self.tag_drop_out = float(tag_drop_out or 0)
        self.model = model
        self.rng = rng or random.Random()
        self.repeats = repeats
        self.dataset: list[DatasetEntry] = []
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        dynamic_text = self.tag_drop_out != 0 or shuffle_tags
        paths = [os.path.join(data_root, fn) for fn in sorted(os.listdir(data_root))]
        for path in paths:
            if interrupted():
                raise TrainingError("interrupted")
            picture = self._read(path, width, height, varsize, use_weight)
            if picture is None:
                continue
            image, alpha = picture
            entry = DatasetEntry(filename=path, filename_text=read_caption(path, word_regex, join_string))
            latent_dist, latent_sample = self._encode(image, device, latent_sampling_method)
            if latent_sampling_method == "random":
                entry.latent_dist = latent_dist
                shape = tuple(latent_dist.mean.shape[1:])
            else:
                entry.latent_sample = latent_sample
                shape = tuple(latent_sample.shape)
            if use_weight:
                entry.weight = alpha_weight(alpha, shape) if alpha is not None else torch.ones(shape)
            if not dynamic_text:
                entry.cond_text = self.create_text(entry.filename_text)
                if include_cond and cond_model is not None:
                    with torch.no_grad():
                        entry.cond = cond_model([entry.cond_text]).to("cpu").squeeze(0)
            groups[image.size].append(len(self.dataset))
            self.dataset.append(entry)
        self.length = len(self.dataset)
        if self.length == 0:
            raise TrainingError(f"No images have been found in the dataset: {data_root}")
        self.groups = list(groups.values())
        self.batch_size = min(batch_size, self.length)
        self.gradient_step = max(1, min(gradient_step, self.length // self.batch_size))
        self.latent_sampling_method = latent_sampling_method

    @staticmethod
    def _read(path: str, width: int, height: int, varsize: bool,
              use_weight: bool) -> tuple[Image.Image, Image.Image | None] | None:
        """The picture as RGB (resized unless ``varsize``) and its alpha channel; None for what is not a picture."""
        try:
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened) or opened
                image.load()
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        alpha = image.getchannel("A") if use_weight and "A" in image.getbands() else None
        image = image.convert("RGB")
        if not varsize:
            image = image.resize((width, height), Image.BICUBIC)
        return image, alpha

    def _encode(self, image: Image.Image, device: torch.device | str, method: str) -> tuple[Any, torch.Tensor | None]:
        """``(posterior, latent on the CPU)``; the latent is None for ``random`` (drawn per use)."""
        pixels = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        x = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)
        x = x.to(device=device, dtype=_first_stage_dtype(self.model))
        with torch.no_grad():
            dist = self.model.encode_first_stage(x)
            if not isinstance(dist, DiagonalGaussian):  # SDXL's VAE call already sampled: nothing else to do
                return None, dist.squeeze(0).float().cpu()
            if method == "random":
                return dist, None
            chosen = dist.mode() if method == "deterministic" else dist
            return dist, self.model.get_first_stage_encoding(chosen).squeeze(0).float().cpu()

    def create_text(self, filename_text: str) -> str:
        """A prompt: a random template line, ``[filewords]`` = the caption's tags (dropped / shuffled), ``[name]``."""
        text = self.rng.choice(self.lines)
        tags = filename_text.split(",")
        if self.tag_drop_out != 0:
            tags = [t for t in tags if self.rng.random() > self.tag_drop_out]
        if self.shuffle_tags:
            self.rng.shuffle(tags)
        return text.replace("[filewords]", ",".join(tags)).replace("[name]", self.placeholder_token)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> DatasetEntry:
        entry = self.dataset[i]
        if self.tag_drop_out != 0 or self.shuffle_tags:
            entry.cond_text = self.create_text(entry.filename_text)
        if self.latent_sampling_method == "random" and entry.latent_dist is not None:
            with torch.no_grad():
                entry.latent_sample = self.model.get_first_stage_encoding(entry.latent_dist).squeeze(0).float().cpu()
        return entry


def grouped_batches(dataset: PersonalizedBase, batch_size: int, rng: random.Random) -> list[list[int]]:
    """One epoch of batches of indices, each from one picture size (A1111's ``GroupedBatchSampler``).

    Each size bucket gives its full batches; the batches left to reach ``len // batch_size`` are drawn
    from buckets with probability by their leftover share; the order is shuffled.
    """
    n = len(dataset)
    n_batch = n // batch_size
    expected = [len(g) / n * n_batch * batch_size for g in dataset.groups]
    base = [int(e) // batch_size for e in expected]
    n_random = n_batch - sum(base)
    probs = [e % batch_size / n_random / batch_size if n_random > 0 else 0 for e in expected]
    batches: list[list[int]] = []
    for group in dataset.groups:
        rng.shuffle(group)
        batches.extend(group[i * batch_size:(i + 1) * batch_size] for i in range(len(group) // batch_size))
    for _ in range(n_random):
        group = rng.choices(dataset.groups, probs)[0]
        batches.append(rng.choices(group, k=batch_size))
    rng.shuffle(batches)
    return batches


def collate(entries: list[DatasetEntry]) -> Batch:
    weights = [e.weight for e in entries]
    return Batch(cond_text=[e.cond_text or "" for e in entries], cond=[e.cond for e in entries],
                 latent_sample=torch.stack([e.latent_sample for e in entries]),
                 weight=torch.stack(weights) if all(w is not None for w in weights) else None)


def iterate_batches(dataset: PersonalizedBase, rng: random.Random) -> Iterator[Batch]:
    """One epoch of :class:`Batch` objects."""
    for indices in grouped_batches(dataset, dataset.batch_size, rng):
        yield collate([dataset[i] for i in indices])
