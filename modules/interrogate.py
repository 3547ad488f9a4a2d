"""A1111's ``modules.interrogate`` import path: the CLIP interrogator (``shared.interrogator``'s class)."""
from __future__ import annotations

from modules.core.services import current_services
from modules.runtime.interrogation import ClipInterrogator, clip_interrogator

InterrogateModels = ClipInterrogator
"""A1111's class name (it takes the services here instead of a folder name)."""

blip_image_eval_size = 384
clip_model_name = "ViT-L/14"


def category_types() -> list[str]:
    """The category file names of the installed interrogator's folder."""
    return clip_interrogator(current_services()).category_types()
