"""Names for the live objects of a running web UI (A1111's ``modules.shared``).

Nothing is built here.  :func:`modules.runtime.bootstrap.initialize` creates the
objects in A1111's start-up order and stores them on this module, so that an
extension's ``from modules.shared import opts`` (run when its script is loaded,
after the options exist) sees the live object.  Before the bootstrap ran, each
name is ``None``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modules.core.options.option_info import OptionHTML, OptionInfo, options_section  # noqa: F401  (A1111 names)

if TYPE_CHECKING:
    import argparse

    from modules.core.options.store import Options
    from modules.core.paths import DataPaths

cmd_opts: "argparse.Namespace | None" = None
"""The parsed command-line flags."""

opts: "Options | None" = None
"""The settings (``config.json``)."""

ui_config: Any = None
"""The UI components' saved defaults (``ui-config.json``, ``modules.core.ui_config.UiConfig``)."""

paths: "DataPaths | None" = None
"""Every folder the app uses, after ``--data-dir`` and the other path flags."""

parser: Any = None
"""The flag parser, with the flags extensions added in ``preload.py``."""

state: Any = None
"""Progress of the running job (``modules.shared_state.State``)."""

sd_model: Any = None
"""The loaded Stable Diffusion model, or ``None``."""

checkpoints: Any = None
"""The checkpoint registry (``modules.models.checkpoints``)."""

upscalers: Any = None
"""The upscalers, A1111's ``shared.sd_upscalers`` in order."""

face_restorers: Any = None
"""The face restorers (``modules.face_restoration``)."""

vae_files: Any = None
"""The VAE files found on disk, by file name."""

extensions: Any = None
"""The extensions found in ``extensions/`` and ``extensions-builtin/``."""

scripts: Any = None
"""The loaded script files and their classes."""

prompt_styles: Any = None
"""The styles from ``styles.csv`` (``modules.prompting.styles.StyleDatabase``)."""

embeddings: Any = None
"""The textual-inversion embeddings (``sd_hijack.model_hijack.embedding_db``)."""

hypernetworks: Any = None
"""Hypernetwork files found in ``models/hypernetworks``: name -> path (A1111's ``shared.hypernetworks``)."""

hypernetworks_registry: Any = None
"""The hypernetwork registry (``modules.networks.hypernetworks.registry``)."""

loaded_hypernetworks: list = []
"""The hypernetworks active for the current job (A1111 name)."""

model_manager: Any = None
"""Loads and switches checkpoints (``modules.models.manager.ModelManager``), created when first needed."""

device_config: Any = None
"""The device and dtypes (``modules.models.devices.DeviceConfig``), chosen with the first model load."""

startup_timer: Any = None
"""The start-up profile (``modules.core.timer.Timer``)."""

demo: Any = None
"""The gradio Blocks of the UI, when it is built."""

cache: Any = None
"""The on-disk caches (``modules.core.cache``)."""

sd_upscalers: list = []
"""A1111's name for the upscaler list (kept in step with ``upscalers``)."""


def __getattr__(name: str) -> Any:
    # A1111 exposed the settings' default_... helpers and many constants here; an
    # unknown name gets a clear message instead of a bare AttributeError.
    raise AttributeError(f"modules.shared has no attribute {name!r}")
