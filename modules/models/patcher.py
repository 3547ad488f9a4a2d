"""The only way a loaded model's weights change: a patcher that merges, backs up and restores.

A *patch set* says, for some of the model's tensors (``"<module path>:<attribute>"``,
e.g. ``"model.diffusion_model.out.2:weight"``), which functions to apply to them:
each :class:`WeightPatch` maps the current value (float32, optionally a block of
rows of it) to the new one.  :meth:`ModelPatcher.apply` installs one patch set per
*owner* (``"lora"``, another extension...) and merges all owners' sets:

- the first time a tensor is touched, its original is kept as the backup
  (on the CPU the original tensor object itself, so no copy is made; on other
  devices a CPU copy, as A1111 keeps it);
- every merge starts from the backup, applies the patches in float32 and writes
  the result back in the tensor's own dtype (an FP8-stored weight with a cached fp16
  copy, setting ``cache_fp16_weight``, starts from that copy: ``fp8_storage.py``);
- a tensor no longer patched gets its original back, bit for bit;
- an owner whose patch set has the same ``key`` as last time costs nothing.

A tensor replaced behind the patcher's back (``load_state_dict``, ``assign``) is
noticed by its version counter / storage and its stale backup is dropped rather
than restored over the new value.

Patch sets are immutable; :meth:`PatchSet.with_patches` and :meth:`PatchSet.merged`
make variants for one request without touching the one installed.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from typing import Callable, Hashable, Mapping, Sequence
from weakref import WeakKeyDictionary

import torch
from torch import nn

from modules.models.fp8_storage import lora_merge_source
from modules.models.gguf_layers import is_quantised_layer

log = logging.getLogger(__name__)

WeightFn = Callable[..., torch.Tensor]
"""``fn(value)``: float32 current value -> float32 new value, as a new tensor.  The argument may be
the original weight itself (float32 models on the CPU keep it as the backup), so it must never be
changed in place.  With ``WeightPatch.takes_out`` the patcher may call ``fn(value, out=buffer)``
instead: the result is written into ``buffer`` (the tensor the previous merge made, reused to spare
an allocation) and returned."""


@dataclass(frozen=True)
class WeightPatch:
    """One change to one tensor.

    ``rows`` limits it to a block of rows (``(start, stop)``), e.g. the q, k or v
    third of a packed ``in_proj_weight``.  ``source`` names where it came from
    (a network's name), so failures can be reported per source.
    """

    fn: WeightFn
    rows: tuple[int, int] | None = None
    source: str = ""
    takes_out: bool = False


@dataclass(frozen=True)
class PatchSet:
    """Patches by tensor key, plus the ``key`` that identifies the whole set (equal keys: nothing to redo)."""

    key: Hashable
    patches: Mapping[str, tuple[WeightPatch, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.patches)

    def with_patches(self, key: Hashable, extra: Mapping[str, Sequence[WeightPatch]]) -> "PatchSet":
        """A copy with ``extra`` patches appended (this set is unchanged)."""
        merged = {k: tuple(v) for k, v in self.patches.items()}
        for name, patches in extra.items():
            merged[name] = merged.get(name, ()) + tuple(patches)
        return PatchSet(key, merged)

    def merged(self, other: "PatchSet") -> "PatchSet":
        """This set followed by ``other`` (keys combined)."""
        return self.with_patches((self.key, other.key), other.patches)


def tensor_key(module_path: str, attr: str) -> str:
    """The key of ``module_path``'s tensor ``attr`` (``"a.b.c:weight"``)."""
    return f"{module_path}:{attr}"


@dataclass
class _Backup:
    original: torch.Tensor
    keeps_object: bool
    """True: ``original`` IS the pre-patch tensor (restored by swapping it back); False: a CPU copy."""
    written: tuple[int, int] = (0, 0)
    """(data pointer, version) of the parameter right after the patcher wrote it."""
    merge_from: torch.Tensor | None = None
    """What merges start from instead of ``original``: an FP8 weight's cached fp16 copy (``cache_fp16_weight``)."""


def _fingerprint(param: torch.Tensor) -> tuple[int, int]:
    return param.data_ptr(), param._version


class ModelPatcher:
    """Applies owners' patch sets to one model's tensors.  Get the model's patcher with :func:`patcher_for`."""

    def __init__(self, model: nn.Module, copy_backups: bool | None = None) -> None:
        """``copy_backups``: keep CPU copies of the originals and write the weights in place (default:
        only for weights off the CPU; on the CPU the original tensor itself is kept, which costs no copy)."""
        # weak: the patchers of :func:`patcher_for` are keyed weakly by their model and must not keep it alive
        self._model = weakref.ref(model)
        self.copy_backups = copy_backups
        self._sets: dict[str, PatchSet] = {}
        self._backups: dict[str, _Backup] = {}
        self._applied: dict[str, tuple[WeightPatch, ...]] = {}
        self.errors: dict[str, int] = {}
        """Failed patches of the last merge, counted by ``WeightPatch.source``."""

    @property
    def model(self) -> nn.Module:
        model = self._model()
        if model is None:
            raise RuntimeError("the patched model no longer exists")
        return model

    # --- public API ---
    def applied_key(self, owner: str) -> Hashable | None:
        """The key of ``owner``'s installed patch set, or ``None``."""
        patch_set = self._sets.get(owner)
        return None if patch_set is None else patch_set.key

    @property
    def patched_keys(self) -> list[str]:
        """Keys of the tensors currently differing from their originals."""
        return list(self._backups)

    def apply(self, owner: str, patch_set: PatchSet | None) -> bool:
        """Install ``owner``'s patch set (``None`` or empty: remove it) and merge; False when nothing changed."""
        current = self._sets.get(owner)
        if patch_set is None or not patch_set:
            if current is None:
                return False
            del self._sets[owner]
        else:
            if current is not None and current.key == patch_set.key:
                return False
            self._sets[owner] = patch_set
        self._merge()
        return True

    def unpatch(self) -> None:
        """Remove every owner's patches: all tensors get their originals back."""
        self._sets.clear()
        self._merge()

    # --- internals ---
    def _wanted(self) -> dict[str, tuple[WeightPatch, ...]]:
        wanted: dict[str, tuple[WeightPatch, ...]] = {}
        for owner in sorted(self._sets):
            for name, patches in self._sets[owner].patches.items():
                if patches:
                    wanted[name] = wanted.get(name, ()) + tuple(patches)
        return wanted

    def _merge(self) -> None:
        self.errors = {}
        wanted = self._wanted()
        with torch.no_grad():
            for name in [n for n in self._backups if n not in wanted]:
                self._restore(name)
                self._applied.pop(name, None)
            for name, patches in wanted.items():
                if self._applied.get(name) == patches and self._untouched(name):
                    continue
                self._write(name, patches)

    def _resolve(self, name: str) -> tuple[nn.Module, str]:
        module_path, _, attr = name.rpartition(":")
        return self.model.get_submodule(module_path), attr

    def _untouched(self, name: str) -> bool:
        backup = self._backups.get(name)
        if backup is None:
            return False
        module, attr = self._resolve(name)
        return _fingerprint(getattr(module, attr)) == backup.written

    def _restore(self, name: str) -> None:
        backup = self._backups.pop(name)
        module, attr = self._resolve(name)
        param = getattr(module, attr)
        if _fingerprint(param) != backup.written:
            # someone replaced this tensor since the patcher wrote it: the new value stays
            log.debug("%s changed outside the patcher; its backup is dropped", name)
            return
        if backup.keeps_object:
            param.data = backup.original
        else:
            param.copy_(backup.original)

    def _original(self, name: str, param: torch.Tensor) -> torch.Tensor:
        backup = self._backups.get(name)
        if backup is not None and _fingerprint(param) != backup.written:
            log.debug("%s changed outside the patcher; taking a new backup", name)
            del self._backups[name]
            backup = None
        if backup is None:
            # on the CPU the original tensor itself is kept and a new one written; elsewhere (GPU memory
            # is scarce) a CPU copy is kept and the parameter is written in place
            keep = param.device.type == "cpu" if self.copy_backups is None else not self.copy_backups
            original = param.data if keep else param.detach().to("cpu", copy=True)
            module, attr = self._resolve(name)
            backup = _Backup(original, keeps_object=keep, merge_from=lora_merge_source(module, attr, param))
            self._backups[name] = backup
        return backup.original

    def _write(self, name: str, patches: tuple[WeightPatch, ...]) -> None:
        module, attr = self._resolve(name)
        if attr == "weight" and is_quantised_layer(module):
            # a GGUF-packed weight: merging into it is not supported yet; each source reports it as an error
            # ("Networks with errors") instead of silently changing nothing
            for patch in patches:
                self.errors[patch.source] = self.errors.get(patch.source, 0) + 1
            return
        param = getattr(module, attr)
        if param is None:
            log.debug("%s does not exist; its patches are skipped", name)
            return
        original = self._original(name, param)
        backup = self._backups[name]
        # the tensor a previous merge wrote (CPU): refilled in place rather than allocating another one
        reuse = param.data if backup.keeps_object and param.data_ptr() != original.data_ptr() else None
        # a float32 original on the weight's device is passed as it is (patch functions return new tensors);
        # row patches write into the value, so they get a copy
        rows = any(patch.rows is not None for patch in patches)
        start = original if backup.merge_from is None else backup.merge_from
        value = start.to(device=param.device, dtype=torch.float32, copy=rows)
        for i, patch in enumerate(patches):
            into = reuse is not None and reuse.dtype == torch.float32 and patch.takes_out and patch.rows is None \
                and i == len(patches) - 1
            try:
                if patch.rows is None:
                    value = patch.fn(value, out=reuse) if into else patch.fn(value)
                else:
                    start, stop = patch.rows
                    value[start:stop] = patch.fn(value[start:stop])
            except RuntimeError as e:
                # a shape that does not fit: count it for the source and go on with the other patches
                log.debug("patch from %s failed on %s: %s", patch.source, name, e)
                self.errors[patch.source] = self.errors.get(patch.source, 0) + 1
        if not backup.keeps_object:
            param.copy_(value)
        elif value is original:
            param.data = original  # every patch failed: the model keeps its own weight
        elif reuse is not None and value.data_ptr() == reuse.data_ptr():
            pass  # written in place by the last patch
        elif reuse is not None and reuse.shape == value.shape:
            reuse.copy_(value)
        else:
            param.data = value.to(param.dtype)
        backup.written = _fingerprint(param)
        self._applied[name] = tuple(patches)


_patchers: "WeakKeyDictionary[nn.Module, ModelPatcher]" = WeakKeyDictionary()


def patcher_for(model: nn.Module) -> ModelPatcher:
    """The one patcher of ``model`` (created on first use; two patchers on one model would fight over backups)."""
    patcher = _patchers.get(model)
    if patcher is None:
        patcher = ModelPatcher(model)
        _patchers[model] = patcher
    return patcher
