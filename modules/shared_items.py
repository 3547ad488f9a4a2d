"""A1111's ``modules.shared_items``: list refreshers the Settings tab's refresh buttons call."""
from __future__ import annotations

from modules.core.services import current_services
from modules.networks.hypernetworks.setup import reload_hypernetworks  # noqa: F401


def sd_vae_items() -> list[str]:
    """Choices of setting ``sd_vae``: Automatic, None, then every VAE file name."""
    vae_files = current_services().vae_files
    names = list(vae_files.vae_dict) if vae_files is not None else []
    return ["Automatic", "None", *names]


def refresh_vae_list() -> None:
    vae_files = current_services().vae_files
    if vae_files is not None:
        vae_files.refresh()
