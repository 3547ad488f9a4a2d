"""Attach A1111's prompt path to a loaded model (what A1111's ``model_hijack.hijack(m)`` does to text).

:func:`attach_text_conditioning` builds one :class:`~.prompt_encoder.PromptEncoder`
per text encoder, with each family's rules:

======================  ==========================  ============  ==================
model                   text encoder                TI vectors    Clip skip
======================  ==========================  ============  ==================
SD1 (LatentDiffusion)   CLIP-L, pads with end id    ``clip_l``    the setting
SD2                     OpenCLIP ViT-H, pads with 0 ``clip_l``    none
SDXL base               CLIP-L (penultimate)        ``clip_l``    only with ``sdxl_clip_l_skip``
SDXL base / refiner     OpenCLIP bigG (+ pooled)    ``clip_g``    none
SD3                     CLIP-L + CLIP-G (+ pooled)  none          none
======================  ==========================  ============  ==================

It sets each encoder as its embedder's ``prompt_encoder`` (so ``model.get_learned_conditioning``
and the SDXL conditioner run the full path), sets ``model.text_conditioning`` (SDXL's
crop and aesthetic-score settings, the token counter) and hands the model's
tokenizer and widths to the embedding database.  Nothing on the model's
classes changes; :func:`detach_text_conditioning` restores the plain path.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from modules.prompting.attention import parse_prompt_attention
from modules.prompting.prompt_encoder import (ConditioningRecord, InfotextRecord, PromptEncoder, SettingsProvider,
                                              no_clip_skip, sd1_clip_skip, sdxl_clip_l_skip, setting)

if TYPE_CHECKING:
    import torch


def _is_clip_l(embedder: Any) -> bool:
    # CLIP-L (transformers) lives at .transformer, the OpenCLIP towers at .model.
    return hasattr(embedder, "transformer") and not hasattr(embedder, "model")


def _text_embedders(model: Any) -> list[Any]:
    """The model's text encoders in conditioner order (one for SD1/SD2 and the SDXL refiner, two for SDXL)."""
    if getattr(model, "is_sd3", False):  # SD3: CLIP-L and CLIP-G read the same chunks as one embedder
        return [model.text_encoders.clip_lg]
    if getattr(model, "is_flux", False):  # Flux: CLIP-L (its pooled vector); T5 is driven by _attach_t5
        return [model.text_encoders.clip_l]
    conditioner = getattr(model, "conditioner", None)
    if conditioner is not None:
        return [e for e in conditioner.embedders if hasattr(e, "encode_tokens")]
    cond_stage = getattr(model, "cond_stage_model", None)
    if cond_stage is None or not hasattr(cond_stage, "encode_tokens"):
        raise TypeError(f"{type(model).__name__} has no text encoder this web UI can drive")
    return [cond_stage]


def _rules_for(model: Any, embedder: Any) -> tuple[Any, str]:
    """``(clip_skip_rule, textual_inversion_key)`` for one of the model's text encoders."""
    if getattr(model, "is_sd3", False) or getattr(model, "is_flux", False):  # fixed layers (A1111's SD3, Forge's Flux)
        return no_clip_skip, "clip_l"
    if getattr(model, "conditioner", None) is not None:  # SGM (SDXL): CLIP-L and FrozenOpenCLIPEmbedder2
        return (sdxl_clip_l_skip, "clip_l") if _is_clip_l(embedder) else (no_clip_skip, "clip_g")
    return (sd1_clip_skip, "clip_l") if _is_clip_l(embedder) else (no_clip_skip, "clip_l")


