"""Every numeric txt2img/img2img field is bounded (issue 14): out of range is a 422 naming the field, at once, on
the synchronous and the asynchronous route alike (no job is queued); prompts are held to the prompt limits."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from modules.api import limits
from tests.api.conftest import SMALL, encode, tiny  # noqa: F401  (tiny: the module's app with a tiny checkpoint)

IMG2IMG_BASE = dict(SMALL, init_images=[encode(Image.new("RGB", (64, 64), "red"))])


def base(tab: str) -> dict:
    return dict(SMALL) if tab == "txt2img" else dict(IMG2IMG_BASE)


def out_of_range(tab: str) -> list[tuple[str, float]]:
    """(field, value) just past each end of each bounded field of ``tab``."""
    cases = []
    for name, (low, high) in limits.bounds_for(tab).items():
        step = 1 if isinstance(high, int) and isinstance(low, int) else 0.5
        if name in ("width", "height"):
            step = 8  # a multiple of 8, so the range (not the multiple rule) refuses it
        cases += [(name, low - step), (name, high + step)]
    return cases


def refused(client, tab: str, body: dict, key: str, status: int = 422) -> dict:
    """Assert both routes refuse ``body`` naming ``key``; no job is queued. Returns the sync answer."""
    from modules.runtime.jobs import job_queue

    before = len(job_queue().jobs())
    answers = [client.post(f"/sdapi/v1/{route}", json=body) for route in (tab, f"async/{tab}")]
    for r in answers:
        assert r.status_code == status, (r.request.url, r.text)
        answer = r.json()
        assert set(answer) >= {"error", "detail", "body", "errors"} and answer.get("key") == key, answer
    assert len(job_queue().jobs()) == before
    return answers[0].json()


@pytest.mark.parametrize("tab", ["txt2img", "img2img"])
def test_every_bounded_field_out_of_range_is_refused_at_once_naming_it(tiny, tab):  # noqa: F811
    client, _, _ = tiny
    for name, value in out_of_range(tab):
        answer = refused(client, tab, dict(base(tab), **{name: value}), name)
        assert name in answer["detail"]


def test_bounds_appear_in_the_openapi_schema(tiny):  # noqa: F811
    client, _, _ = tiny
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for model, tab in (("StableDiffusionProcessingTxt2Img", "txt2img"),
                       ("StableDiffusionProcessingImg2Img", "img2img")):
        properties = schemas[model]["properties"]
        for name, (low, high) in limits.bounds_for(tab).items():
            # (JSON numbers: the seeds' 19-digit bounds come back as floats)
            shown = (float(properties[name]["minimum"]), float(properties[name]["maximum"]))
            assert shown == (float(low), float(high)), name


@pytest.mark.parametrize("body, key", [
    ({"cfg_scale": 1e308}, "cfg_scale"),  # A1111: NaN pictures and a 500
    ({"steps": 1000000}, "steps"),
    ({"width": 100000}, "width"),
    ({"width": 4096, "height": 8192}, "width"),  # within the side limit, over the pixel limit
    ({"width": 68}, "width"),  # not a multiple of 8
    ({"enable_hr": True}, "denoising_strength"),  # A1111: TypeError, 500
    ({"enable_hr": True, "denoising_strength": 0.5, "width": 2048, "height": 2048, "hr_scale": 4}, "hr_scale"),
    ({"enable_hr": True, "denoising_strength": 0.5, "width": 8, "height": 2048, "hr_resize_x": 8192}, "hr_resize_x"),
    ({"enable_hr": True, "denoising_strength": 0.5, "hr_scale": 0}, "hr_scale"),
    ({"batch_size": 64, "n_iter": 1000, "width": 1024, "height": 1024}, "n_iter"),
    ({"infotext": "a cat\nSteps: 100000, Seed: 1, Size: 64x64"}, "steps"),  # values from the infotext too
])
def test_bad_txt2img_values_are_refused_at_once(tiny, body, key):  # noqa: F811
    client, _, _ = tiny
    body = dict(SMALL, **body)
    if "infotext" in body:
        body.pop("steps")
    refused(client, "txt2img", body, key)


def test_nan_is_refused(tiny):  # noqa: F811
    client, _, _ = tiny
    for route in ("txt2img", "async/txt2img"):
        r = client.post(f"/sdapi/v1/{route}", content=json.dumps(dict(SMALL, cfg_scale=float("nan"))),
                        headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["key"] == "cfg_scale"


def test_too_many_init_images_are_refused(tiny):  # noqa: F811
    client, _, _ = tiny
    body = dict(IMG2IMG_BASE, init_images=IMG2IMG_BASE["init_images"] * (limits.MAX_BATCH_SIZE + 1))
    refused(client, "img2img", body, "init_images")


@pytest.mark.parametrize("field", limits.PROMPT_FIELDS)
def test_prompts_over_the_prompt_limits_are_refused_at_once(tiny, field):  # noqa: F811
    from modules.prompting.limits import MAX_PROMPT_CHARS, MAX_PROMPT_NESTING

    client, _, _ = tiny
    extra = {"enable_hr": True, "denoising_strength": 0.5} if field.startswith("hr_") else {}
    answer = refused(client, "txt2img", dict(SMALL, **extra, **{field: "(" * (MAX_PROMPT_NESTING + 1)}), field)
    assert "nests brackets" in answer["detail"]
    refused(client, "txt2img", dict(SMALL, **extra, **{field: "a" * (MAX_PROMPT_CHARS + 1)}), field)


def test_prompts_are_checked_with_the_styles_applied(tiny):  # noqa: F811
    from modules.prompting.limits import MAX_PROMPT_NESTING
    from modules.prompting.styles import PromptStyle

    client, shared, _ = tiny
    half = "(" * (MAX_PROMPT_NESTING // 2 + 1)
    shared.prompt_styles.styles["deep"] = PromptStyle("deep", half + "{prompt}", half + "{prompt}", None)
    try:
        for field in ("prompt", "negative_prompt"):
            # each text alone is within the limit, the text with the style applied is not
            assert client.post("/sdapi/v1/txt2img", json=dict(SMALL, steps=1, **{field: half})).status_code == 200
            refused(client, "txt2img", dict(SMALL, styles=["deep"], **{field: half}), field)
    finally:
        del shared.prompt_styles.styles["deep"]


def test_prompt_limit_errors_raised_anywhere_are_a_422_naming_the_field():
    from modules.api.errors import client_error, status_of
    from modules.prompting.limits import PromptLimitError

    known = client_error(PromptLimitError("too deep", key="hr_negative_prompt"))
    assert (known.status_code, known.key, known.detail) == (422, "hr_negative_prompt", "too deep")
    assert status_of(PromptLimitError("too long")) == 422
