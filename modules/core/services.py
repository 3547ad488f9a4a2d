"""The live objects of one running web UI, in one place: the composition root's output.

:func:`modules.runtime.bootstrap.initialize` builds a :class:`Services` (options, flags, paths,
registries, the model manager, the script runners ...) in A1111's start-up order and installs it
with :func:`install_services`.  Code inside ``modules/<package>/`` receives the services it needs
through constructor arguments or ``p.services``; where no caller can hand them down (a settings
callback, a module-level helper of A1111's API) it asks :func:`current_services`.

A1111's flat modules are views of the installed object, for extensions: ``modules.shared.opts``
reads ``current_services().opts`` and ``shared.opts = x`` writes it (:func:`mirror_module`), and
``modules.scripts.scripts_txt2img`` does the same for the runners.  So there is one place that
holds each live object, and nothing below the skin imports the skin.

This module sits in ``core`` (the lowest layer) so every layer may take a :class:`Services`; it
imports nothing of the project, and the objects' types are only named in docstrings.
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
import types
from typing import Any, Iterable, Iterator

SHARED_NAMES = (
    "cmd_opts", "opts", "ui_config", "paths", "parser", "state", "sd_model", "checkpoints", "upscalers",
    "face_restorers", "vae_files", "extensions", "scripts", "prompt_styles", "embeddings", "hypernetworks",
    "hypernetworks_registry", "loaded_hypernetworks", "model_manager", "device_config", "startup_timer", "demo",
    "cache", "sd_upscalers", "tab_names", "interrogator",
)
"""The names ``modules.shared`` mirrors (A1111's names)."""

SCRIPT_RUNNER_NAMES = (
    "scripts_data", "postprocessing_scripts_data", "scripts_txt2img", "scripts_img2img", "scripts_postproc",
    "scripts_current",
)
"""The names ``modules.scripts`` mirrors (A1111's names)."""


class Services:
    """Everything one runtime shares; built by the bootstrap, one per start (a test, Reload UI).

    Attributes (``None`` until the bootstrap's step builds them):

    - ``cmd_opts``: the parsed flags; ``parser``: the flag parser with extensions' flags;
    - ``opts``: the settings (``config.json``, ``modules.core.options.store.Options``);
    - ``ui_config``: the UI components' saved defaults (``ui-config.json``);
    - ``paths``: every folder the app uses (``modules.core.paths.DataPaths``);
    - ``state``: progress of the running job (``modules.runtime.state.State``); code running inside a job that
      the job queue runs beside others (``--ray`` with several workers) reads that job's own state here
      (:func:`job_state_scope`), everyone else the process's one;
    - ``sd_model``: the loaded model; ``model_manager``: loads and switches checkpoints;
      ``device_config``: device and dtypes, chosen with the first load;
    - ``checkpoints``, ``vae_files``: the checkpoint and VAE registries;
    - ``upscalers`` (``sd_upscalers``: their list in A1111's order), ``face_restorers``;
    - ``extensions``: the extensions found; ``scripts``: the loaded script files;
    - ``scripts_data`` / ``postprocessing_scripts_data``: the script classes found, in load order;
      ``scripts_txt2img`` / ``scripts_img2img`` / ``scripts_postproc``: the runners of the tabs;
      ``scripts_current``: the runner whose tab the UI is building;
    - ``prompt_styles``: ``styles.csv``; ``embeddings``: the textual-inversion database;
    - ``hypernetworks`` (name -> path), ``hypernetworks_registry``, ``loaded_hypernetworks``;
    - ``startup_timer``, ``cache`` (the on-disk caches), ``demo`` (the gradio Blocks, when built);
    - ``tab_names``: the labels of the page's top-level tabs (set while the UI is built);
    - ``interrogator``: A1111's CLIP interrogator (``modules.runtime.interrogation.ClipInterrogator``, built
      by the bootstrap; its models load on first use); ``deepbooru``, once used: the DeepBooru tagger;
    - ``sampler_factory``: builds sampler objects with their environment
      (``modules.sampling.factory.SamplerFactory``; None: ``sampler_factory(services)`` makes a bare one).
    """

    def __init__(self, **values: Any) -> None:
        for name in SHARED_NAMES + SCRIPT_RUNNER_NAMES:
            setattr(self, name, None)
        self.loaded_hypernetworks = []
        self.sd_upscalers = []
        self.tab_names = []
        self.sampler_factory = None
        self.scripts_data = []
        self.postprocessing_scripts_data = []
        for name, value in values.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        built = [name for name in SHARED_NAMES if getattr(self, name, None) is not None]
        return f"<Services {', '.join(built) or 'empty'}>"

    @property
    def state(self) -> Any:
        """The job state of the code asking: its job's own inside a job run beside others, else the process's."""
        own = _JOB_STATE.get()
        return own if own is not None else self.__dict__.get("_state")

    @state.setter
    def state(self, value: Any) -> None:
        self.__dict__["_state"] = value

    @property
    def process_state(self) -> Any:
        """The process's one job state (what ``state`` is outside jobs run side by side)."""
        return self.__dict__.get("_state")


_JOB_STATE: contextvars.ContextVar[Any] = contextvars.ContextVar("webui_job_state", default=None)
"""The state of the job the current thread (context) works for, when the job queue gave it one of its own."""


@contextlib.contextmanager
def job_state_scope(state: Any) -> Iterator[Any]:
    """While the block runs, ``services.state`` (and ``modules.shared.state``) in this context is ``state``: the
    job queue runs each of several jobs at once inside one.  Threads a job starts inherit it only when started
    with a copy of the context (``contextvars.copy_context().run``)."""
    token = _JOB_STATE.set(state)
    try:
        yield state
    finally:
        _JOB_STATE.reset(token)


_current = Services()


def current_services() -> Services:
    """The installed :class:`Services` (an empty one before the bootstrap ran)."""
    return _current


def install_services(services: Services) -> Services:
    """Make ``services`` the current ones (the bootstrap, a test); returns the ones it replaced."""
    global _current
    previous, _current = _current, services
    return previous


class _MirrorModule(types.ModuleType):
    """A module whose listed names read and write the current :class:`Services`."""

    _mirrored: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> Any:
        # only reached for names not in the module's own dict
        if name in type(self)._mirrored:
            return getattr(current_services(), name)
        fallback = self.__dict__.get("_fallback_getattr")
        if fallback is not None:
            return fallback(name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self)._mirrored:
            setattr(current_services(), name, value)
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in type(self)._mirrored:
            setattr(current_services(), name, None)
        else:
            super().__delattr__(name)

    def __dir__(self) -> Iterable[str]:
        return sorted(set(super().__dir__()) | type(self)._mirrored)


def mirror_module(module_name: str, names: Iterable[str]) -> None:
    """Make ``names`` of the (already imported) module ``module_name`` views of the current services.

    Called at the end of A1111's flat modules (``modules.shared``, ``modules.scripts``); a
    ``__getattr__`` the module defined handles every other missing name.
    """
    module = sys.modules[module_name]
    fallback = module.__dict__.pop("__getattr__", None)
    mirror = type(f"{module_name}.mirror", (_MirrorModule,), {"_mirrored": frozenset(names)})
    for name in names:
        module.__dict__.pop(name, None)
    module.__class__ = mirror
    if fallback is not None:
        module.__dict__["_fallback_getattr"] = fallback
