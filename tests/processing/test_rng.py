"""Seeds and initial noise: sources, per-image generators, variation seeds, resize-seed, ENSD, batch seeds."""
from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from modules.processing import rng
from modules.processing.rng_philox import Generator as PhiloxGenerator

SHAPE = (4, 8, 8)


def settings(source: str = "GPU", ensd: int = 0) -> SimpleNamespace:
    return SimpleNamespace(randn_source=source, eta_noise_seed_delta=ensd, enable_batch_seeds=True)


def test_cpu_source_gives_torchs_known_numbers_for_seed_0():
    x = rng.randn_local(0, (4,), source="CPU")
    assert [round(v, 4) for v in x.tolist()] == [1.541, -0.2934, -2.1788, 0.5684]


def test_gpu_source_falls_back_to_the_cpu_generator_on_a_cpu_device():
    gpu = rng.randn_local(123, SHAPE, source="GPU", device="cpu")
    cpu = rng.randn_local(123, SHAPE, source="CPU", device="cpu")
    assert torch.equal(gpu, cpu)


def test_nv_source_is_the_philox_stream():
    x = rng.randn_local(5, SHAPE, source="NV")
    assert x.dtype == torch.float32
    assert np.array_equal(x.numpy(), PhiloxGenerator(5).randn(SHAPE))


@pytest.mark.parametrize("source", rng.RNG_SOURCES)
def test_noise_is_reproducible(source):
    a = rng.ImageRNG(SHAPE, [11, 12], settings=settings(source)).next()
    b = rng.ImageRNG(SHAPE, [11, 12], settings=settings(source)).next()
    assert a.shape == (2, *SHAPE)
    assert torch.equal(a, b)


def test_cpu_source_noise_does_not_depend_on_the_device():
    # the CPU source draws on the CPU and only moves the result, so any device gives the same numbers
    on_cpu = rng.randn_local(77, SHAPE, source="CPU", device="cpu")
    assert rng.generator_device("CPU", "cuda") == torch.device("cpu")
    assert rng.generator_device("GPU", "mps") == torch.device("cpu")
    assert rng.generator_device("GPU", "cuda") == torch.device("cuda")
    assert torch.equal(on_cpu, rng.randn_local(77, SHAPE, source="CPU"))


@pytest.mark.parametrize("source", rng.RNG_SOURCES)
def test_a_batch_gives_the_same_noise_as_single_images(source):
    batch = rng.ImageRNG(SHAPE, [100, 101], settings=settings(source))
    singles = [rng.ImageRNG(SHAPE, [s], settings=settings(source)) for s in (100, 101)]
    for _ in range(3):  # first() and the sampler's later draws
        together = batch.next()
        alone = torch.cat([r.next() for r in singles])
        assert torch.equal(together, alone)


def test_first_noise_is_the_seeds_first_draw():
    x = rng.ImageRNG(SHAPE, [9], settings=settings("CPU")).next()
    assert torch.equal(x[0], rng.randn_local(9, SHAPE, source="CPU"))


def test_variation_strength_0_is_the_seed_and_1_is_the_variation_seed():
    base = rng.randn_local(1, SHAPE)
    sub = rng.randn_local(2, SHAPE)
    none = rng.ImageRNG(SHAPE, [1], subseeds=[2], subseed_strength=0.0).next()[0]
    full = rng.ImageRNG(SHAPE, [1], subseeds=[2], subseed_strength=1.0).next()[0]
    half = rng.ImageRNG(SHAPE, [1], subseeds=[2], subseed_strength=0.5).next()[0]
    assert torch.equal(none, base)
    assert torch.allclose(full, sub, atol=1e-5)
    assert not torch.allclose(half, base) and not torch.allclose(half, sub)
    assert torch.allclose(half, rng.slerp(0.5, base, sub))


def test_missing_variation_seeds_count_as_0():
    x = rng.ImageRNG(SHAPE, [1, 2], subseeds=[5], subseed_strength=1.0).next()
    assert torch.allclose(x[1], rng.randn_local(0, SHAPE), atol=1e-5)


def test_slerp_of_near_parallel_noise_falls_back_to_a1111s_weighted_sum():
    low = torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(3))
    high = low * 1.0001
    # A1111 weighs the fallback the other way round (low * val): kept for identical pictures
    assert torch.equal(rng.slerp(0.25, low, high), low * 0.25 + high * 0.75)


def test_resize_seed_pastes_the_old_size_noise_in_the_centre():
    old = rng.randn_local(50, (4, 4, 4))
    x = rng.ImageRNG(SHAPE, [50], seed_resize_from_h=32, seed_resize_from_w=32).next()[0]
    assert torch.equal(x[:, 2:6, 2:6], old)
    canvas = rng.randn_local(50, SHAPE)
    outside = torch.ones(SHAPE, dtype=torch.bool)
    outside[:, 2:6, 2:6] = False
    assert torch.equal(x[outside], canvas[outside])