class TextConditioning:
    """What :func:`attach_text_conditioning` puts on ``model.text_conditioning``.

    Implements the model layer's ``TextConditioningHooks`` (SDXL crop and
    aesthetic-score settings) and, like A1111's SDXL conditioner, answers the
    tokenizer questions through its first text encoder.
    """

    def __init__(self, encoders: Sequence[PromptEncoder], settings: SettingsProvider, record: InfotextRecord,
                 embedding_db: Any = None) -> None:
        if not encoders:
            raise ValueError("a model needs at least one text encoder")
        self.encoders = list(encoders)
        self.settings = settings
        self.record = record
        self.embedding_db = embedding_db

    @property
    def primary(self) -> PromptEncoder:
        """The encoder A1111 uses for tokenizing and counting (CLIP-L on SDXL, bigG on the refiner)."""
        return self.encoders[0]

    @property
    def widths(self) -> list[int]:
        return [e.width for e in self.encoders]

    # --- model hooks (see modules.models.sd_model.TextConditioningHooks) ---
    def sdxl_crop(self) -> tuple[int, int]:
        opts = self.settings()
        return int(setting(opts, "sdxl_crop_top")), int(setting(opts, "sdxl_crop_left"))

    def sdxl_aesthetic_score(self, is_negative_prompt: bool) -> float:
        opts = self.settings()
        name = "sdxl_refiner_low_aesthetic_score" if is_negative_prompt else "sdxl_refiner_high_aesthetic_score"
        return float(setting(opts, name))

    # --- A1111's conditioner-level helpers ---
    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return self.primary.tokenize(texts)

    def process_texts(self, texts: Sequence[str]) -> Any:
        return self.primary.process_texts(texts)

    def get_target_prompt_token_count(self, token_count: int) -> int:
        return self.primary.get_target_prompt_token_count(token_count)

    def get_prompt_lengths(self, text: str) -> tuple[int, int]:
        """``(token_count, limit)`` of one prompt, e.g. ``(80, 150)`` (comments and styles already handled)."""
        return self.primary.get_prompt_lengths(text)

    def encode_embedding_init_text(self, init_text: str, nvpt: int) -> "torch.Tensor":
        """Each encoder's token-table vectors, joined on the width axis (SDXL: 768 + 1280)."""
        import torch

        return torch.cat([e.encode_embedding_init_text(init_text, nvpt) for e in self.encoders], dim=1)


def attach_text_conditioning(model: Any, settings: SettingsProvider, embedding_db: Any = None,
                             record: InfotextRecord | None = None) -> TextConditioning:
    """Make ``model.get_learned_conditioning(texts)`` run A1111's prompt path; returns the attached object.

    ``settings`` returns the live settings (``lambda: shared.opts``);
    ``embedding_db`` is the textual-inversion ``EmbeddingDatabase`` (its
    tokenizer and expected width are set here, and it re-reads its folders on
    its next load); ``record`` receives ``TI hashes`` / ``Emphasis`` noted outside
    :func:`~.notes.encode_with_notes` (``modules.sd_hijack.model_hijack``).  Attaching again replaces the
    previous attachment.
    """
    record = record if record is not None else ConditioningRecord()
    encoders = []
    for embedder in _text_embedders(model):
        rule, key = _rules_for(model, embedder)
        encoders.append(PromptEncoder(embedder, settings, clip_skip_rule=rule, textual_inversion_key=key,
                                      embedding_db=embedding_db, record=record))
    conditioning = TextConditioning(encoders, settings, record, embedding_db)
    for encoder in encoders:
        encoder.wrapped.prompt_encoder = encoder
    if getattr(model, "is_sd3", False) or getattr(model, "is_flux", False):
        _attach_t5(model.text_encoders, settings)
    model.text_conditioning = conditioning
    if embedding_db is not None:
        embedding_db.set_model(conditioning.primary.tokenize, conditioning.widths)
    return conditioning


def _attach_t5(text_encoders: Any, settings: SettingsProvider) -> None:
    """SD3's T5 tokens follow the ``emphasis`` setting's parsing (weights are not applied, as A1111's
    ``Sd3T5``), and T5 is used only while ``sd3_enable_t5`` is on."""

    def parse(line: str) -> list[tuple[str, float]]:
        if str(setting(settings(), "emphasis")) == "None":
            return [(line, 1.0)]
        return [(text, float(weight)) for text, weight in parse_prompt_attention(line)]

    text_encoders.t5_prompt_parser = parse
    if hasattr(text_encoders, "t5_enabled"):  # SD3's setting; Flux always uses its T5
        text_encoders.t5_enabled = lambda: bool(setting(settings(), "sd3_enable_t5"))


def detach_text_conditioning(model: Any) -> None:
    """Back to the bare model's plain chunked encoding (A1111's ``undo_hijack`` for text)."""
    if getattr(model, "is_sd3", False):
        model.text_encoders.t5_prompt_parser = None
        model.text_encoders.t5_enabled = None
    if getattr(model, "is_flux", False):
        model.text_encoders.t5_prompt_parser = None
    for embedder in _text_embedders(model):
        embedder.prompt_encoder = None
    model.text_conditioning = None
