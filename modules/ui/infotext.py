"""A1111's ``infotext_utils`` functions bound to the running app: infotext read with the live settings and styles.

The parsing itself is the processing layer's (:mod:`modules.processing.infotext_parse`,
:mod:`modules.processing.infotext_overrides`), which takes the settings as arguments;
these give it the installed services' ``opts`` and ``prompt_styles``, as the paste
buttons and A1111's ``modules.infotext_utils`` (which re-exports them) expect.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from modules.core.services import current_services
from modules.processing import infotext_overrides, infotext_parse


def parse_generation_parameters(x: str, skip_fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The fields of infotext ``x`` with A1111's defaults and back-compatibility rules."""
    services = current_services()
    return infotext_parse.parse_generation_parameters(x, skip_fields, settings=services.opts,
                                                      styles=services.prompt_styles)


def restore_old_hires_fix_params(res: dict[str, Any]) -> None:
    """Turn an old ``First pass size`` into ``Size`` + ``Hires resize`` (in place)."""
    infotext_parse.restore_old_hires_fix_params(res, current_services().opts)


def create_override_settings_dict(text_pairs: Iterable[str]) -> dict[str, Any]:
    """``["Clip skip: 2"]`` -> ``{"CLIP_stop_at_last_layers": 2}``."""
    return infotext_overrides.create_override_settings_dict(text_pairs, settings=current_services().opts)


def get_override_settings(params: Mapping[str, Any], *, skip_fields: Iterable[str] | None = None) -> list:
    """``(label, setting, value)`` for parsed fields whose setting differs from the current one."""
    return infotext_overrides.get_override_settings(params, skip_fields=skip_fields,
                                                    settings=current_services().opts)
