"""A1111 1.10's ``modules.infotext_utils`` (formerly ``generation_parameters_copypaste``): reading and writing
infotext with the live settings and styles, and the paste buttons' registry.

The parsing lives in ``modules.processing.infotext*``, bound to the running app's
settings in :mod:`modules.ui.infotext`; the paste-button wiring (``PasteField``,
``ParamBinding``, ``paste_fields``, ``connect_paste``...) in :mod:`modules.ui.paste`.
"""
from __future__ import annotations

from modules.processing.infotext import quote, unquote  # noqa: F401  (A1111 names)
from modules.processing.infotext_overrides import infotext_to_setting_name_mapping  # noqa: F401  (A1111 name)
from modules.processing.infotext_parse import re_imagesize, re_param, re_param_code  # noqa: F401  (A1111 names)
from modules.ui.infotext import (  # noqa: F401  (A1111 names)
    create_override_settings_dict,
    get_override_settings,
    parse_generation_parameters,
    restore_old_hires_fix_params,
)
from modules.ui.paste import (  # noqa: F401  (A1111 names)
    ParamBinding,
    PasteField,
    add_paste_fields,
    connect_paste,
    connect_paste_params_buttons,
    create_buttons,
    image_from_url_text,
    paste_fields,
    register_paste_params_button,
    registered_param_bindings,
    reset,
)

__all__ = [
    "create_override_settings_dict", "get_override_settings", "infotext_to_setting_name_mapping",
    "parse_generation_parameters", "quote", "re_imagesize", "re_param", "re_param_code",
    "restore_old_hires_fix_params", "unquote", "ParamBinding", "PasteField", "add_paste_fields", "connect_paste",
    "connect_paste_params_buttons", "create_buttons", "image_from_url_text", "paste_fields",
    "register_paste_params_button", "registered_param_bindings", "reset",
]
