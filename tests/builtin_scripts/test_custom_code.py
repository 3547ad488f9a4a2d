"""Custom code: absent without ``--allow-code`` (UI, API, direct call), runs the code with ``p`` when allowed,
and the code's errors are messages, not crashes."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

TITLE = "Custom code"


def _p(**kw):
    from modules.processing import StableDiffusionProcessingTxt2Img

    args = dict(prompt="a cat", negative_prompt="", steps=3, width=64, height=64, seed=5, sampler_name="Euler",
                do_not_save_samples=True, do_not_save_grid=True)
    args.update(kw)
    return StableDiffusionProcessingTxt2Img(**args)


def _client(shared) -> TestClient:
    from modules.app_server import create_app

    return TestClient(create_app(shared.cmd_opts, with_ui=False))


CHANGE_STEPS = """from modules.processing import process_images

p.steps = 1
p.seed = 77
return process_images(p)
"""


def test_not_offered_without_allow_code(app):
    from modules import scripts

    shared = app("sd1", "--api")
    for runner in (scripts.scripts_txt2img, scripts.scripts_img2img):
        assert runner.script(TITLE) is None and TITLE not in runner.titles
    client = _client(shared)
    listed = client.get("/sdapi/v1/scripts").json()
    assert "custom code" not in listed["txt2img"] + listed["img2img"]
    info = client.get("/sdapi/v1/script-info").json()
    assert "custom code" not in [s["name"] for s in info]
    r = client.post("/sdapi/v1/txt2img", json={"prompt": "x", "steps": 1, "width": 64, "height": 64,
                                               "script_name": "custom code", "script_args": ["p.steps = 1", 2]})
    assert r.status_code == 422 and "custom code" in r.text


def test_run_refuses_without_the_flag(app):
    import importlib.util

    from modules.processing.processing_base import GenerationError

    app()
    spec = importlib.util.spec_from_file_location("custom_code_direct", "scripts/custom_code.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.Script().show(True) is False
    with pytest.raises(GenerationError, match="--allow-code"):
        module.Script().run(_p(), CHANGE_STEPS, 2)


def test_runs_the_code_with_p(app, run):
    from modules import scripts

    shared = app("sd1", "--allow-code")
    assert shared.cmd_opts.allow_code
    assert TITLE in scripts.scripts_txt2img.titles and TITLE in scripts.scripts_img2img.titles
    p = _p()
    processed = run(scripts.scripts_txt2img, TITLE, p, CHANGE_STEPS, 2)
    assert p.steps == 1 and processed.steps == 1 and processed.seed == 77
    assert "Steps: 1," in processed.info and "Seed: 77," in processed.info
    assert [im.size for im in processed.images] == [(64, 64)]


def test_display_sets_the_answer_without_a_return(app, run):
    from modules import scripts

    app("sd1", "--allow-code")
    code = ("from PIL import Image\n"
            "p.width = 32\n"
            "display([Image.new('RGB', (p.width, 8), 'red')], 123, 'made by hand')")
    processed = run(scripts.scripts_txt2img, TITLE, _p(), code, 4)
    assert [im.size for im in processed.images] == [(32, 8)]
    assert processed.images[0].getpixel((0, 0)) == (255, 0, 0)
    assert (processed.seed, processed.info) == (123, "made by hand")
    # nothing displayed, nothing returned: an empty answer
    empty = run(scripts.scripts_txt2img, TITLE, _p(), "x = 1", 2)
    assert empty.images == [] and empty.seed == -1


def test_errors_in_the_code_are_messages(app, run):
    from modules import scripts
    from modules.processing.processing_base import GenerationError

    app("sd1", "--allow-code")
    with pytest.raises(GenerationError, match=r"ZeroDivisionError \(line 2\): division by zero"):
        run(scripts.scripts_txt2img, TITLE, _p(), "a = 1\nb = a / 0\nreturn b", 2)
    with pytest.raises(GenerationError, match=r"SyntaxError \(line 1\)"):
        run(scripts.scripts_txt2img, TITLE, _p(), "p.steps = = 3", 2)
    with pytest.raises(GenerationError, match=r"SystemExit"):
        run(scripts.scripts_txt2img, TITLE, _p(), "import sys\nsys.exit(3)", 2)
    with pytest.raises(GenerationError, match="indent level"):
        run(scripts.scripts_txt2img, TITLE, _p(), "x = 1", "two")


def test_through_the_api_with_allow_code(app):
    shared = app("sd1", "--api", "--allow-code")
    client = _client(shared)
    listed = client.get("/sdapi/v1/scripts").json()
    assert "custom code" in listed["txt2img"] and "custom code" in listed["img2img"]
    info = {(s["name"], s["is_img2img"]): s for s in client.get("/sdapi/v1/script-info").json()}
    args = info[("custom code", False)]["args"]
    assert [a["label"] for a in args] == ["Python code", "Indent level"] and args[1]["value"] == 2
    body = {"prompt": "a cat", "steps": 3, "width": 64, "height": 64, "script_name": "custom code",
            "script_args": [CHANGE_STEPS, 2]}
    r = client.post("/sdapi/v1/txt2img", json=body)
    assert r.status_code == 200, r.text
    import json

    answer = json.loads(r.json()["info"])
    assert answer["seed"] == 77 and "Steps: 1," in answer["infotexts"][0]
    body["script_args"] = ["raise ValueError('no cats today')", 2]
    r = client.post("/sdapi/v1/txt2img", json=body)
    assert r.status_code == 422 and "ValueError (line 1): no cats today" in r.text
