"""The memory manager: applies a :class:`~modules.models.memory.policy.MemoryPlan` to a model with forward
hooks on its modules (instances only, no torch class is patched), moves units in and out as they are
used, and reports what is where (console and ``/sdapi/v1/memory``).

On the CPU every policy is ``RESIDENT`` unless a device budget is given (:meth:`MemoryManager.configure`):
then the CPU stands in for a GPU of that size and the moves are real copies, which is how the streaming
is tested end to end and benchmarked here.
"""
from __future__ import annotations

import contextlib
import gc
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from modules.models.loader import detect_checkpoint
from modules.models.memory.policy import MB, DeviceBudget, MemoryPlan, Mode, Place, mode_from_flags, plan
from modules.models.memory.transfer import CudaPrefetch, SyncTransfer
from modules.models.memory.units import CopyPool, WeightUnit, part_sizes, tensors_of, text_encoder_of, unet_blocks

RESERVE_SETTING = "memory_reserve_mb"
DEFAULT_RESERVE_MB = 1024


class OutOfDeviceMemory(RuntimeError):
    """A job ran out of device memory; the message names the setting or flag to change."""


HINTS = {
    Mode.RESIDENT: "start the web UI with --medvram (or --lowvram), or make the image or batch smaller",
    Mode.AUTO: f"raise setting 'Memory kept free for activations' ({RESERVE_SETTING}), start with --medvram "
               "or --lowvram, or make the image or batch smaller",
    Mode.MEDVRAM: "start the web UI with --lowvram instead of --medvram, or make the image or batch smaller",
    Mode.LOWVRAM: "make the image or batch smaller (--lowvram already keeps the least on the device)",
}


@dataclass
class Attachment:
    """One model's plan, units and hook handles (the model held weakly: a dropped model is not kept alive)."""

    model_ref: "weakref.ref[nn.Module]"
    plan: MemoryPlan
    units: dict[str, WeightUnit]
    handles: list[Any] = field(default_factory=list)
    streamed: list[WeightUnit] = field(default_factory=list)


