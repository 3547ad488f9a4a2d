"""Start-up, the composition root: builds one :class:`~modules.core.services.Services` in A1111's order.

:func:`initialize` creates the services, installs them (so ``modules.shared`` and ``modules.scripts``,
A1111's views, show them while extensions' scripts load) and runs one function per step on them.
Each step is timed; the profile is printed at the end, as A1111's start-up timer:

1. load options   - ``config.json`` (``--ui-settings-file``; path flags are read first)
2. parse flags    - the full flag set plus extensions' ``preload.py`` flags; unknown flags are an error;
                   ``ui-config.json`` (``--ui-config-file``) is read once its path is known; the
                   extensions, styles and textual-inversion embeddings are listed
3. cleanup models - stray checkpoints moved into ``models/Stable-diffusion``
4. list models    - checkpoint discovery (``--ckpt``, ``--ckpt-dir``)
5. face restorers
6. upscalers
7. load scripts   - ``scripts/*.py`` of the root and active extensions
8. list VAE
9. load model     - skipped with ``--skip-load-model-at-start``, ``--ui-debug-mode`` or no checkpoint

The UI or API is built by the caller (``webui.py``) afterwards; :mod:`modules.runtime.headless`
runs jobs without either.  The bootstrap and Reload UI (:mod:`modules.runtime.ui_reload`) are the
only writers of the services' top-level objects.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from modules.core import hashing
from modules.core.cache import DiskCache
from modules.core.cmd_args import build_parser, parse_flags
from modules.core.extensions import list_extensions
from modules.core.localization import list_localizations
from modules.core.options.catalogue import RESTRICTED_OPTS, build_catalogue
from modules.core.options.store import Options, SettingsRestrictions, remove_stale_temp_files
from modules.core.paths import ensure_user_folders, resolve_path_flags
from modules.core.services import Services, current_services, install_services
from modules.core.timer import Timer
from modules.core.ui_config import UiConfig
from modules.models.checkpoints import CheckpointRegistry, NoCheckpointsError
from modules.models.model_files import cleanup_models
from modules.models.vae_files import VaeRegistry
from modules.networks.hypernetworks.setup import setup_hypernetworks
from modules.postprocess.face_restoration import FaceRestorerRegistry
from modules.postprocess.upscaler import Upscaler
from modules.postprocess.upscaler_registry import UpscalerRegistry
from modules.prompting import model_hijack as model_hijack_module
from modules.prompting.styles import StyleDatabase
from modules.prompting.textual_inversion.database import EmbeddingDatabase
from modules.runtime import script_loading
from modules.runtime.interrogation import ClipInterrogator
from modules.runtime.jobs import attach_job_store
from modules.runtime.choice_providers import register_choice_providers
from modules.runtime.queue_lock import queue_lock
from modules.runtime.sampling_wiring import build_sampler_factory
from modules.runtime.state import State
from modules.scripting import callbacks, load_order

STARTUP_STEPS = (
    "load options", "parse flags", "cleanup models", "list models", "face restorers",
    "upscalers", "load scripts", "list VAE", "load model",
)


class NoCheckpointNotice(str):
    """The message printed when no checkpoint exists (the server still starts)."""


@dataclass
class StartupResult:
    """What :func:`initialize` built: the services (also installed), the timer, the steps run, the model load."""

    timer: Timer
    services: Services | None = None
    steps_run: list[str] = field(default_factory=list)
    model_load: str = "not attempted"
    notices: list[str] = field(default_factory=list)


ModelLoader = Callable[[Any], Any]
"""Called with the selected ``CheckpointInfo``; returns the loaded model."""


@dataclass
class _Start:
    """One start-up in progress: its arguments and what the steps hand each other besides the services."""

    argv: list[str]
    services: Services
    result: StartupResult
    model_loader: ModelLoader | None = None
    background_model_load: bool = False
    pre: argparse.Namespace | None = None
    """The path flags read before the full parse (step 1)."""


def initialize(argv: Sequence[str], model_loader: ModelLoader | None = None,
               background_model_load: bool = False) -> StartupResult:
    """Build the services for ``argv`` (the complete argument list), install them and return what was built.

    ``model_loader`` loads the selected checkpoint (default: the model manager);
    with ``background_model_load`` it runs in a thread holding the queue lock, so
    the server answers while the model loads and generations wait for it (A1111).
    Raises :class:`modules.core.cmd_args.FlagError` on an unknown or malformed flag.
    """
    timer = Timer()
    # a new start (a test, a second runtime) gets services of its own: its own model manager for its own flags
    services = Services(startup_timer=timer)
    services.sampler_factory = build_sampler_factory(services)
    previous = install_services(services)  # extensions' scripts read modules.shared while they load (step 7)
    result = StartupResult(timer, services)
    start = _Start(list(argv), services, result, model_loader, background_model_load)
    try:
        for name, step in zip(STARTUP_STEPS, _STEP_FUNCTIONS):
            step(start)
            timer.record(name)
            result.steps_run.append(name)
    except BaseException:
        install_services(previous)  # a start that failed (a bad flag) leaves the services that were there
        raise
    return result


# --- 1. options ---------------------------------------------------------------------------------------------------

def _preparse(argv: Sequence[str]) -> argparse.Namespace:
    # Only path flags matter here; the full, strict parse comes after extensions' preload.py.
    namespace, _unknown = build_parser().parse_known_args(list(argv))
    return namespace


def _read_options(pre: argparse.Namespace) -> Options:
    paths = resolve_path_flags(argparse.Namespace(**vars(pre)))
    opts = Options(build_catalogue(pre))
    for path in (paths.config_file, paths.ui_config_file):
        remove_stale_temp_files(path)  # left by a save that a crash interrupted
    opts.load(paths.config_file, aside_dir=paths.tmp_dir)
    return opts


def _load_options(start: _Start) -> None:
    """Step 1: ``config.json`` (the path flags are pre-read so --data-dir / --ui-settings-file are honoured).

    The Settings lists that come from the app's other parts (samplers, networks...) are registered first.
    """
    register_choice_providers()
    start.pre = _preparse(start.argv)
    start.services.opts = _read_options(start.pre)
    start.services.state = State()


# --- 2. flags -----------------------------------------------------------------------------------------------------

def _run_preloads(extensions: list, parser: argparse.ArgumentParser) -> None:
    """Call ``preload(parser)`` of each active extension's ``preload.py``; errors reported, not fatal."""
    for ext in extensions:
        if not ext.enabled:
            continue
        path = os.path.join(ext.path, "preload.py")
        if not os.path.isfile(path):
            continue
        try:
            spec = importlib.util.spec_from_file_location(f"preload_{ext.name}", path)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            spec.loader.exec_module(module)  # type: ignore[union-attr]
            if hasattr(module, "preload"):
                module.preload(parser)
        except Exception:
            print(f"*** Error running preload() for {path}\n{traceback.format_exc()}", file=sys.stderr, flush=True)


