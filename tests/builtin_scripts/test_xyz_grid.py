"""X/Y/Z plot: value parsing, and a steps x sampler plot whose cells equal single generations."""
from __future__ import annotations

import numpy as np
import pytest

from modules.builtin_scripts.value_ranges import expand_float, expand_int, split_csv


def test_ranges_and_csv():
    assert expand_int(split_csv("1-5")) == [1, 2, 3, 4, 5]
    assert expand_int(split_csv("1-10 (+2)")) == [1, 3, 5, 7, 9]
    assert expand_int(split_csv("1-10 [5]")) == [1, 3, 5, 7, 10]
    assert expand_int(split_csv("10-1 (-3), 20")) == [10, 7, 4, 1, 20]
    assert expand_float(split_csv("0.5-1 (+0.1)")) == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert expand_float(split_csv("0-1 [5]")) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert split_csv('"a, b", c ,,d') == ["a, b", "c", "d"]


def test_prompt_order_and_sr():
    from types import SimpleNamespace

    from modules.builtin_scripts.xyz_axes import apply_order, apply_prompt

    p = SimpleNamespace(prompt="a cat, red, big", negative_prompt="cat")
    apply_order(p, ["big", "red"], [])
    assert p.prompt == "a cat, big, red"
    apply_prompt(p, "dog", ["cat", "dog"])
    assert (p.prompt, p.negative_prompt) == ("a dog, big, red", "dog")
    from modules.processing.processing_base import GenerationError

    with pytest.raises(GenerationError, match="did not find cow"):  # the request's fault: the API answers 422
        apply_prompt(p, "x", ["cow"])


def _p(**kw):
    from modules.processing import StableDiffusionProcessingTxt2Img

    args = dict(prompt="a cat", negative_prompt="", steps=2, width=64, height=64, seed=5, sampler_name="Euler",
                do_not_save_samples=True, do_not_save_grid=True)
    args.update(kw)
    return StableDiffusionProcessingTxt2Img(**args)


def _types():
    from modules.builtin_scripts.xyz_axes import options_for_tab

    return [o.label for o in options_for_tab(False)]


def test_steps_by_sampler_grid_cells_equal_single_generations(app, run):
    from modules import scripts
    from modules.processing import process_images

    shared = app()
    types = _types()
    processed = run(scripts.scripts_txt2img, "X/Y/Z plot", _p(),
                    types.index("Steps"), "2-3", None, types.index("Sampler"), "Euler, DDIM", None, 0, "", None,
                    True, True, False)
    # grid first, then the cells, x (steps) fastest
    assert len(processed.images) == 5
    grid = processed.images[0]
    assert grid.width > 2 * 64 and grid.height > 2 * 64  # legend pads the top and the left
    for index, (sampler, steps) in enumerate([("Euler", 2), ("Euler", 3), ("DDIM", 2), ("DDIM", 3)]):
        single = process_images(_p(steps=steps, sampler_name=sampler))
        assert np.array_equal(np.asarray(processed.images[1 + index]), np.asarray(single.images[0])), (sampler, steps)
        assert processed.infotexts[1 + index] == single.infotexts[0]
    info = processed.infotexts[0]
    assert "Script: X/Y/Z plot, X Type: Steps, X Values: 2-3, Y Type: Sampler, Y Values: \"Euler, DDIM\"" in info
    # the grid's cells sit under the legend, pixel for pixel
    cell = np.asarray(processed.images[1])
    pad_left, pad_top = grid.width - 2 * 64, grid.height - 2 * 64
    assert np.array_equal(np.asarray(grid)[pad_top:pad_top + 64, pad_left:pad_left + 64], cell)


def test_seed_axis_fixes_minus_one_and_reports_it(app, run):
    from modules import scripts

    app()
    types = _types()
    processed = run(scripts.scripts_txt2img, "X/Y/Z plot", _p(), types.index("Seed"), "-1, 7", None,
                    0, "", None, 0, "", None, False, True, False)
    assert len(processed.images) == 3
    assert processed.all_seeds[2] == 7 and processed.all_seeds[1] != -1
    assert f"Fixed X Values: \"{processed.all_seeds[1]}, 7\"" in processed.infotexts[0]


def test_unknown_sampler_is_an_error_naming_it(app, run):
    from modules import scripts
    from modules.processing import GenerationError

    app()
    types = _types()
    with pytest.raises(GenerationError, match="Unknown sampler: Bogus"):
        run(scripts.scripts_txt2img, "X/Y/Z plot", _p(), types.index("Sampler"), "Euler, Bogus", None,
            0, "", None, 0, "", None)
