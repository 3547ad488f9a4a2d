"""The built-in Lora extension's script: registers the ``lora`` extra network (alias ``lyco``), the
``/sdapi/v1/loras`` and ``/sdapi/v1/refresh-loras`` routes and the infotext paste handlers.

Importing it only registers; files are listed and read when a prompt or a request needs them.
"""
from __future__ import annotations

from typing import Any

import lora  # noqa: F401  (A1111 made the old module importable by loading it here)
import networks
from extra_networks_lora import ExtraNetworkLora

from modules import extra_networks, script_callbacks, shared

networks.extra_network_lora = ExtraNetworkLora()
extra_networks.register_extra_network(networks.extra_network_lora)
extra_networks.register_extra_network_alias(networks.extra_network_lora, "lyco")


def api_networks(_demo: Any, app: Any) -> None:
    """``GET /sdapi/v1/loras`` -> ``[{name, alias, path, metadata}]``; ``POST /sdapi/v1/refresh-loras`` -> null."""
    def get_loras() -> list[dict[str, Any]]:
        networks.files.ensure_listed()
        return [item.as_api_item() for item in networks.available_networks.values()]

    def refresh_loras() -> None:
        networks.list_available_networks()

    app.add_api_route("/sdapi/v1/loras", get_loras, methods=["GET"])
    app.add_api_route("/sdapi/v1/refresh-loras", refresh_loras, methods=["POST"])


script_callbacks.on_app_started(api_networks)
script_callbacks.on_infotext_pasted(networks.infotext_pasted)
script_callbacks.on_infotext_pasted(networks.infotext_pasted_hashes)
if shared.opts is not None:
    shared.opts.onchange("lora_in_memory_limit", networks.purge_networks_from_memory, call=False)
