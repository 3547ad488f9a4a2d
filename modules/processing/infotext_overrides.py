"""Infotext fields that are settings (``Clip skip``, ``ENSD``, ``RNG``...) and the overrides they make.

A setting declared with ``OptionInfo(..., infotext="Label")`` is written under
that label; pasting a picture whose value differs from the current setting
offers it in the tab's "Override settings" box, and the chosen pairs become
``override_settings`` for the generation.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from modules.core.options.errors import OptionFrozenError, OptionValueError

infotext_to_setting_name_mapping: list[tuple[str, str]] = []
"""Extra ``(infotext label, setting key)`` pairs; A1111 keeps it for old extensions."""


def infotext_setting_mapping(settings: Any) -> list[tuple[str, str]]:
    """``(infotext label, setting key)`` of every setting that declares a label, then the legacy pairs."""
    labels = getattr(settings, "data_labels", None) or {}
    declared = [(info.infotext, key) for key, info in labels.items() if getattr(info, "infotext", None)]
    return declared + infotext_to_setting_name_mapping


def _cast(settings: Any, key: str, value: Any) -> Any:
    cast = getattr(settings, "cast_value", None)
    return cast(key, value) if callable(cast) else value


def create_override_settings_dict(text_pairs: Iterable[str], *, settings: Any) -> dict[str, Any]:
    """``["Clip skip: 2", "ENSD: 31337"]`` -> ``{"CLIP_stop_at_last_layers": 2, "eta_noise_seed_delta": 31337}``."""
    params = {}
    for pair in text_pairs:
        key, value = pair.split(":", maxsplit=1)
        params[key] = value.strip()

    res = {}
    for param_name, setting_name in infotext_setting_mapping(settings):
        value = params.get(param_name, None)
        if value is None:
            continue
        res[setting_name] = _cast(settings, setting_name, value)
    return res


def get_override_settings(params: Mapping[str, Any], *, skip_fields: Iterable[str] | None = None,
                          settings: Any) -> list[tuple[str, str, Any]]:
    """``(label, setting key, value)`` for each parsed field whose setting differs from its current value.

    Fields in ``skip_fields`` are ignored, and ``Model hash`` (the checkpoint) too
    while ``disable_weights_auto_swap`` is on; so are values the setting would refuse.
    """
    skip = set(skip_fields or ())
    res = []
    for param_name, setting_name in infotext_setting_mapping(settings):
        if param_name in skip:
            continue
        value = params.get(param_name, None)
        if value is None:
            continue
        if setting_name == "sd_model_checkpoint" and getattr(settings, "disable_weights_auto_swap", True):
            continue
        try:
            value = _cast(settings, setting_name, value)
        except OptionValueError:
            continue
        if value == getattr(settings, setting_name, None) or not _acceptable(settings, setting_name, value):
            continue
        res.append((param_name, setting_name, value))
    return res


def _acceptable(settings: Any, key: str, value: Any) -> bool:
    """False for a pasted value the setting would refuse (out of range, unknown choice, frozen): it is not offered."""
    validate = getattr(settings, "validate", None)
    if not callable(validate):
        return True
    try:
        validate(key, value)
    except (OptionValueError, OptionFrozenError):
        return False
    return True
