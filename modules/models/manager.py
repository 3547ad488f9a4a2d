"""Which checkpoint is loaded: load at start, switch on ``sd_model_checkpoint``, keep a few in memory.

A1111's ``sd_models.load_model`` / ``reload_model_weights`` / ``unload_model_weights``.
Settings ``sd_checkpoints_limit`` (models kept alive) and ``sd_checkpoints_keep_in_cpu``
(inactive ones moved to RAM) decide the cache; switching back to a cached model is
instant.  A failed load keeps the previous model.
"""
from __future__ import annotations

import logging

from collections import OrderedDict
from typing import Any, Callable

import torch

from modules.core.services import current_services
from modules.core.timer import Timer
from modules.models.attention import set_attention
from modules.models.attention_choice import choose_attention
from modules.models.compiled_unet import apply_compile_setting
from modules.models.devices import DeviceConfig, precision_options, torch_gc
from modules.models.fp8_storage import Fp8Settings, fp8_state, wanted_state
from modules.models.loader import LoadOptions, detect_checkpoint, load_model
from modules.models.memory.placement import MemoryManager

log = logging.getLogger(__name__)

ModelHook = Callable[[Any], None]


class ModelManager:
    """Loads checkpoints from the registry and tracks the live one (``services.sd_model``, which
    ``modules.shared.sd_model`` mirrors).

    ``services`` is the :class:`modules.core.services.Services` whose ``sd_model`` follows the live model (the
    installed one when not given).
    """

    def __init__(self, registry: Any, cmd_opts: Any, opts: Any, devices: DeviceConfig,
                 on_loaded: list[ModelHook] | None = None, on_activated: list[ModelHook] | None = None,
                 services: Any = None) -> None:
        self.registry = registry
        self.services = services
        self.cmd_opts = cmd_opts
        self.opts = opts
        self.devices = devices
        self.on_loaded: list[ModelHook] = list(on_loaded or [])
        """Called once with each model read from disk (extensions' ``on_model_loaded``)."""
        self.on_activated: list[ModelHook] = list(on_activated or [])
        """Called each time a model becomes the live one (the text path follows the live model's tokenizer)."""
        self.loaded: "OrderedDict[str, Any]" = OrderedDict()  # checkpoint filename -> model, most recent last
        self.current: Any = None
        self.memory = MemoryManager(devices.device, cmd_opts, opts)
        """Where each loaded model's weights live (``--medvram``, ``--lowvram``, the automatic policy)."""

    # --- public API ---
    def load(self, info: Any, write_setting: bool = True) -> Any:
        """Make ``info`` the live checkpoint, from the cache or from disk; returns the model.

        ``write_setting`` False (refiner, hires checkpoint) leaves setting ``sd_model_checkpoint`` alone, so the
        next job's first batch switches back (A1111's ``SkipWritingToConfig``).
        """
        cached = self.loaded.get(info.filename)
        live_modules = {m.sd_checkpoint_info.filename: getattr(m, "additional_modules", None)
                        for m in self.loaded.values()}  # what each loaded GGUF model was built with
        if cached is not None and self._modules_changed(cached):
            # a GGUF model loaded with other text encoder / VAE files than the setting names now: loaded again
            print(f"{info.title}: setting forge_additional_modules changed, loading it again", flush=True)
            cached = None
        elif self.current is not None and self.current.sd_checkpoint_info.filename == info.filename:
            return self.current
        if cached is not None:
            print(f"Using already loaded model {info.title}", flush=True)
            self._activate(cached, write_setting)
            return cached
        if str(info.filename).lower().endswith(".safetensors"):
            # a header that cannot be read or a refused family fails here, before the live model is freed
            detect_checkpoint(info.filename)
        previous = self._make_room()
        try:
            model = self._load_from_disk(info)
        except Exception:
            if previous is not None and not self.loaded:
                # the live model was freed for this one: bring it back so the server keeps working
                print(f"Loading {info.title} failed; reloading {previous.title}", flush=True)
                # with the files it was loaded with: the failure may be the new forge_additional_modules themselves
                restored = self._load_from_disk(previous, modules=live_modules.get(previous.filename))
                self.loaded[previous.filename] = restored
                self._activate(restored, write_setting=False)
            raise
        self.loaded[info.filename] = model
        self._activate(model, write_setting)
        self._enforce_limit()
        return model

    def reload_model_weights(self, info: Any = None, write_setting: bool | None = None) -> Any:
        """Load the checkpoint named by setting ``sd_model_checkpoint`` (or ``info``) if it is not the live one."""
        if write_setting is None:
            write_setting = info is None
        if info is None:
            info = self.registry.select(self.opts.sd_model_checkpoint)
        previous = self.current
        try:
            return self.load(info, write_setting)
        except Exception:
            # only a previous model still loaded can come back: one freed for the failed load (its weights on the
            # meta device) was already reloaded by load(), and moving it would fail and hide the real error
            if previous is not None and self.current is not previous and any(m is previous for m in self.loaded.values()):
                print(f"Failed to load checkpoint {info.title}, restoring previous", flush=True)
                self._activate(previous, write_setting)
            raise

    def apply_attention_setting(self) -> None:
        """Setting ``cross_attention_optimization`` / ``upcast_attn`` changed: swap the live model's strategy."""
        for model in self.loaded.values():
            strategy, _warning = choose_attention(self.cmd_opts, getattr(self.opts, "cross_attention_optimization", None),
                                                  self.devices.device, upcast=bool(getattr(self.opts, "upcast_attn", False)))
            set_attention(model, strategy)
            model.attention_strategy = strategy

    def apply_fp8_setting(self) -> Any:
        """Setting ``fp8_storage`` or ``cache_fp16_weight`` changed: reload from the file if the storage differs.

        As A1111: weights already rounded to FP8 are never cast back, the checkpoint is read again, when
        the live model's storage (FP8 or not, fp16 copies kept or not) differs from what the settings now
        ask.  Cached inactive models that no longer match are dropped: they load again from disk when next
        selected.  Returns the live model.
        """
        settings = Fp8Settings.from_opts(self.opts)
        for filename, model in list(self.loaded.items()):
            if model is not self.current and fp8_state(model) != wanted_state(settings, model, self.devices.device):
                del self.loaded[filename]
                model.to("meta")
        model = self.current
        if model is None:
            return None
        wanted = wanted_state(settings, model, self.devices.device)
        if fp8_state(model) == wanted:
            return model
        info = model.sd_checkpoint_info
        del self.loaded[info.filename]
        self.current = None
        model.to("meta")  # frees its weights before the file is read again, as load() does
        del model
        torch_gc()
        reloaded = self._load_from_disk(info)
        self.loaded[info.filename] = reloaded
        self._activate(reloaded, write_setting=False)
        return reloaded

    def unload(self) -> None:
        """Move the live model to RAM (Settings > Actions "Unload SD checkpoint")."""
        if self.current is not None:
            self.memory.detach(self.current)
            self.current.to("cpu")
            torch_gc()

    def release_all(self) -> None:
        """Free every loaded model: its weights go to the meta device and the manager forgets it.

        For ending a runtime inside a longer-lived process (a test session, an embedding application): after
        ``unload`` a model still holds its weights in RAM, and anything that kept a reference to it (a finished
        job's processing object, a script) would keep them alive; a freed model holds no memory whoever refers
        to it.
        """
        models = list(self.loaded.values())
        if self.current is not None and all(m is not self.current for m in models):
            models.append(self.current)
        self.loaded.clear()
        self.current = None
        for model in models:
            self.memory.detach(model)
            model.to("meta")
        del models
        torch_gc()

    def reload(self) -> None:
        """Move the live model back to its device."""
        if self.current is not None:
            self.memory.attach(self.current)

    # --- internals ---
    def _load_from_disk(self, info: Any, modules: list[str] | None = None) -> Any:
        """Read ``info``'s file; a GGUF model takes its text encoders / VAE from ``modules`` (default: the
        setting ``forge_additional_modules``)."""
        timer = Timer()
        if not getattr(self.cmd_opts, "no_hashing", False):
            info.calculate_shorthash()
        timer.record("calculate hash")
        attention, _warning = choose_attention(self.cmd_opts, getattr(self.opts, "cross_attention_optimization", None),
                                               self.devices.device, upcast=bool(getattr(self.opts, "upcast_attn", False)))
        options = LoadOptions(device=self.memory.load_device(info.filename), compute_device=self.devices.device,
                              precision=precision_options(self.cmd_opts),
                              allow_unsafe=bool(getattr(self.cmd_opts, "disable_safe_unpickle", False)),
                              attention=attention, fp8=Fp8Settings.from_opts(self.opts),
                              text_encoder_dir=self._text_encoder_dir(),
                              enable_t5=bool(getattr(self.opts, "sd3_enable_t5", False)),
                              midas_dir=self._model_dir("midas"), karlo_dir=self._model_dir("karlo"),
                              xlmr_dir=self._model_dir("xlm-roberta-large"),
                              additional_modules=self._additional_modules() if modules is None else list(modules))
        model = load_model(info.filename, options)
        timer.record("load weights")
        if getattr(self.cmd_opts, "opt_channelslast", False):
            model.model.diffusion_model.to(memory_format=torch.channels_last)
        model.attention_strategy = attention
        model.sd_checkpoint_info = info
        model.sd_model_checkpoint = info.filename
        model.sd_model_hash = info.shorthash
        model.sd_vae_name = None
        model.sd_vae_hash = None
        model.lowvram = False
        for hook in self.on_loaded:
            hook(model)
        timer.record("model hooks")
        print(f"Model loaded in {timer.summary()}.", flush=True)
        return model

    def _additional_modules(self) -> list[str]:
        """Setting ``forge_additional_modules``: the files a GGUF diffusion model takes its text encoders / VAE from."""
        return [str(f) for f in getattr(self.opts, "forge_additional_modules", None) or []]

    def _modules_changed(self, model: Any) -> bool:
        used = getattr(model, "additional_modules", None)  # set on GGUF models only
        return used is not None and used != self._additional_modules()

    def _text_encoder_dir(self) -> str | None:
        """``models/CLIP``, where SD3's separate text encoder files live."""
        services = self.services if self.services is not None else current_services()
        paths = getattr(services, "paths", None) if services is not None else None
        return paths.model_dir("CLIP") if paths is not None else None

    def _model_dir(self, name: str) -> str | None:
        """``models/<name>`` of the running app (``models/midas``: MiDaS for SD2-depth)."""
        services = self.services if self.services is not None else current_services()
        paths = getattr(services, "paths", None) if services is not None else None
        return paths.model_dir(name) if paths is not None else None

    def _activate(self, model: Any, write_setting: bool = True) -> None:
        if self.current is not None and self.current is not model and getattr(self.opts, "sd_checkpoints_keep_in_cpu", True):
            self.memory.detach(self.current)
            self.current.to("cpu")
        if not self.memory.is_attached(model):
            self.memory.attach(model)
        apply_compile_setting(model, self.opts, self.cmd_opts)  # the refiner / hires model is compiled too
        self.current = model
        self.loaded.move_to_end(model.sd_checkpoint_info.filename)
        info = model.sd_checkpoint_info
        if write_setting:
            self.opts.data["sd_model_checkpoint"] = info.title
            self.opts.data["sd_checkpoint_hash"] = info.sha256 or ""
        services = self.services if self.services is not None else current_services()
        services.sd_model = model
        for hook in self.on_activated:
            hook(model)

    def _make_room(self) -> Any:
        """Free the least recently used models so that one more fits in ``sd_checkpoints_limit``.

        Done before the next file is read, as A1111 does, so two full-size models are never in memory
        together (SDXL base and refiner need about 26 GB in fp32 on the CPU).  The freed models' weights
        go to the meta device: whatever still refers to them holds no memory.  Returns the checkpoint
        info of the live model when it was among those freed (to restore it if the new load fails).
        """
        limit = max(1, int(getattr(self.opts, "sd_checkpoints_limit", 1) or 1))
        previous = None
        while self.loaded and len(self.loaded) >= limit:
            filename, model = next(iter(self.loaded.items()))
            del self.loaded[filename]
            if model is self.current:
                previous = model.sd_checkpoint_info
                self.current = None
            self.memory.detach(model)
            model.to("meta")
            del model
        torch_gc()
        return previous

    def _enforce_limit(self) -> None:
        limit = max(1, int(getattr(self.opts, "sd_checkpoints_limit", 1) or 1))
        while len(self.loaded) > limit:
            filename, model = next(iter(self.loaded.items()))
            if model is self.current:
                break
            del self.loaded[filename]
            del model
        torch_gc()


