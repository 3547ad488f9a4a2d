"""Names for the live objects of a running web UI (A1111's ``modules.shared``).

Nothing is built or held here.  :func:`modules.runtime.bootstrap.initialize` creates the
objects in A1111's start-up order on a :class:`modules.core.services.Services`; this module's
names read and write that object, so that an extension's ``from modules.shared import opts``
(run when its script is loaded, after the options exist) sees the live object.  Before the
bootstrap ran, each name is ``None``.
"""
from __future__ import annotations

from typing import Any

from modules.core.options.option_info import OptionHTML, OptionInfo, options_section  # noqa: F401  (A1111 names)
from modules.core.services import SHARED_NAMES, mirror_module

# The live objects below are views of :func:`modules.core.services.current_services` (A1111's names):
#
# ``cmd_opts``, ``opts``, ``ui_config``, ``paths``, ``parser``, ``state``, ``sd_model``, ``checkpoints``,
# ``upscalers``, ``face_restorers``, ``vae_files``, ``extensions``, ``scripts``, ``prompt_styles``,
# ``embeddings``, ``hypernetworks``, ``hypernetworks_registry``, ``loaded_hypernetworks``,
# ``model_manager``, ``device_config``, ``startup_timer``, ``demo``, ``cache``, ``sd_upscalers``, ``tab_names``,
# ``interrogator``.
# Reading one reads the installed services; assigning one (the bootstrap, Reload UI, a test) writes them.


def __getattr__(name: str) -> Any:
    # A1111 exposed the settings' default_... helpers and many constants here; an
    # unknown name gets a clear message instead of a bare AttributeError.
    raise AttributeError(f"modules.shared has no attribute {name!r}")


mirror_module(__name__, SHARED_NAMES)
