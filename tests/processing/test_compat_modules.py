"""A1111's import paths (``modules.images``, ``modules.infotext_utils``, ``modules.rng``...) read ``shared``."""
from __future__ import annotations

import os
from types import SimpleNamespace

import torch
from PIL import Image

from modules.core.options.catalogue import build_catalogue
from modules.core.options.store import Options


def test_images_save_and_read_with_shared_settings(restore_shared, tmp_path):
    from modules import images

    shared = restore_shared
    shared.opts = Options(build_catalogue())
    shared.opts.set("save_to_dirs", False)
    shared.opts.set("samples_format", "png")
    shared.cmd_opts = SimpleNamespace(unix_filenames_sanitization=True, filenames_max_length=128)
    fullfn, txt = images.save_image(Image.new("RGB", (8, 8)), str(tmp_path), "", 7, "a: cat", info="a: cat\nSteps: 1")
    assert os.path.basename(fullfn) == "00000-7-a: cat.png" and txt is None
    geninfo, _ = images.read_info_from_image(Image.open(fullfn))
    assert geninfo == "a: cat\nSteps: 1"
    assert images.sanitize_filename_part("a/b:c") == "a_b:c"
    assert images.image_grid([Image.new("RGB", (4, 4))] * 4).size == (8, 8)
    assert images.FilenameGenerator(None, 3, "p", Image.new("RGB", (2, 2))).apply("[seed]") == "3"


def test_infotext_utils_and_old_name(restore_shared):
    from modules import generation_parameters_copypaste, infotext_utils

    shared = restore_shared
    shared.opts = Options(build_catalogue())
    shared.opts.set("infotext_skip_pasting", ["Seed"])
    d = infotext_utils.parse_generation_parameters("a cat\nSteps: 5, Sampler: Euler, Seed: 3, Clip skip: 2")
    assert d["Steps"] == "5" and "Seed" not in d
    assert generation_parameters_copypaste.parse_generation_parameters is infotext_utils.parse_generation_parameters
    assert infotext_utils.quote("a, b") == '"a, b"'
    assert infotext_utils.get_override_settings(d) == [("Clip skip", "CLIP_stop_at_last_layers", 2)]


def test_rng_reads_the_source_setting(restore_shared):
    from modules import rng, rng_philox

    shared = restore_shared
    shared.opts = Options(build_catalogue())
    shared.opts.set("randn_source", "NV")
    x = rng.ImageRNG((4, 2, 2), [0]).next()
    assert torch.equal(x[0], torch.asarray(rng_philox.Generator(0).randn((4, 2, 2))))
    shared.opts.set("randn_source", "CPU")
    assert torch.equal(rng.randn_local(0, (3,)), torch.randn(3, generator=torch.Generator().manual_seed(0)))
