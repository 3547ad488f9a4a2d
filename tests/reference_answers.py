"""Where A1111's recorded answers are: ``shared/a1111-responses`` beside the checkout (as CI lays it out)."""
from __future__ import annotations

import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_CANDIDATES = (
    os.path.join(_HERE, "..", "..", "shared", "a1111-responses"),
    "/work/shared/a1111-responses",
)


def responses_dir() -> str:
    """The first folder of candidates that exists (tests skip when neither does)."""
    for candidate in _CANDIDATES:
        if os.path.isdir(candidate):
            return os.path.abspath(candidate)
    return os.path.abspath(_CANDIDATES[0])


RESPONSES = responses_dir()
