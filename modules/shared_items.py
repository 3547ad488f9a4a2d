"""A1111's ``modules.shared_items``: list refreshers the Settings tab's refresh buttons call."""
from __future__ import annotations

from modules.networks.hypernetworks.setup import reload_hypernetworks  # noqa: F401


def sd_vae_items() -> list[str]:
    """Choices of setting ``sd_vae``: Automatic, None, then every VAE file name."""
    from modules import shared

    names = list(shared.vae_files.vae_dict) if shared.vae_files is not None else []
    return ["Automatic", "None", *names]


def refresh_vae_list() -> None:
    from modules import shared

    if shared.vae_files is not None:
        shared.vae_files.refresh()
