"""Prompt matrix and prompts from file/textbox: the prompts, images and infotexts A1111 produces."""
from __future__ import annotations

import pytest

from modules.builtin_scripts.prompt_lines import cmdargs


def _p(**kw):
    from modules.processing import StableDiffusionProcessingTxt2Img

    args = dict(prompt="a cat", negative_prompt="", steps=2, width=64, height=64, seed=5, sampler_name="Euler",
                do_not_save_samples=True)
    args.update(kw)
    return StableDiffusionProcessingTxt2Img(**args)


def test_matrix_prompts():
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location("pm", os.path.join("scripts", "prompt_matrix.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parts, prompts = module.matrix_prompts("a cat|red|big", False, ", ")
    assert parts == ["a cat", "red", "big"]
    assert prompts == ["a cat", "a cat, red", "a cat, big", "a cat, red, big"]
    assert module.matrix_prompts("a cat|red", True, " ")[1] == ["a cat", "red a cat"]


def test_cmdargs_flags():
    assert cmdargs('--prompt a red cat --negative_prompt "blurry, dark" --steps 3 --seed 9 --tiling true '
                   '--sampler_name euler --cfg_scale 4.5') == {
        "prompt": "a red cat", "negative_prompt": "blurry, dark", "steps": 3, "seed": 9, "tiling": True,
        "sampler_name": "Euler", "cfg_scale": 4.5}
    with pytest.raises(ValueError, match="unknown commandline option: --bogus"):
        cmdargs("--bogus 1")


def test_prompt_matrix_grid_and_infotexts(app, run):
    from modules import scripts

    app()
    processed = run(scripts.scripts_txt2img, "Prompt matrix", _p(prompt="a cat|red|big"), False, False, "positive",
                    "comma", 0)
    assert processed.all_prompts == ["a cat", "a cat, red", "a cat, big", "a cat, red, big"]
    assert len(processed.images) == 5 and processed.index_of_first_image == 1
    grid = processed.images[0]
    assert grid.width > 2 * 64 and grid.height > 2 * 64
    assert processed.infotexts[2].startswith("a cat, red\n") and "Seed: 5," in processed.infotexts[4]


def test_prompts_from_textbox_lines_and_flags(app, run):
    from modules import scripts

    app()
    text = "a dog\n\n--prompt a red bird --steps 3 --seed 11 --negative_prompt ugly\n"
    processed = run(scripts.scripts_txt2img, "Prompts from file or textbox", _p(prompt=""), False, False, "start",
                    text)
    assert len(processed.images) == 2
    assert processed.all_prompts == ["a dog", "a red bird"]
    assert processed.infotexts[0].startswith("a dog\nSteps: 2,") and "Seed: 5," in processed.infotexts[0]
    assert processed.infotexts[1].startswith("a red bird\nNegative prompt: ugly\nSteps: 3,")
    assert "Seed: 11," in processed.infotexts[1]
