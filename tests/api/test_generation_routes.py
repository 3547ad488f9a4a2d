"""txt2img / img2img through the API on a tiny checkpoint: A1111's answer shape, numbers, and 4xx for bad input."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import SMALL, decode, encode, reference


def post(client, route, **body):
    return client.post(f"/sdapi/v1/{route}", json=body)


def in_process(shared, **kw):
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images

    args = dict(SMALL, do_not_save_samples=True, do_not_save_grid=True)
    args.update(kw)
    return process_images(StableDiffusionProcessingTxt2Img(**args))


def test_txt2img_answers_a1111s_fields_and_the_image_of_its_seed(tiny):
    client, shared, data_dir = tiny
    ref = reference("txt2img")
    r = client.post("/sdapi/v1/txt2img", json=ref["request"])
    assert r.status_code == 200 and list(r.json()) == ["images", "parameters", "info"]
    body = r.json()
    # A1111's fields in its order, plus Forge's distilled_cfg_scale (Flux dev's guidance; "Beyond A1111", issue 17)
    assert body["parameters"].pop("distilled_cfg_scale") == 3.5
    assert body["parameters"] == ref["body"]["parameters"]
    assert list(body["parameters"]) == list(ref["body"]["parameters"])
    info = json.loads(body["info"])
    assert list(info) == list(ref["info_parsed"])
    name, digest = shared.sd_model.sd_checkpoint_info.name_for_extra, shared.sd_model.sd_model_hash
    expected_infotext = ref["info_parsed"]["infotexts"][0].replace("c955cc14f8", digest).replace("random-sd15", name)
    assert info["infotexts"] == [expected_infotext]
    assert (info["seed"], info["all_seeds"], info["sampler_name"], info["steps"], info["cfg_scale"]) == (1234, [1234], "Euler a", 3, 7.0)
    assert (info["sd_model_name"], info["sd_model_hash"], info["index_of_first_image"]) == (name, digest, 0)

    image = decode(body["images"][0])
    assert image.format == "PNG" and image.size == (64, 64) and image.info["parameters"] == expected_infotext
    alone = in_process(shared, seed=1234)
    assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(alone.images[0]))
    # the API saves nothing unless asked
    assert not os.path.exists(data_dir / "outputs" / "txt2img-images")


@pytest.mark.parametrize("given, sampler, schedule", [
    ("k_euler_a", "Euler a", "Automatic"),
    ("Euler Karras", "Euler", "Karras"),
])
def test_old_sampler_names_are_accepted(tiny, given, sampler, schedule):
    client, _, _ = tiny
    r = post(client, "txt2img", **dict(SMALL, sampler_name=given, steps=2))
    assert r.status_code == 200, r.text
    info = json.loads(r.json()["info"])
    assert info["sampler_name"] == sampler
    assert f"Sampler: {sampler}, Schedule type: {schedule}," in info["infotexts"][0]
    assert r.json()["parameters"]["sampler_name"] == given  # the request is echoed as sent


@pytest.mark.parametrize("body, status, named", [
    ({"sampler_name": "Nope"}, 400, "Nope"),
    ({"sampler_name": None, "sampler_index": "Also nope"}, 400, "Also nope"),
    ({"scheduler": "Sometimes"}, 400, "Sometimes"),
    ({"enable_hr": True, "denoising_strength": 0.5, "hr_sampler_name": "Hires nope"}, 400, "Hires nope"),
    ({"hr_scheduler": "Hires sometimes"}, 400, "Hires sometimes"),
    ({"override_settings": {"sd_model_checkpoint": "missing.safetensors"}}, 422, "missing.safetensors"),
    ({"override_settings": {"jpeg_quality": "high"}}, 422, "jpeg_quality"),
    ({"refiner_checkpoint": "no-refiner"}, 422, "no-refiner"),
    ({"enable_hr": True, "denoising_strength": 0.5, "hr_checkpoint_name": "no-hires"}, 422, "no-hires"),
    ({"enable_hr": True, "denoising_strength": 0.5, "hr_upscaler": "Magic"}, 422, "Magic"),
    ({"enable_hr": True, "denoising_strength": 0.5, "hr_scale": 1000.0}, 422, "hr_scale"),
    ({"batch_size": 100000}, 422, "batch_size"),
    ({"seed": 2 ** 70}, 422, "seed"),
    ({"denoising_strength": 7}, 422, "denoising_strength"),
    ({"script_name": "no such script"}, 422, "no such script"),
    ({"alwayson_scripts": {"ghost": {"args": []}}}, 422, "ghost"),
    ({"steps": 0}, 422, "steps"),
    ({"width": 63}, 422, "63"),
])
def test_bad_txt2img_values_are_4xx_naming_them(tiny, body, status, named):
    client, _, _ = tiny
    r = post(client, "txt2img", **dict(SMALL, **body))
    assert r.status_code == status, r.text
    answer = r.json()
    assert set(answer) >= {"error", "detail", "body", "errors"}
    assert named in answer["detail"]
    assert client.get("/sdapi/v1/progress").status_code == 200


@pytest.mark.parametrize("field, value", [
    ("steps", "abc"), ("width", "wide"), ("prompt", [1, 2]), ("override_settings", "x"), ("alwayson_scripts", []),
    ("send_images", "maybe"), ("sampler_index", None), ("script_args", {"a": 1}), ("styles", "not a list"),
])
def test_wrong_types_are_422_naming_the_field(tiny, field, value):
    client, _, _ = tiny
    r = post(client, "txt2img", **dict(SMALL, **{field: value}))
    assert r.status_code == 422
    assert any(err["loc"][-1] == field or field in err["loc"] for err in r.json()["detail"]), r.json()


def test_nulls_take_the_defaults_and_batches_without_saving_have_no_grid(tiny):
    client, _, _ = tiny
    body = dict(SMALL, steps=2, batch_size=2, seed=10, cfg_scale=None, n_iter=None, restore_faces=None, prompt=None,
                override_settings_restore_afterwards=None, sampler_name=None)
    r = post(client, "txt2img", **body)
    assert r.status_code == 200, r.text
    info = json.loads(r.json()["info"])
    assert info["cfg_scale"] == 7.0 and info["all_seeds"] == [10, 11] and info["prompt"] == ""
    assert info["sampler_name"] == "Euler"  # no sampler_name: sampler_index, whose default is Euler
    # save_images false sets do_not_save_grid, so A1111's API answers no grid
    assert info["index_of_first_image"] == 0 and len(r.json()["images"]) == 2
    assert [decode(b).size for b in r.json()["images"]] == [(64, 64), (64, 64)]


def test_save_images_writes_files_and_send_images_false_sends_none(tiny):
    client, _, data_dir = tiny
    r = post(client, "txt2img", **dict(SMALL, steps=2, seed=5, save_images=True, send_images=False))
    assert r.status_code == 200 and r.json()["images"] == []
    folder = data_dir / "outputs" / "txt2img-images"
    files = [os.path.join(root, f) for root, _, names in os.walk(folder) for f in names]
    assert len(files) == 1 and files[0].endswith(".png")
    from modules.processing.image_saving_info import read_info_from_image

    assert read_info_from_image(Image.open(files[0]))[0] == json.loads(r.json()["info"])["infotexts"][0]


def test_infotext_fills_unset_fields_and_implied_settings(tiny):
    client, shared, _ = tiny
    text = ("a dog\nNegative prompt: blurry\nSteps: 9, Sampler: Euler, Schedule type: Karras, CFG scale: 5, Seed: 77, "
            "Size: 64x64, Clip skip: 2, Version: v1.10.1")
    assert client.post("/sdapi/v1/options", json={"samples_format": "jpg"}).status_code == 200
    try:
        r = post(client, "txt2img", infotext=text, steps=2, force_task_id="task(infotext-test)")
    finally:
        client.post("/sdapi/v1/options", json={"samples_format": "png"})
    assert r.status_code == 200, r.text
    params = r.json()["parameters"]
    assert (params["prompt"], params["negative_prompt"], params["seed"], params["cfg_scale"]) == ("a dog", "blurry", 77, 5.0)
    assert params["steps"] == 2  # set in the request: the infotext does not override it
    assert params["override_settings"] == {"CLIP_stop_at_last_layers": 2}
    info = json.loads(r.json()["info"])
    assert info["seed"] == 77 and info["steps"] == 2 and info["clip_skip"] == 2
    assert "Sampler: Euler, Schedule type: Karras, CFG scale: 5.0, Seed: 77" in info["infotexts"][0]
    assert shared.opts.CLIP_stop_at_last_layers == 1  # restored afterwards
    image = decode(r.json()["images"][0])
    assert image.format == "JPEG"
    from modules.processing.image_saving_info import read_info_from_image

    assert read_info_from_image(image)[0] == info["infotexts"][0]
    progress = client.post("/internal/progress", json={"id_task": "task(infotext-test)"}).json()
    assert progress["completed"] is True and progress["active"] is False


def two_colour_image():
    array = np.zeros((64, 64, 3), dtype=np.uint8)
    array[:, :, 0] = 200
    array[:, 32:, 2] = 120
    return Image.fromarray(array)


def test_img2img_with_mask_keeps_the_unmasked_half(tiny):
    client, _, _ = tiny
    init = two_colour_image()
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    body = dict(SMALL, init_images=["data:image/png;base64," + encode(init)], mask=encode(mask), mask_blur=0,
                inpainting_fill=1, inpaint_full_res=False, denoising_strength=0.9, seed=3)
    r = post(client, "img2img", **body)
    assert r.status_code == 200, r.text
    out = np.asarray(decode(r.json()["images"][0]).convert("RGB")).astype(int)
    original = np.asarray(init).astype(int)
    assert np.array_equal(out[:, 32:], original[:, 32:])
    assert np.abs(out[:, :32] - original[:, :32]).mean() > 5
    params = r.json()["parameters"]
    assert params["init_images"] is None and params["mask"] is None and params["include_init_images"] is False
    info = json.loads(r.json()["info"])
    assert info["denoising_strength"] == 0.9 and "Mask blur" not in info["infotexts"][0]

    r = post(client, "img2img", **dict(body, include_init_images=True, steps=2, mask=None))
    assert r.status_code == 200 and r.json()["parameters"]["init_images"] == body["init_images"]


@pytest.mark.parametrize("body, status, named", [
    ({}, 404, "Init image not found"),
    ({"init_images": []}, 422, "init_images"),
    ({"init_images": ["not base64 at all!"]}, 422, "init_images[0]"),
    ({"init_images": [1234]}, 422, "init_images[0]"),
    ({"mask": "bm90IGFuIGltYWdl"}, 422, "mask"),
    ({"mask_blur": 100000}, 422, "mask_blur"),
    ({"resize_mode": 9}, 422, "resize_mode"),
])
def test_bad_img2img_input_is_4xx(tiny, body, status, named):
    client, _, _ = tiny
    payload = dict(SMALL, init_images=[encode(two_colour_image())])
    payload.update(body)
    if body == {}:
        payload.pop("init_images")
    r = post(client, "img2img", **payload)
    assert r.status_code == status, r.text
    assert named in r.json()["detail"]


def test_override_settings_can_outlive_the_job_when_asked(tiny):
    client, shared, _ = tiny
    body = dict(SMALL, steps=2, override_settings={"CLIP_stop_at_last_layers": 2},
                override_settings_restore_afterwards=False)
    try:
        r = post(client, "txt2img", **body)
        assert r.status_code == 200 and json.loads(r.json()["info"])["clip_skip"] == 2
        assert client.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 2
    finally:
        client.post("/sdapi/v1/options", json={"CLIP_stop_at_last_layers": 1})
    assert shared.opts.CLIP_stop_at_last_layers == 1
