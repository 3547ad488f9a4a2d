"""A1111's ``modules.deepbooru_model`` import path (the torch DeepDanbooru network)."""
from modules.models.interrogation.deepdanbooru import DeepDanbooruModel  # noqa: F401