def _parse_flags(start: _Start) -> None:
    """Step 2: extensions' ``preload.py`` may add flags, then a strict parse; what the flags' paths name."""
    services, opts = start.services, start.services.opts
    parser = build_parser()
    pre_paths = resolve_path_flags(argparse.Namespace(**vars(start.pre)))
    _run_preloads(list_extensions(pre_paths, opts.data, start.pre), parser)
    cmd_opts = parse_flags(start.argv, parser)
    paths = resolve_path_flags(cmd_opts)
    opts.restrictions = SettingsRestrictions.from_cmd_opts(cmd_opts, RESTRICTED_OPTS)
    opts.config_filename = paths.config_file
    services.ui_config = UiConfig(paths.ui_config_file, paths.tmp_dir).load()
    services.parser, services.cmd_opts, services.paths = parser, cmd_opts, paths
    services.extensions = list_extensions(paths, opts.data, cmd_opts)
    _build_prompt_services(services)


def _build_prompt_services(services: Services) -> None:
    """The styles (``styles.csv``), the CLIP interrogator (A1111 builds both here; its models load on first use)
    and a fresh textual-inversion database (an earlier start's folders are not scanned again), given to
    A1111's ``model_hijack`` for the prompt path."""
    services.prompt_styles = StyleDatabase(list(services.paths.styles_files))
    services.interrogator = ClipInterrogator(services)
    services.embeddings = EmbeddingDatabase(
        hasher=lambda filename, title: hashing.sha256(services.cache, filename, title))
    services.embeddings.add_embedding_dir(services.paths.embeddings_dir)
    hijack = _model_hijack()
    hijack.embedding_db = services.embeddings
    hijack.clip = None  # no model yet: the token counter shows "-/-" until one loads


# --- 3. to 6.: model files, checkpoints, face restorers, upscalers ----------------------------------------------

def _cleanup_models(start: _Start) -> None:
    """Step 3: the user folders exist; stray model files move into their folders."""
    ensure_user_folders(start.services.paths)
    cleanup_models(start.services.paths)


