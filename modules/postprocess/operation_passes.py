"""The postprocessing loop, written once for the Extras tab and for the postprocessing script runner.

Every operation's ``process_firstpass`` runs first (so operations can announce target sizes to the
others), then each operation's ``process`` over the picture and over every extra picture the
operations before it made (an extra picture goes through the operations that follow). The picture
is a :class:`modules.scripting.postprocessing.PostprocessedImage`; this module needs only what it
reads of it (``disable_processing``, ``extra_images``, ``create_copy``).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

Call = Callable[[Any, str, Any, dict], None]
"""``call(operation, method name, picture, keyword arguments)``: runs one hook (isolated, or not)."""


def _as_postprocessed(parent: Any, extra: Any) -> Any:
    # an operation may add a PostprocessedImage or a plain PIL picture (a copy of the parent's kind is made)
    return extra if hasattr(extra, "create_copy") else parent.create_copy(extra)


def run_passes(pp: Any, selected: Sequence[tuple[Any, dict]], call: Call, state: Any = None) -> None:
    """Run ``selected`` (operation, its keyword arguments) over ``pp`` and the extra pictures they make.

    ``state`` (the job's progress) stops the loop when the job is skipped and names the running
    operation. The extra pictures end up in ``pp.extra_images``.
    """
    for op, kwargs in selected:
        call(op, "process_firstpass", pp, kwargs)

    all_images = [pp]
    for op, kwargs in selected:
        if state is not None and getattr(state, "skipped", False):
            break
        if state is not None:
            state.job = op.name
        for single in list(all_images):
            if not single.disable_processing:
                call(op, "process", single, kwargs)
            for extra in single.extra_images:
                all_images.append(_as_postprocessed(single, extra))
            single.extra_images.clear()
    pp.extra_images = all_images[1:]
