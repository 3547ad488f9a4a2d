"""A1111's ``modules.deepbooru`` import path: ``model`` is the installed services' DeepBooru tagger
(``model.tag(image)``, ``model.tag_multi(image)``, ``model.start()`` / ``model.stop()``)."""
from __future__ import annotations

import re
from typing import Any

from modules.core.services import current_services
from modules.runtime.interrogation import DeepBooruTagger, deepbooru_tagger

DeepDanbooru = DeepBooruTagger
re_special = re.compile(r"([\\()])")


def __getattr__(name: str) -> Any:
    # ``model`` is read when used, so it is the tagger of the services installed now
    if name == "model":
        return deepbooru_tagger(current_services())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