def _list_models(start: _Start) -> None:
    """Step 4: the on-disk caches, the stored async jobs, the checkpoint registry."""
    services = start.services
    services.cache = DiskCache.for_paths(services.paths)
    # async jobs of the last run: results readable again, queued ones resume once the API registers their kinds
    attach_job_store(services.paths)
    services.checkpoints = CheckpointRegistry(services.paths, services.cmd_opts, services.opts, services.cache)
    services.checkpoints.refresh()


def _face_restorers(start: _Start) -> None:
    """Step 5: CodeFormer and GFPGAN (their weights load on first use)."""
    cmd_opts = start.services.cmd_opts
    start.services.face_restorers = FaceRestorerRegistry()
    start.services.face_restorers.setup_builtin(cmd_opts.codeformer_models_path, cmd_opts.gfpgan_models_path,
                                                cmd_opts.gfpgan_dir)


def _upscalers(start: _Start) -> None:
    """Step 6: the built-in upscalers and the model files found for them."""
    start.services.upscalers = UpscalerRegistry(start.services.cmd_opts)
    start.services.sd_upscalers = start.services.upscalers.refresh()


# --- 7. scripts ---------------------------------------------------------------------------------------------------

def _load_scripts(start: _Start) -> None:
    """Step 7: every script of the root and the active extensions."""
    load_all_scripts(start.services)


def load_all_scripts(services: Services | None = None) -> None:
    """Import every script of the root and the active extensions (start-up step 7, and Reload UI).

    An extension's script may define an ``Upscaler`` subclass: the upscalers are listed again then.
    """
    services = services if services is not None else current_services()
    known_upscalers = set(_upscaler_class_names(Upscaler))
    setup_hypernetworks(services)
    script_loading.load_scripts(services)
    active = [ext for ext in (services.extensions or []) if getattr(ext, "enabled", False)]
    list_localizations(getattr(services.cmd_opts, "localizations_dir", None),
                       load_order.list_scripts("localizations", ".json", install_dir=services.paths.install_dir,
                                               extensions=active))
    if set(_upscaler_class_names(Upscaler)) - known_upscalers:
        services.sd_upscalers = services.upscalers.refresh()
    # A1111 registers extensions' settings only while building the UI; doing it here gives the API
    # (--nowebui) the same settings, and the Settings tab reads them from the options catalogue.
    callbacks.ui_settings_callback()


def _upscaler_class_names(cls: type) -> list[str]:
    names = []
    for sub in cls.__subclasses__():
        names.append(f"{sub.__module__}.{sub.__qualname__}")
        names.extend(_upscaler_class_names(sub))
    return names


# --- 8. VAE files -------------------------------------------------------------------------------------------------

def _list_vae(start: _Start) -> None:
    """Step 8: the VAE files (``--vae-dir``, ``models/VAE``, next to checkpoints)."""
    start.services.vae_files = VaeRegistry(start.services.paths, start.services.cmd_opts)
    start.services.vae_files.refresh()


# --- 9. the model -------------------------------------------------------------------------------------------------

def _load_model(start: _Start) -> None:
    """Step 9: the settings that switch the live model take effect from now on; the selected checkpoint loads."""
    services = start.services
    _watch_model_settings(services)
    start.result.model_load = _load_model_step(services, start.model_loader, start.result,
                                               start.background_model_load)


def _watch_model_settings(services: Services) -> None:
    opts = services.opts
    opts.onchange("sd_model_checkpoint", lambda: _on_checkpoint_setting_changed(services), call=False)
    opts.onchange("sd_vae", lambda: _on_vae_setting_changed(services), call=False)
    opts.onchange("cross_attention_optimization", lambda: _on_attention_setting_changed(services), call=False)
    opts.onchange("upcast_attn", lambda: _on_attention_setting_changed(services), call=False)
    opts.onchange("sd_vae_overrides_per_model_preferences", lambda: _on_vae_setting_changed(services), call=False)
    opts.onchange("fp8_storage", lambda: _on_fp8_setting_changed(services), call=False)
    opts.onchange("cache_fp16_weight", lambda: _on_fp8_setting_changed(services), call=False)


