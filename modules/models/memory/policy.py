"""The memory policies (A1111's ``--medvram``, ``--medvram-sdxl``, ``--lowvram``, and an automatic one) as
decisions made from numbers, so that every choice is testable with a device-budget fake.

A model is three parts: the text encoder, the UNet (its blocks, plus a small core that always stays on
the device: time/label embeddings and the output layer) and the VAE.  Each unit is ``RESIDENT`` (on the
device for good), ``SWAPPED`` (moved to the device when used, moved back when another needs the room) or
``STREAMED`` (one UNet block: moved in for its forward and dropped right after).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MB = 1024 ** 2


class Mode(str, enum.Enum):
    RESIDENT = "resident"
    """Everything on the device (no flag on a CPU or MPS machine, or a card with room for it all)."""
    MEDVRAM = "medvram"
    """Text encoder, UNet and VAE each moved to the device only while used, one at a time."""
    LOWVRAM = "lowvram"
    """As medvram, and the UNet streamed block by block."""
    AUTO = "auto"
    """Keep what fits in the free memory less the reserve resident; swap or stream the rest."""


class Place(str, enum.Enum):
    RESIDENT = "resident"
    SWAPPED = "swapped"
    STREAMED = "streamed"


@dataclass(frozen=True)
class DeviceBudget:
    """Device memory in bytes: ``free`` now (besides this model) and ``total``."""

    free: int
    total: int

    @classmethod
    def of_cuda(cls, device: Any, cuda: Any = None) -> "DeviceBudget":
        """Read from the driver (``torch.cuda.mem_get_info``); ``cuda`` is a fake in tests."""
        if cuda is None:
            import torch  # noqa: PLC0415  (torch.cuda only when a CUDA budget is asked for)

            cuda = torch.cuda
        free, total = cuda.mem_get_info(device)
        return cls(int(free), int(total))


@dataclass(frozen=True)
class PartSizes:
    """Bytes of each unit of a model: ``blocks`` are the UNet's streamable blocks, in call order."""

    text_encoder: int
    vae: int
    unet_core: int
    blocks: Mapping[str, int]

    @property
    def unet(self) -> int:
        return self.unet_core + sum(self.blocks.values())

    @property
    def total(self) -> int:
        return self.text_encoder + self.vae + self.unet


@dataclass
class MemoryPlan:
    """Where each unit goes.  ``swap_room`` is the bytes swapped/streamed units may hold on the device
    together (``None``: one at a time, A1111's behaviour for medvram and lowvram)."""

    mode: Mode
    places: dict[str, Place]
    swap_room: int | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    def units(self, place: Place) -> list[str]:
        return [name for name, p in self.places.items() if p is place]


class MemoryFlagError(ValueError):
    """A combination of memory flags that cannot work."""


def mode_from_flags(cmd_opts: Any, device_type: str, is_sdxl: bool) -> Mode:
    """The policy the flags ask for on this device type.

    A CPU has no separate device memory, so every flag means ``RESIDENT`` there (as A1111's moves to
    ``cpu`` are no-ops); ``AUTO`` is the default on CUDA only, as Forge does.
    """
    if device_type == "cpu":
        return Mode.RESIDENT
    if getattr(cmd_opts, "lowvram", False):
        return Mode.LOWVRAM
    if getattr(cmd_opts, "medvram", False) or (getattr(cmd_opts, "medvram_sdxl", False) and is_sdxl):
        return Mode.MEDVRAM
    if getattr(cmd_opts, "medvram_sdxl", False):
        return Mode.RESIDENT  # --medvram-sdxl on a SD1/SD2 model: the user asked for room only for SDXL
    return Mode.AUTO if device_type == "cuda" else Mode.RESIDENT


def plan(mode: Mode, sizes: PartSizes, budget: DeviceBudget | None = None, reserve: int = 0) -> MemoryPlan:
    """Decide each unit's place; ``budget`` and ``reserve`` (bytes kept free for activations) matter for AUTO."""
    blocks = list(sizes.blocks)
    if mode is Mode.RESIDENT:
        return MemoryPlan(mode, _places(Place.RESIDENT, Place.RESIDENT, blocks), reason="no memory flag")
    if mode is Mode.MEDVRAM:
        return MemoryPlan(mode, _places(Place.SWAPPED, Place.SWAPPED, blocks, unet_as_one=True),
                          reason="--medvram: one part on the device at a time")
    if mode is Mode.LOWVRAM:
        return MemoryPlan(mode, _places(Place.SWAPPED, Place.STREAMED, blocks),
                          reason="--lowvram: UNet streamed block by block")
    if budget is None:
        raise ValueError("the automatic policy needs a device budget")
    return _auto(sizes, budget, reserve)


def _places(others: Place, unet_blocks: Place, blocks: Sequence[str], unet_as_one: bool = False) -> dict[str, Place]:
    places = {"text_encoder": others, "vae": others}
    if unet_as_one:
        places["unet"] = unet_blocks
    else:
        places.update({name: unet_blocks for name in blocks})
    return places


def _auto(sizes: PartSizes, budget: DeviceBudget, reserve: int) -> MemoryPlan:
    room = budget.free - reserve
    blocks = list(sizes.blocks)
    side = max(sizes.text_encoder, sizes.vae)
    gib = f"{room / 1024 ** 3:.2f} GiB free after the reserve"
    if sizes.total <= room:
        return MemoryPlan(Mode.AUTO, _places(Place.RESIDENT, Place.RESIDENT, blocks),
                          reason=f"everything fits ({sizes.total / 1024 ** 3:.2f} GiB, {gib})")
    if sizes.unet + side <= room:
        return MemoryPlan(Mode.AUTO, _places(Place.SWAPPED, Place.RESIDENT, blocks), swap_room=room - sizes.unet,
                          reason=f"UNet resident, text encoder and VAE swapped ({gib})")
    # the UNet does not fit with the others: keep the largest blocks that leave room for the streamed ones
    biggest = max(sizes.blocks.values(), default=0)
    stream_room = max(side, 2 * biggest)  # a streamed block and the next one being prefetched
    left = room - sizes.unet_core - stream_room
    places = _places(Place.SWAPPED, Place.STREAMED, blocks)
    for name in sorted(blocks, key=lambda n: -sizes.blocks[n]):
        if sizes.blocks[name] <= left:
            places[name] = Place.RESIDENT
            left -= sizes.blocks[name]
    resident = sum(sizes.blocks[n] for n in blocks if places[n] is Place.RESIDENT)
    notes = []
    if room < sizes.unet_core + stream_room:
        notes.append(f"the device has {room / MB:.0f} MB after the reserve, less than the "
                     f"{(sizes.unet_core + stream_room) / MB:.0f} MB streaming needs: expect out-of-memory errors")
    return MemoryPlan(Mode.AUTO, places, swap_room=max(room - sizes.unet_core - resident, 0),
                      reason=f"UNet streamed: {sum(p is Place.RESIDENT for p in places.values())} of "
                             f"{len(blocks)} blocks resident ({gib})", notes=notes)
