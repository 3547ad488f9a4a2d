"""The memory policies decide from numbers: a device-budget fake makes every decision checkable."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from modules.models.memory.policy import MB, DeviceBudget, Mode, PartSizes, Place, mode_from_flags, plan

GB = 1024 ** 3
SD15_FP16 = PartSizes(text_encoder=246 * MB, vae=160 * MB, unet_core=8 * MB,
                      blocks={**{f"input_blocks.{i}": 100 * MB for i in range(12)}, "middle_block": 190 * MB,
                              **{f"output_blocks.{i}": 120 * MB for i in range(12)}})


def flags(**kw):
    return SimpleNamespace(**{"lowvram": False, "medvram": False, "medvram_sdxl": False, **kw})


@pytest.mark.parametrize("kw, device, sdxl, mode", [
    ({}, "cuda", False, Mode.AUTO),
    ({}, "cpu", False, Mode.RESIDENT),
    ({"lowvram": True}, "cpu", False, Mode.RESIDENT),
    ({}, "mps", False, Mode.RESIDENT),
    ({"medvram": True}, "mps", False, Mode.MEDVRAM),
    ({"lowvram": True, "medvram": True}, "cuda", False, Mode.LOWVRAM),
    ({"medvram_sdxl": True}, "cuda", True, Mode.MEDVRAM),
    ({"medvram_sdxl": True}, "cuda", False, Mode.RESIDENT),
])
def test_mode_from_flags(kw, device, sdxl, mode):
    assert mode_from_flags(flags(**kw), device, sdxl) is mode


def test_auto_keeps_everything_resident_when_it_fits():
    p = plan(Mode.AUTO, SD15_FP16, DeviceBudget(free=6 * GB, total=8 * GB), reserve=1 * GB)
    assert set(p.places.values()) == {Place.RESIDENT}


def test_auto_swaps_text_encoder_and_vae_before_touching_the_unet():
    room = SD15_FP16.unet + SD15_FP16.text_encoder + 10 * MB
    p = plan(Mode.AUTO, SD15_FP16, DeviceBudget(free=room + GB, total=4 * GB), reserve=GB)
    assert p.places["text_encoder"] is p.places["vae"] is Place.SWAPPED
    assert all(p.places[name] is Place.RESIDENT for name in SD15_FP16.blocks)
    assert p.swap_room == room - SD15_FP16.unet


def test_auto_streams_the_blocks_that_do_not_fit_keeping_the_largest_resident():
    room = 1500 * MB
    p = plan(Mode.AUTO, SD15_FP16, DeviceBudget(free=room, total=4 * GB), reserve=0)
    resident = [n for n in SD15_FP16.blocks if p.places[n] is Place.RESIDENT]
    streamed = [n for n in SD15_FP16.blocks if p.places[n] is Place.STREAMED]
    assert resident and streamed
    # the room left for streaming: the core, and two of the largest blocks (one running, one prefetched)
    assert sum(SD15_FP16.blocks[n] for n in resident) <= room - SD15_FP16.unet_core - 2 * 190 * MB
    # largest first: the middle block (190 MB) and the output blocks (120 MB) before any input block (100 MB)
    assert "middle_block" in resident and all(n.startswith("output") for n in resident[1:])
    assert not p.notes


def test_auto_on_a_card_too_small_to_stream_says_so():
    p = plan(Mode.AUTO, SD15_FP16, DeviceBudget(free=300 * MB, total=GB), reserve=0)
    assert all(p.places[n] is Place.STREAMED for n in SD15_FP16.blocks)
    assert "out-of-memory" in p.notes[0]


def test_medvram_and_lowvram_are_a1111s_layouts():
    med = plan(Mode.MEDVRAM, SD15_FP16)
    assert med.places == {"text_encoder": Place.SWAPPED, "vae": Place.SWAPPED, "unet": Place.SWAPPED}
    assert med.swap_room is None  # one at a time
    low = plan(Mode.LOWVRAM, SD15_FP16)
    assert low.places["text_encoder"] is Place.SWAPPED
    assert all(low.places[n] is Place.STREAMED for n in SD15_FP16.blocks)


def test_auto_needs_a_budget():
    with pytest.raises(ValueError, match="budget"):
        plan(Mode.AUTO, SD15_FP16)


def test_cuda_budget_read_from_the_driver():
    fake = SimpleNamespace(mem_get_info=lambda device: (3 * GB, 8 * GB))
    assert DeviceBudget.of_cuda("cuda", fake) == DeviceBudget(3 * GB, 8 * GB)


@pytest.mark.parametrize("argv, ok", [
    (["--lowram"], True), (["--medvram", "--lowvram"], True),
    (["--lowram", "--lowvram"], False), (["--lowram", "--medvram-sdxl"], False),
])
def test_impossible_memory_flags_are_a_one_line_error(argv, ok):
    from modules.core.cmd_args import FlagError, parse_flags

    if ok:
        parse_flags(argv, environ={})
    else:
        with pytest.raises(FlagError, match="--lowram loads every weight straight to the GPU") as info:
            parse_flags(argv, environ={})
        assert "\n" not in str(info.value)
