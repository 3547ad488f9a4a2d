"""Start-up: builds the live objects in A1111's order and names them on ``modules.shared``.

Order (each step timed, the profile printed at the end, as A1111's start-up timer):

1. load options   - ``config.json`` (``--ui-settings-file``; path flags are read first)
2. parse flags    - the full flag set plus extensions' ``preload.py`` flags; unknown flags are an error;
                   ``ui-config.json`` (``--ui-config-file``) is read once its path is known
3. cleanup models - stray checkpoints moved into ``models/Stable-diffusion``
4. list models    - checkpoint discovery (``--ckpt``, ``--ckpt-dir``)
5. face restorers
6. upscalers
7. load scripts   - ``scripts/*.py`` of the root and active extensions
8. list VAE
9. load model     - skipped with ``--skip-load-model-at-start``, ``--ui-debug-mode`` or no checkpoint

The UI or API is built by the caller (``webui.py``) afterwards.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from modules import shared
from modules.core.cmd_args import build_parser, parse_flags
from modules.core.options.catalogue import RESTRICTED_OPTS, build_catalogue
from modules.core.options.store import Options, SettingsRestrictions, remove_stale_temp_files
from modules.core.paths import DataPaths, ensure_user_folders, resolve_path_flags
from modules.core.timer import Timer

STARTUP_STEPS = (
    "load options", "parse flags", "cleanup models", "list models", "face restorers",
    "upscalers", "load scripts", "list VAE", "load model",
)

class NoCheckpointNotice(str):
    """The message printed when no checkpoint exists (the server still starts)."""


@dataclass
class StartupResult:
    """What :func:`initialize` built, besides what it stored on ``modules.shared``."""

    timer: Timer
    steps_run: list[str] = field(default_factory=list)
    model_load: str = "not attempted"
    notices: list[str] = field(default_factory=list)


ModelLoader = Callable[[Any], Any]
"""Called with the selected ``CheckpointInfo``; returns the loaded model."""


def _preparse(argv: Sequence[str]) -> argparse.Namespace:
    # Only path flags matter here; the full, strict parse comes after extensions' preload.py.
    namespace, _unknown = build_parser().parse_known_args(list(argv))
    return namespace


def _load_options(pre: argparse.Namespace) -> tuple[Options, DataPaths]:
    paths = resolve_path_flags(argparse.Namespace(**vars(pre)))
    opts = Options(build_catalogue(pre))
    for path in (paths.config_file, paths.ui_config_file):
        remove_stale_temp_files(path)  # left by a save that a crash interrupted
    opts.load(paths.config_file, aside_dir=paths.tmp_dir)
    return opts, paths


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


def initialize(argv: Sequence[str], model_loader: ModelLoader | None = None,
               background_model_load: bool = False) -> StartupResult:
    """Build every live object for ``argv`` (the complete argument list) and store it on ``modules.shared``.

    ``model_loader`` loads the selected checkpoint (default: the model manager);
    with ``background_model_load`` it runs in a thread holding the queue lock, so
    the server answers while the model loads and generations wait for it (A1111).
    Raises :class:`modules.core.cmd_args.FlagError` on an unknown or malformed flag.
    """
    from modules.core.extensions import list_extensions

    timer = Timer()
    result = StartupResult(timer)
    shared.startup_timer = timer
    # a new start (a test, Reload UI) gets its own model manager for its own flags
    shared.model_manager = shared.device_config = shared.sd_model = None

    def done(step: str) -> None:
        timer.record(step)
        result.steps_run.append(step)

    # 1. options (the path flags are pre-read so --data-dir / --ui-settings-file are honoured)
    pre = _preparse(argv)
    opts, _ = _load_options(pre)
    shared.opts = opts
    from modules.runtime.state import State

    shared.state = State()
    done("load options")

    # 2. flags: extensions' preload.py may add some, then a strict parse
    parser = build_parser()
    pre_paths = resolve_path_flags(argparse.Namespace(**vars(pre)))
    pre_extensions = list_extensions(pre_paths, opts.data, pre)
    _run_preloads(pre_extensions, parser)
    cmd_opts = parse_flags(argv, parser)
    paths = resolve_path_flags(cmd_opts)
    opts.restrictions = SettingsRestrictions.from_cmd_opts(cmd_opts, RESTRICTED_OPTS)
    opts.config_filename = paths.config_file
    from modules.core.ui_config import UiConfig

    shared.ui_config = UiConfig(paths.ui_config_file, paths.tmp_dir).load()
    shared.parser, shared.cmd_opts, shared.paths = parser, cmd_opts, paths
    shared.extensions = list_extensions(paths, opts.data, cmd_opts)
    from modules.prompting.styles import StyleDatabase

    shared.prompt_styles = StyleDatabase(list(paths.styles_files))
    from modules import sd_hijack
    from modules.core import hashing
    from modules.prompting.textual_inversion.database import EmbeddingDatabase

    # a fresh database per start-up: folders of an earlier start (a test, a reload) are not scanned again
    shared.embeddings = EmbeddingDatabase(hasher=lambda filename, title: hashing.sha256(shared.cache, filename, title))
    shared.embeddings.add_embedding_dir(paths.embeddings_dir)
    sd_hijack.model_hijack.embedding_db = shared.embeddings
    sd_hijack.model_hijack.clip = None  # no model yet: the token counter shows "-/-" until one loads
    done("parse flags")

    # 3. stray model files
    from modules.models.model_files import cleanup_models

    ensure_user_folders(paths)
    cleanup_models(paths)
    done("cleanup models")

    # 4. checkpoints
    from modules.core.cache import DiskCache
    from modules.models.checkpoints import CheckpointRegistry

    shared.cache = DiskCache.for_paths(paths)
    from modules.runtime.jobs import attach_job_store

    # async jobs of the last run: results readable again, queued ones resume once the API registers their kinds
    attach_job_store(paths)
    shared.checkpoints = CheckpointRegistry(paths, cmd_opts, opts, shared.cache)
    shared.checkpoints.refresh()
    done("list models")

    # 5. face restorers
    from modules.postprocess.face_restoration import FaceRestorerRegistry

    shared.face_restorers = FaceRestorerRegistry()
    shared.face_restorers.setup_builtin(cmd_opts.codeformer_models_path, cmd_opts.gfpgan_models_path, cmd_opts.gfpgan_dir)
    done("face restorers")

    # 6. upscalers
    from modules.postprocess.upscaler_registry import UpscalerRegistry

    shared.upscalers = UpscalerRegistry(cmd_opts)
    shared.sd_upscalers = shared.upscalers.refresh()
    done("upscalers")

    # 7. scripts (an extension's script may define an Upscaler subclass: list upscalers again then)
    load_all_scripts()
    done("load scripts")

    # 8. VAE files
    from modules.models.vae_files import VaeRegistry

    shared.vae_files = VaeRegistry(paths, cmd_opts)
    shared.vae_files.refresh()
    done("list VAE")

    # 9. the model
    opts.onchange("sd_model_checkpoint", _on_checkpoint_setting_changed, call=False)
    opts.onchange("sd_vae", _on_vae_setting_changed, call=False)
    opts.onchange("cross_attention_optimization", _on_attention_setting_changed, call=False)
    opts.onchange("upcast_attn", _on_attention_setting_changed, call=False)
    opts.onchange("sd_vae_overrides_per_model_preferences", _on_vae_setting_changed, call=False)
    result.model_load = _load_model_step(cmd_opts, model_loader, result, background_model_load)
    done("load model")
    return result


def load_all_scripts() -> None:
    """Import every script of the root and the active extensions (start-up step 7, and Reload UI)."""
    from modules import scripts
    from modules.postprocess.upscaler import Upscaler
    from modules import script_callbacks

    from modules.networks.hypernetworks.setup import setup_hypernetworks

    from modules import localization

    known_upscalers = set(_upscaler_class_names(Upscaler))
    setup_hypernetworks()
    scripts.load_scripts()
    localization.list_localizations()
    if set(_upscaler_class_names(Upscaler)) - known_upscalers:
        shared.sd_upscalers = shared.upscalers.refresh()
    # A1111 registers extensions' settings only while building the UI; doing it here gives the API
    # (--nowebui) the same settings, and the Settings tab reads them from the options catalogue.
    script_callbacks.ui_settings_callback()


def _upscaler_class_names(cls: type) -> list[str]:
    names = []
    for sub in cls.__subclasses__():
        names.append(f"{sub.__module__}.{sub.__qualname__}")
        names.extend(_upscaler_class_names(sub))
    return names


def model_manager() -> Any:
    """The model manager of the running app, created on first use (it imports torch)."""
    if getattr(shared, "model_manager", None) is None:
        from modules.models.devices import DeviceConfig
        from modules.models.manager import ModelManager

        shared.device_config = DeviceConfig.from_cmd_opts(shared.cmd_opts)
        shared.model_manager = ModelManager(shared.checkpoints, shared.cmd_opts, shared.opts, shared.device_config,
                                            on_loaded=list(MODEL_LOADED_HOOKS),
                                            on_activated=[_attach_text_path, apply_vae])
    return shared.model_manager


def apply_vae(model: Any = None) -> None:
    """Give the live model the VAE that ``--vae-path`` / ``sd_vae`` / the checkpoint's preferences name."""
    from modules.core import hashing
    from modules.models.vae_selection import VaeSwitcher, resolve_vae

    model = model if model is not None else shared.sd_model
    if model is None:
        return
    registry = shared.vae_files
    choice = resolve_vae(model.sd_checkpoint_info.filename, shared.opts, shared.cmd_opts, registry.vae_dict,
                         registry.find_near_checkpoint)

    def short_hash(path: str) -> str | None:
        digest = hashing.sha256(shared.cache, path, f"vae/{os.path.basename(path)}", no_hashing=shared.cmd_opts.no_hashing)
        return digest[:10] if digest else None

    VaeSwitcher(allow_unsafe=shared.cmd_opts.disable_safe_unpickle).apply(model, choice, short_hash)