def test_resize_seed_from_a_larger_size_crops_the_middle():
    old = rng.randn_local(50, (4, 12, 16))
    x = rng.ImageRNG(SHAPE, [50], seed_resize_from_h=96, seed_resize_from_w=128).next()[0]
    assert torch.equal(x, old[:, 2:10, 4:12])


def test_resize_seed_needs_both_sizes():
    assert rng.noise_shape(SHAPE, 0, 512) == SHAPE
    assert rng.noise_shape(SHAPE, 512, -1) == SHAPE
    assert rng.noise_shape(SHAPE, 256, 512) == (4, 32, 64)
    x = rng.ImageRNG(SHAPE, [50], seed_resize_from_h=-1, seed_resize_from_w=64).next()[0]
    assert torch.equal(x, rng.randn_local(50, SHAPE))


def test_resize_seed_with_variation_mixes_at_the_old_size():
    x = rng.ImageRNG(SHAPE, [1], subseeds=[2], subseed_strength=1.0, seed_resize_from_h=32,
                     seed_resize_from_w=32).next()[0]
    assert torch.allclose(x[:, 2:6, 2:6], rng.randn_local(2, (4, 4, 4)), atol=1e-5)


@pytest.mark.parametrize("source", rng.RNG_SOURCES)
def test_ensd_reseeds_the_later_noise(source):
    r = rng.ImageRNG(SHAPE, [10, 20], settings=settings(source, ensd=31337))
    first = r.next()
    later = r.next()
    plain = rng.ImageRNG(SHAPE, [10, 20], settings=settings(source))
    assert torch.equal(first, plain.next())
    assert torch.equal(later[0], rng.randn_local(10 + 31337, SHAPE, source=source))
    assert torch.equal(later[1], rng.randn_local(20 + 31337, SHAPE, source=source))


def test_without_ensd_later_noise_continues_each_images_generator():
    r = rng.ImageRNG(SHAPE, [10], settings=settings("CPU"))
    r.next()
    g = torch.Generator().manual_seed(10)
    torch.randn(SHAPE, generator=g)
    assert torch.equal(r.next()[0], torch.randn(SHAPE, generator=g))


def test_first_leaves_the_global_generator_seeded_with_the_last_seed():
    rng.ImageRNG(SHAPE, [3, 4], settings=settings("CPU")).next()
    assert torch.equal(torch.randn(SHAPE), rng.randn_local(4, SHAPE))


def test_global_randn_contract():
    a = rng.randn(8, (5,))
    follow = rng.randn_like(a)
    rng.manual_seed(8)
    assert torch.equal(torch.randn(5), a)
    assert torch.equal(torch.randn(5), follow)
    nv = rng.randn(8, (5,), source="NV")
    nv_follow = rng.randn_without_seed((5,), source="NV")
    g = PhiloxGenerator(8)
    assert np.array_equal(nv.numpy(), g.randn((5,)))
    assert np.array_equal(nv_follow.numpy(), g.randn((5,)))


def test_get_fixed_seed():
    rand = random.Random(0)
    for empty in (-1, None, "", "abc", "-1"):
        seed = rng.get_fixed_seed(empty, rand)
        assert isinstance(seed, int) and 0 <= seed < 4294967294
    assert rng.get_fixed_seed("1234") == 1234
    assert rng.get_fixed_seed(5) == 5
    assert rng.get_fixed_seed(2**40) == 2**40


def test_fix_seed_sets_both_seeds():
    p = SimpleNamespace(seed=-1, subseed="77")
    rng.fix_seed(p)
    assert p.subseed == 77 and 0 <= p.seed < rng.SEED_RANGE


def test_batch_seeds_increment_per_image():
    seeds, subseeds = rng.batch_seeds(1000, 50, 0.0, 4)
    assert seeds == [1000, 1001, 1002, 1003]
    assert subseeds == [50, 51, 52, 53]


def test_batch_seeds_with_variation_keep_the_seed_and_step_the_variation_seed():
    seeds, subseeds = rng.batch_seeds(1000, 50, 0.3, 3)
    assert seeds == [1000, 1000, 1000]
    assert subseeds == [50, 51, 52]


def test_batch_seed_lists_are_taken_as_given():
    assert rng.batch_seeds([5, 9], [1, 2], 0.5, 2) == ([5, 9], [1, 2])


def test_seed_extras_only_apply_when_the_extra_box_is_ticked():
    assert rng.seed_extras(False, 5, 0.5, 512, 512) == (-1, 0, 0, 0)
    assert rng.seed_extras(True, 5, 0.5, 512, 768) == (5, 0.5, 512, 768)


def test_create_random_tensors():
    x = rng.create_random_tensors(SHAPE, [1, 2])
    assert torch.equal(x, rng.ImageRNG(SHAPE, [1, 2]).first())