class MemoryManager:
    """Owner of where every managed model's weights live (one per model manager).

    ``budget`` gives the device budget (default: the CUDA driver's numbers on CUDA, none elsewhere);
    ``cuda`` is the ``torch.cuda`` API (a fake in tests).
    """

    def __init__(self, device: torch.device | str, cmd_opts: Any = None, opts: Any = None,
                 budget: Callable[[torch.device], DeviceBudget] | None = None, cuda: Any = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.device = torch.device(device)
        self.cmd_opts = cmd_opts
        self.opts = opts
        self.cuda = cuda
        self._budget = budget
        self._forced_mode: Mode | None = None
        self.copy_on_cpu = False
        self.log = log or (lambda line: print(line, flush=True))
        self._attached: dict[int, Attachment] = {}
        self._loaded: "OrderedDict[int, WeightUnit]" = OrderedDict()  # swapped/streamed units on the device, LRU first
        self.moves = 0
        self.bytes_moved = 0
        self.copy_pool = CopyPool()
        """The CPU stand-in's reused copy buffers (what a GPU's caching allocator does for real devices);
        kept across jobs and models like the allocator's cache, freed by ``copy_pool.clear()``."""

    # --- configuration ---
    def configure(self, mode: Mode | str | None = None, budget: DeviceBudget | None = None,
                  copy_on_cpu: bool | None = None) -> None:
        """Force a policy and a budget (tests, the bench; a CPU standing in for a small GPU)."""
        self._forced_mode = Mode(mode) if mode is not None else None
        if budget is not None:
            self._budget = lambda _device: budget
        if copy_on_cpu is not None:
            self.copy_on_cpu = copy_on_cpu

    def mode_for(self, is_sdxl: bool) -> Mode:
        if self._forced_mode is not None:
            return self._forced_mode
        return mode_from_flags(self.cmd_opts, self.device.type, is_sdxl)

    def reserve_bytes(self) -> int:
        return int(getattr(self.opts, RESERVE_SETTING, DEFAULT_RESERVE_MB) or 0) * MB

    def budget(self) -> DeviceBudget | None:
        if self._budget is not None:
            return self._budget(self.device)
        if self.device.type == "cuda":
            return DeviceBudget.of_cuda(self.device, self.cuda)
        return None

    def load_device(self, checkpoint: str | os.PathLike) -> torch.device:
        """Where the loader puts the weights: the device when the whole model stays there (or ``--lowram``
        asks for it), else the CPU, from where the plan moves what is resident."""
        if self.device.type == "cpu" or getattr(self.cmd_opts, "lowram", False):
            return self.device
        is_sdxl = False
        if getattr(self.cmd_opts, "medvram_sdxl", False) and str(checkpoint).lower().endswith(".safetensors"):
            is_sdxl = detect_checkpoint(checkpoint).family.startswith(("sdxl", "ssd"))  # SSD-1B is SDXL (is_sdxl)
        mode = self.mode_for(is_sdxl)
        if mode is Mode.RESIDENT:
            return self.device
        if mode is Mode.AUTO:
            budget = self.budget()
            size = os.path.getsize(checkpoint)  # the file's tensors: an upper bound for fp16 plans
            if budget is not None and size <= budget.free - self.reserve_bytes():
                return self.device
        return torch.device("cpu")

    # --- placement ---
    def attach(self, model: nn.Module) -> MemoryPlan:
        """Place ``model``'s weights by its plan and install the hooks that move the rest when used."""
        self.detach(model)
        self._live()
        is_sdxl = bool(getattr(model, "is_sdxl", False))
        mode = self.mode_for(is_sdxl)
        sizes = part_sizes(model)
        reserve = self.reserve_bytes()
        budget = self.budget() if mode is Mode.AUTO else None
        memory_plan = plan(mode, sizes, budget, reserve)
        if mode is Mode.AUTO and memory_plan.units(Place.RESIDENT) != list(memory_plan.places) and self._attached:
            # the next model needs the room: the others go to the CPU, then the plan is made again
            for other in [a.model_ref() for a in list(self._attached.values())]:
                if other is not None:
                    self.detach(other)
                    other.to("cpu")
            gc.collect()
            memory_plan = plan(mode, sizes, self.budget(), reserve)
        units = self._units(model, memory_plan)
        attachment = Attachment(weakref.ref(model), memory_plan, units)
        self._place(model, attachment)
        self._install_hooks(model, attachment)
        self._attached[id(model)] = attachment
        model.lowvram = memory_plan.mode in (Mode.MEDVRAM, Mode.LOWVRAM) or bool(attachment.streamed)
        self.log(self.summary(attachment))
        for note in memory_plan.notes:
            self.log(f"Memory: {note}")
        return memory_plan

    def detach(self, model: nn.Module) -> None:
        """Remove the hooks and put every moved unit's weights back home (the CPU)."""
        attachment = self._attached.pop(id(model), None)
        if attachment is None:
            return
        for handle in attachment.handles:
            handle.remove()
        for unit in attachment.units.values():
            self._move_out(unit)

    def is_attached(self, model: nn.Module) -> bool:
        attachment = self._attached.get(id(model))
        return attachment is not None and attachment.model_ref() is model

    def rest(self) -> None:
        """Move every swapped and streamed unit out (between jobs, after an out-of-memory error): the
        weights are then where the patcher expects them, and the device holds only resident parts."""
        for unit in list(self._loaded.values()):
            self._move_out(unit)

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Around one job: starts from rest; an out-of-memory error frees what the job held and becomes an
        :class:`OutOfDeviceMemory` naming what to change."""
        self.rest()
        try:
            yield
        except torch.OutOfMemoryError as e:
            self.rest()
            gc.collect()
            if self.cuda is not None or torch.cuda.is_available():
                (self.cuda or torch.cuda).empty_cache()
            mode = self._current_mode()
            raise OutOfDeviceMemory(f"out of device memory ({mode.value} policy): {HINTS[mode]}") from e

    # --- reports ---
    def report(self) -> dict[str, Any]:
        """What is where, for ``/sdapi/v1/memory``."""
        models = []
        for attachment in self._live():
            model = attachment.model_ref()
            info = getattr(model, "sd_checkpoint_info", None)
            models.append({
                "model": getattr(info, "title", type(model).__name__),
                "mode": attachment.plan.mode.value, "reason": attachment.plan.reason,
                "swap_room": attachment.plan.swap_room,
                "units": {name: {"place": attachment.plan.places[name].value, "bytes": unit.nbytes,
                                 "on_device": attachment.plan.places[name] is Place.RESIDENT or unit.on_device}
                          for name, unit in attachment.units.items()},
            })
        return {"device": str(self.device), "reserve_bytes": self.reserve_bytes(), "moves": self.moves,
                "bytes_moved": self.bytes_moved, "models": models}

    def summary(self, attachment: Attachment) -> str:
        by_place: dict[Place, int] = {p: 0 for p in Place}
        for name, unit in attachment.units.items():
            by_place[attachment.plan.places[name]] += unit.nbytes
        parts = ", ".join(f"{p.value} {by_place[p] / MB:.0f} MB" for p in Place if by_place[p])
        return f"Memory: {attachment.plan.mode.value} on {self.device} ({attachment.plan.reason}): {parts}"

    # --- internals ---
    def _current_mode(self) -> Mode:
        for attachment in self._live():
            return attachment.plan.mode
        return self.mode_for(False)

    def _live(self) -> list[Attachment]:
        """The attachments whose model still exists (a dropped model's entry and units are forgotten)."""
        for key, attachment in list(self._attached.items()):
            if attachment.model_ref() is None:
                del self._attached[key]
                for unit in attachment.units.values():
                    self._loaded.pop(id(unit), None)
        return list(self._attached.values())

    def _units(self, model: nn.Module, memory_plan: MemoryPlan) -> dict[str, WeightUnit]:
        unet = model.model.diffusion_model
        blocks = unet_blocks(unet)
        units = {"text_encoder": WeightUnit("text_encoder", [text_encoder_of(model)]),
                 "vae": WeightUnit("vae", [model.first_stage_model])}
        if "unet" in memory_plan.places:
            units["unet"] = WeightUnit("unet", list(blocks.values()))
        else:
            units.update({name: WeightUnit(name, [block]) for name, block in blocks.items()})
        return units

    def _place(self, model: nn.Module, attachment: Attachment) -> None:
        moving = {id(t) for name, unit in attachment.units.items()
                  if attachment.plan.places[name] is not Place.RESIDENT for t in unit.tensors}
        cpu = torch.device("cpu")
        for tensor in tensors_of([model]):
            target = cpu if id(tensor) in moving else self.device
            if tensor.device != target:
                tensor.data = tensor.data.to(target)
        if self.device.type == "cuda":
            for unit in attachment.units.values():
                if attachment.plan.places[unit.name] is Place.STREAMED:
                    unit.pin()

    def _install_hooks(self, model: nn.Module, attachment: Attachment) -> None:
        transfer = self._transfer()
        unet = model.model.diffusion_model
        roots = {"text_encoder": text_encoder_of(model), "vae": model.first_stage_model, "unet": unet}
        streamed = [attachment.units[n] for n, p in attachment.plan.places.items() if p is Place.STREAMED]
        attachment.streamed = streamed
        for name, place in attachment.plan.places.items():
            unit = attachment.units[name]
            if place is Place.SWAPPED:
                # the text encoder and the VAE are entered through several methods (encode, decode, the
                # prompt path's embeddings): every module holding weights brings the whole unit in
                entries = [roots[name]] if name == "unet" else [
                    m for m in roots[name].modules()
                    if any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False))]
                for module in entries:
                    attachment.handles.append(module.register_forward_pre_hook(self._swap_hook(unit, attachment)))
            elif place is Place.STREAMED:
                following = streamed[(streamed.index(unit) + 1) % len(streamed)]
                module = unit.modules[0]
                attachment.handles.append(module.register_forward_pre_hook(
                    self._stream_in_hook(unit, following, transfer, attachment)))
                attachment.handles.append(module.register_forward_hook(self._stream_out_hook(unit)))

    def _transfer(self) -> SyncTransfer | CudaPrefetch:
        if self.device.type == "cuda":
            return CudaPrefetch(self.device, self.cuda)
        return SyncTransfer(self.device, copy=self.copy_on_cpu, pool=self.copy_pool)

    def _swap_hook(self, unit: WeightUnit, attachment: Attachment) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any) -> None:
            if unit.on_device:
                self._loaded.move_to_end(id(unit))
                return
            self._make_room(unit, attachment)
            self._move_in(unit)
        return hook

    def _stream_in_hook(self, unit: WeightUnit, following: WeightUnit, transfer: Any,
                        attachment: Attachment) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any) -> None:
            if not unit.on_device:
                self._make_room(unit, attachment)
            self._move_in(unit, transfer)
            if transfer.prefetches and following is not unit:
                self._move_in(following, transfer, prefetch=True)
        return hook

    def _stream_out_hook(self, unit: WeightUnit) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any, _output: Any) -> None:
            self._move_out(unit)
        return hook

    def _make_room(self, unit: WeightUnit, attachment: Attachment) -> None:
        """Move swapped units out (least recently used first) until ``unit`` fits the plan's swap room;
        streamed blocks leave by themselves after their forward."""
        room = attachment.plan.swap_room
        swapped = [u for u in self._loaded.values() if u is not unit and u not in attachment.streamed]
        for other in swapped:
            if room is not None and sum(u.nbytes for u in self._loaded.values()) + unit.nbytes <= room:
                break
            self._move_out(other)

    def _move_in(self, unit: WeightUnit, transfer: Any = None, prefetch: bool = False) -> None:
        was_on_device = unit.on_device
        transfer = transfer or SyncTransfer(self.device, copy=self.copy_on_cpu, pool=self.copy_pool)
        if prefetch:
            transfer.start(unit)
        else:
            transfer.ready(unit)
        if not was_on_device and unit.on_device:
            self.moves += 1
            self.bytes_moved += unit.nbytes
        self._loaded[id(unit)] = unit
        self._loaded.move_to_end(id(unit))

    def _move_out(self, unit: WeightUnit) -> None:
        unit.move_out()
        self._loaded.pop(id(unit), None)


def job_guard(services: Any) -> contextlib.AbstractContextManager:
    """The live model manager's memory guard for one job (nothing to guard without one)."""
    memory = getattr(getattr(services, "model_manager", None), "memory", None)
    return memory.guard() if memory is not None else contextlib.nullcontext()
