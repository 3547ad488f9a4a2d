"""Emphasis modes: how the per-token weights change the text encoder's output (setting ``emphasis``).

Each mode is a small class with A1111's interface (``modules.sd_emphasis``):
set ``tokens``, ``multipliers`` (``[batch, 77]``) and ``z`` (``[batch, 77,
width]``), call :meth:`Emphasis.after_transformers`, read ``z`` back.  An
extension may add a mode by subclassing :class:`Emphasis` and appending the
class to :data:`options`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


class Emphasis:
    """Decides what ``(emphasized:1.1)`` text does; the base class leaves ``z`` alone."""

    name: str = "Base"
    description: str = ""

    tokens: list[list[int]]
    """The chunk's token ids, one list per batch item."""

    multipliers: "torch.Tensor"
    """One weight per token, ``[batch, tokens]``."""

    z: "torch.Tensor"
    """The text encoder's output for the chunk, ``[batch, tokens, width]``."""

    def after_transformers(self) -> None:
        """Called after the encoder ran on the chunk; changes ``self.z`` to apply the weights."""


class EmphasisNone(Emphasis):
    name = "None"
    description = "disable the mechanism entirely and treat (:.1.1) as literal characters"


class EmphasisIgnore(Emphasis):
    name = "Ignore"
    description = "treat all emphasised words as if they have no emphasis"


class EmphasisOriginal(Emphasis):
    name = "Original"
    description = "the original emphasis implementation"

    def after_transformers(self) -> None:
        original_mean = self.z.mean()
        self.z = self.z * self.multipliers.reshape(self.multipliers.shape + (1,)).expand(self.z.shape)
        # Bringing the overall mean back keeps strong weights from washing out the image;
        # it is a heuristic, kept because every A1111 image was made with it.
        new_mean = self.z.mean()
        self.z = self.z * restored_mean_ratio(original_mean, new_mean)


def restored_mean_ratio(original_mean: "torch.Tensor", new_mean: "torch.Tensor") -> "torch.Tensor":
    """``original_mean / new_mean``, or 1 where that is 0/0 or x/0.

    A1111 divides without a guard.  The mean of a text encoder's output can round to exactly 0.0
    (a final layer norm that is the identity leaves a zero-mean ``z``, and float32 sums on several
    threads land on 0.0 by chance): 0/0 then makes the whole conditioning NaN.  Wherever A1111's
    quotient is finite this returns the same number; where it is not, there is no mean to restore
    and the weighted ``z`` is kept as it is.
    """
    import torch

    return torch.where(new_mean != 0, original_mean / new_mean, torch.ones_like(new_mean))


class EmphasisOriginalNoNorm(EmphasisOriginal):
    name = "No norm"
    description = "same as original, but without normalization (seems to work better for SDXL)"

    def after_transformers(self) -> None:
        self.z = self.z * self.multipliers.reshape(self.multipliers.shape + (1,)).expand(self.z.shape)


options: list[type[Emphasis]] = [EmphasisNone, EmphasisIgnore, EmphasisOriginal, EmphasisOriginalNoNorm]
"""The modes in the settings dropdown, in A1111's order."""


def get_current_option(emphasis_option_name: str) -> type[Emphasis]:
    """The class for a setting value; unknown names fall back to ``Original``."""
    return next((x for x in options if x.name == emphasis_option_name), EmphasisOriginal)


def get_options_descriptions() -> str:
    """``"None: ..., Ignore: ..."``, the setting's help text."""
    return ", ".join(f"{x.name}: {x.description}" for x in options)


def apply_emphasis(mode: str, z: "torch.Tensor", multipliers: Any, tokens: list[list[int]] | None = None) -> "torch.Tensor":
    """``z`` after the ``mode`` emphasis with these per-token ``multipliers``."""
    import torch

    emphasis = get_current_option(mode)()
    emphasis.tokens = tokens or []
    # Python floats become float32 (not z's dtype), as in A1111: with an fp16 z the
    # product and the mean are then computed in float32.
    emphasis.multipliers = torch.as_tensor(multipliers, device=z.device)
    emphasis.z = z
    emphasis.after_transformers()
    return emphasis.z
