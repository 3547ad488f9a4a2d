"""The settings of section "API" (id ``API``, category ``system``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section


def options() -> dict[str, OptionInfo]:
    return options_section(("API", "API", "system"), {
        "api_enable_requests": OptionInfo(True, "Allow http:// and https:// URLs for input images in API", restrict_api=True),
        "api_forbid_local_requests": OptionInfo(True, "Forbid URLs to local resources", restrict_api=True),
        "api_useragent": OptionInfo("", "User agent for requests", restrict_api=True),
    })
