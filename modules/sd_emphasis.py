"""A1111's ``modules.sd_emphasis``: the emphasis modes (the code lives in :mod:`modules.prompting.emphasis`).

Extensions add a mode by subclassing :class:`Emphasis` and appending it to
:data:`options` (the same list the setting's dropdown reads).
"""
from modules.prompting.emphasis import (  # noqa: F401  (A1111 names)
    Emphasis,
    EmphasisIgnore,
    EmphasisNone,
    EmphasisOriginal,
    EmphasisOriginalNoNorm,
    get_current_option,
    get_options_descriptions,
    options,
)
