"""The objects ``Script`` hooks receive (A1111 names); scripts read and replace their fields.

A leaf module: the processing layer builds these and hands them to the runner,
so it may import them without importing the scripting layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.sampling.cfg_params import MaskBlendArgs  # noqa: F401  (A1111's scripts.MaskBlendArgs)


class PostSampleArgs:
    """``post_sample``: the latents just sampled, before the VAE decodes them."""

    def __init__(self, samples: Any) -> None:
        self.samples = samples
        """The sampled batch; a script may replace it.  ``getattr(samples, 'already_decoded', False)``
        tells whether these are already decoded pictures."""


class PostprocessImageArgs:
    """``postprocess_image`` / ``postprocess_image_after_composite``: one finished picture."""

    def __init__(self, image: Any) -> None:
        self.image = image
        """The PIL image; a script may replace it."""


class PostprocessBatchListArgs:
    """``postprocess_batch_list``: the decoded batch as a list of 3D tensors (values 0..1)."""

    def __init__(self, images: list) -> None:
        self.images = images
        """The pictures of the batch; a script may add or remove entries (then it also fixes
        ``p.prompts``, ``p.negative_prompts``, ``p.seeds`` and ``p.subseeds``)."""


class PostProcessMaskOverlayArgs:
    """``postprocess_maskoverlay``: the inpainting mask and overlay of one picture."""

    def __init__(self, index: int, mask_for_overlay: Any, overlay_image: Any) -> None:
        self.index = index
        """Index of the picture in the batch."""
        self.mask_for_overlay = mask_for_overlay
        """The mask the overlay is pasted through; a script may replace it."""
        self.overlay_image = overlay_image
        """The original picture pasted over the unmasked area; a script may replace it."""


PostprocessMaskOverlayArgs = PostProcessMaskOverlayArgs
"""The same class under the capitalisation of the other payloads."""


@dataclass
class OnComponent:
    """What ``Script.on_before_component`` / ``on_after_component`` callbacks get."""

    component: Any
    """The gradio component about to be created (before) or just created (after)."""
