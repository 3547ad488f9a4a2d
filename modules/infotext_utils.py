"""A1111 1.10's ``modules.infotext_utils`` (formerly ``generation_parameters_copypaste``): the
parts that read and write infotext, reading ``shared.opts`` and ``shared.prompt_styles``.

The code lives in ``modules.processing.infotext*``; the paste-button wiring
(``PasteField``, ``ParamBinding``, ``paste_fields``, ``connect_paste``...) lives in
:mod:`modules.ui.paste` and is reachable here under A1111's names (looked up on
first use, so importing this module stays light).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from modules.processing import infotext_overrides as _overrides
from modules.processing import infotext_parse as _parse
from modules.processing.infotext import quote, unquote
from modules.processing.infotext_overrides import infotext_to_setting_name_mapping
from modules.processing.infotext_parse import re_imagesize, re_param, re_param_code


def _shared() -> Any:
    from modules import shared

    return shared


def parse_generation_parameters(x: str, skip_fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The fields of infotext ``x`` with A1111's defaults and back-compatibility rules."""
    shared = _shared()
    return _parse.parse_generation_parameters(x, skip_fields, settings=shared.opts,
                                              styles=getattr(shared, "prompt_styles", None))


def restore_old_hires_fix_params(res: dict[str, Any]) -> None:
    """Turn an old ``First pass size`` into ``Size`` + ``Hires resize`` (in place)."""
    _parse.restore_old_hires_fix_params(res, _shared().opts)


def create_override_settings_dict(text_pairs: Iterable[str]) -> dict[str, Any]:
    """``["Clip skip: 2"]`` -> ``{"CLIP_stop_at_last_layers": 2}``."""
    return _overrides.create_override_settings_dict(text_pairs, settings=_shared().opts)


def get_override_settings(params: Mapping[str, Any], *, skip_fields: Iterable[str] | None = None) -> list:
    """``(label, setting, value)`` for parsed fields whose setting differs from the current one."""
    return _overrides.get_override_settings(params, skip_fields=skip_fields, settings=_shared().opts)


_PASTE_NAMES = ("PasteField", "ParamBinding", "paste_fields", "registered_param_bindings", "reset",
                "add_paste_fields", "register_paste_params_button", "connect_paste_params_buttons", "connect_paste",
                "create_buttons", "image_from_url_text")


def __getattr__(name: str) -> Any:
    if name in _PASTE_NAMES:
        from modules.ui import paste

        return getattr(paste, name)
    raise AttributeError(f"module 'modules.infotext_utils' has no attribute {name!r}")


__all__ = [
    "create_override_settings_dict", "get_override_settings", "infotext_to_setting_name_mapping",
    "parse_generation_parameters", "quote", "re_imagesize", "re_param", "re_param_code",
    "restore_old_hires_fix_params", "unquote",
]
