"""A1111's ``network`` module of the Lora extension: the classes extensions refer to."""
from __future__ import annotations

from modules.networks.lora.loading import Network  # noqa: F401  (A1111 name)
from modules.networks.lora.module_types import NetworkModule  # noqa: F401  (A1111 name)
from modules.networks.lora.network_files import (  # noqa: F401  (A1111 names)
    METADATA_TAGS_ORDER as metadata_tags_order,
    NetworkOnDisk,
    SdVersion,
)