def model_manager(services: Services | None = None) -> Any:
    """The model manager of ``services`` (default: the installed ones), created on first use (it imports torch)."""
    services = services if services is not None else current_services()
    if getattr(services, "model_manager", None) is None:
        # torch on first use: the API start path stays light
        from modules.models.devices import DeviceConfig
        from modules.models.manager import ModelManager

        services.device_config = DeviceConfig.from_cmd_opts(services.cmd_opts)
        services.model_manager = ModelManager(
            services.checkpoints, services.cmd_opts, services.opts, services.device_config,
            on_loaded=list(MODEL_LOADED_HOOKS),
            on_activated=[_attach_text_path, lambda model: apply_vae(model, services)], services=services)
    return services.model_manager


def apply_vae(model: Any = None, services: Services | None = None) -> None:
    """Give the live model the VAE that ``--vae-path`` / ``sd_vae`` / the checkpoint's preferences name."""
    # torch on first use: the API start path stays light
    from modules.models.vae_selection import VaeSwitcher, resolve_vae

    services = services if services is not None else current_services()
    model = model if model is not None else services.sd_model
    if model is None:
        return
    registry, cmd_opts = services.vae_files, services.cmd_opts
    choice = resolve_vae(model.sd_checkpoint_info.filename, services.opts, cmd_opts, registry.vae_dict,
                         registry.find_near_checkpoint)

    def short_hash(path: str) -> str | None:
        digest = hashing.sha256(services.cache, path, f"vae/{os.path.basename(path)}", no_hashing=cmd_opts.no_hashing)
        return digest[:10] if digest else None

    VaeSwitcher(allow_unsafe=cmd_opts.disable_safe_unpickle).apply(model, choice, short_hash)


def _on_vae_setting_changed(services: Services) -> None:
    """Setting ``sd_vae`` (or its override switch) changed: load that VAE into the live model."""
    if services.sd_model is None:
        return
    with queue_lock:
        apply_vae(services=services)


def _on_attention_setting_changed(services: Services) -> None:
    if getattr(services, "model_manager", None) is None:
        return
    with queue_lock:
        services.model_manager.apply_attention_setting()


def _on_fp8_setting_changed(services: Services) -> None:
    """Setting ``fp8_storage`` / ``cache_fp16_weight`` changed: the live checkpoint is read again if its storage differs."""
    if getattr(services, "model_manager", None) is None:
        return
    with queue_lock:
        services.model_manager.apply_fp8_setting()


def _model_hijack() -> Any:
    # read at call time: a test or an extension may have replaced A1111's object
    return model_hijack_module.model_hijack


def _attach_text_path(model: Any) -> None:
    """A1111's hijack: prompts go through emphasis, chunking and textual inversion for the live model."""
    _model_hijack().hijack(model)


def _model_loaded_callbacks(model: Any) -> None:
    callbacks.model_loaded_callback(model)


MODEL_LOADED_HOOKS: list[Callable[[Any], None]] = [_model_loaded_callbacks]
"""Called with each newly loaded model (text conditioning, embeddings, extensions' ``on_model_loaded``)."""


def _on_checkpoint_setting_changed(services: Services) -> None:
    """Setting ``sd_model_checkpoint`` changed (options API, quicksettings): load that checkpoint."""
    if services.checkpoints is None:
        return
    with queue_lock:
        model_manager(services).reload_model_weights()


def _load_model_step(services: Services, model_loader: ModelLoader | None, result: StartupResult,
                     background: bool) -> str:
    cmd_opts = services.cmd_opts
    if cmd_opts.skip_load_model_at_start or cmd_opts.ui_debug_mode:
        return "skipped"
    try:
        info = services.checkpoints.select(services.opts.sd_model_checkpoint)
    except NoCheckpointsError as e:
        notice = NoCheckpointNotice(str(e))
        result.notices.append(notice)
        print(notice, flush=True)
        return "no checkpoint"
    loader = model_loader or (lambda checkpoint: model_manager(services).load(checkpoint))

    def load() -> None:
        try:
            model = loader(info)
        except Exception:
            print(f"*** Failed to load checkpoint {info.filename}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            return
        if model is not None:
            services.sd_model = model

    if not background:
        load()
        return "loaded" if services.sd_model is not None else "failed"

    def load_locked() -> None:
        with queue_lock:
            load()

    threading.Thread(target=load_locked, name="model-loader", daemon=True).start()
    return "loading in background"


_STEP_FUNCTIONS: tuple[Callable[[_Start], None], ...] = (
    _load_options, _parse_flags, _cleanup_models, _list_models, _face_restorers, _upscalers, _load_scripts,
    _list_vae, _load_model,
)
"""One function per entry of :data:`STARTUP_STEPS`, in that order."""