def _on_vae_setting_changed() -> None:
    """Setting ``sd_vae`` (or its override switch) changed: load that VAE into the live model."""
    if shared.sd_model is None:
        return
    from modules.call_queue import queue_lock

    with queue_lock:
        apply_vae()


def _on_attention_setting_changed() -> None:
    if getattr(shared, "model_manager", None) is None:
        return
    from modules.call_queue import queue_lock

    with queue_lock:
        shared.model_manager.apply_attention_setting()


def _attach_text_path(model: Any) -> None:
    """A1111's hijack: prompts go through emphasis, chunking and textual inversion for the live model."""
    from modules import sd_hijack

    sd_hijack.model_hijack.hijack(model)


def _model_loaded_callbacks(model: Any) -> None:
    from modules import script_callbacks

    script_callbacks.model_loaded_callback(model)


MODEL_LOADED_HOOKS: list[Callable[[Any], None]] = [_model_loaded_callbacks]
"""Called with each newly loaded model (text conditioning, embeddings, extensions' ``on_model_loaded``)."""


def _default_model_loader(info: Any) -> Any:
    return model_manager().load(info)


def _on_checkpoint_setting_changed() -> None:
    """Setting ``sd_model_checkpoint`` changed (options API, quicksettings): load that checkpoint."""
    if shared.checkpoints is None:
        return
    from modules.call_queue import queue_lock

    with queue_lock:
        model_manager().reload_model_weights()


def _load_model_step(cmd_opts: argparse.Namespace, model_loader: ModelLoader | None, result: StartupResult,
                     background: bool) -> str:
    from modules.models.checkpoints import NoCheckpointsError

    if cmd_opts.skip_load_model_at_start or cmd_opts.ui_debug_mode:
        return "skipped"
    try:
        info = shared.checkpoints.select(shared.opts.sd_model_checkpoint)
    except NoCheckpointsError as e:
        notice = NoCheckpointNotice(str(e))
        result.notices.append(notice)
        print(notice, flush=True)
        return "no checkpoint"
    loader = model_loader or _default_model_loader

    def load() -> None:
        try:
            model = loader(info)
        except Exception:
            print(f"*** Failed to load checkpoint {info.filename}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            return
        if model is not None:
            shared.sd_model = model

    if not background:
        load()
        return "loaded" if shared.sd_model is not None else "failed"
    import threading

    from modules.call_queue import queue_lock

    def load_locked() -> None:
        with queue_lock:
            load()

    threading.Thread(target=load_locked, name="model-loader", daemon=True).start()
    return "loading in background"
