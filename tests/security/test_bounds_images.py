"""Pixel limits on every picture a request brings or asks for (issue 14), from :mod:`modules.core.limits`.

A picture is measured from its header before its pixels are decoded, so the pictures these tests send are
headers only: a file that declares 100000x100000 costs nothing to refuse.
"""
from __future__ import annotations

import base64
import io
import struct
import zlib
from types import SimpleNamespace

import pytest
from PIL import Image, ImageFile

from modules.core import limits
from tests.api.conftest import SMALL, encode, tiny  # noqa: F401  (tiny: the module's app with a tiny checkpoint)

SMALL_PICTURE = encode(Image.new("RGB", (64, 64), "red"))


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` (RGB) but carries one empty compressed row: a bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4))
            + chunk(b"IEND", b""))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


OVER_SIDE = b64(png_header(limits.MAX_SIDE + 1208, limits.MAX_SIDE + 1208))  # the 9400x9400 upload of the issue
OVER_PIXELS = b64(png_header(4200, 4200))  # within the side limit, over the pixel limit


@pytest.fixture
def no_decoding(monkeypatch):
    """Decoding the pixels of a picture over the limits fails the test: its refusal must come from the header."""
    original = ImageFile.ImageFile.load

    def load(self):
        if not limits.within_limits(*self.size):
            raise AssertionError(f"pixels of a {self.size} picture were decoded")
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


# --- opening an untrusted picture ----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(100000, 100000), (limits.MAX_SIDE + 1, 8), (4200, 4200)])
def test_a_picture_over_the_limits_is_refused_from_its_header(no_decoding, size):
    with pytest.raises(limits.ImageTooLargeError, match="larger than the limit") as caught:
        limits.open_image(png_header(*size), "init_images[0]")
    assert caught.value.key == "init_images[0]"


def test_pictures_within_the_limits_open_and_other_bytes_are_refused():
    image = limits.open_image(base64.b64decode(SMALL_PICTURE), "image")
    assert image.size == (64, 64) and image.getpixel((0, 0)) == (255, 0, 0)
    assert limits.within_limits(4096, 4096) and not limits.within_limits(4096, 4104)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"  # PIL would run Ghostscript on it
    truncated = base64.b64decode(SMALL_PICTURE)[:60]
    for data in (eps, truncated, b"not a picture"):
        with pytest.raises(limits.ImageDecodeError):
            limits.open_image(data, "image")


# --- every route's pictures ----------------------------------------------------------------------------------

ROUTES = [
    ("txt2img", dict(SMALL), "firstpass_image", lambda p: p, "firstpass_image"),
    ("img2img", dict(SMALL), "init_images", lambda p: [SMALL_PICTURE, p], "init_images[1]"),
    ("img2img", dict(SMALL, init_images=[SMALL_PICTURE]), "mask", lambda p: p, "mask"),
    ("img2img", dict(SMALL, init_images=[SMALL_PICTURE]), "latent_mask", lambda p: p, "latent_mask"),
    ("png-info", {}, "image", lambda p: p, "image"),
    ("interrogate", {}, "image", lambda p: p, "image"),
    ("extra-single-image", {"upscaler_1": "Lanczos"}, "image", lambda p: p, "image"),
    ("extra-batch-images", {"upscaler_1": "Lanczos"}, "imageList",
     lambda p: [{"data": SMALL_PICTURE, "name": "a.png"}, {"data": p, "name": "b.png"}], "imageList[1].data"),
]


@pytest.mark.parametrize("route, body, field, value, key", ROUTES, ids=[f"{r[0]}-{r[2]}" for r in ROUTES])
@pytest.mark.parametrize("picture", [OVER_SIDE, OVER_PIXELS], ids=["9400x9400", "4200x4200"])
def test_every_route_refuses_a_picture_over_the_limits_naming_the_field(tiny, no_decoding, route,  # noqa: F811
                                                                        body, field, value, key, picture):
    client, _, _ = tiny
    r = client.post(f"/sdapi/v1/{route}", json=dict(body, **{field: value(picture)}))
    assert r.status_code == 422, r.text
    assert r.json()["key"] == key and "larger than the limit" in r.json()["detail"]


def test_an_encoded_picture_of_too_many_bytes_is_refused_before_decoding(tiny, monkeypatch):  # noqa: F811
    from modules.api import images

    client, _, _ = tiny
    monkeypatch.setattr(images, "MAX_DOWNLOAD_BYTES", 1000)
    r = client.post("/sdapi/v1/png-info", json={"image": "A" * 2000})
    assert r.status_code == 413 and r.json()["key"] == "image"


# --- what the server is asked to make ------------------------------------------------------------------------

@pytest.mark.parametrize("body, key", [
    ({"resize_mode": 1, "upscaling_resize_w": 8192, "upscaling_resize_h": 100}, "upscaling_resize_w"),
    ({"resize_mode": 1, "upscaling_resize_w": 100, "upscaling_resize_h": 8192}, "upscaling_resize_h"),
    # cropped to 8192x100 in the end, but the upscaler would first make 8192x8192
    ({"resize_mode": 1, "upscaling_resize_w": 8192, "upscaling_resize_h": 100, "upscaling_crop": True},
     "upscaling_resize_w"),
    ({"resize_mode": 0, "upscaling_resize": 200}, "upscaling_resize"),
])
def test_extras_resize_over_the_limits_is_refused_before_upscaling(tiny, monkeypatch, body, key):  # noqa: F811
    from modules.postprocess import extras_ops

    client, _, _ = tiny
    monkeypatch.setattr(extras_ops.UpscaleOperation, "upscale", lambda *a, **k: pytest.fail("upscaled"))
    for route, pictures in (("extra-single-image", {"image": SMALL_PICTURE}),
                            ("extra-batch-images", {"imageList": [{"data": SMALL_PICTURE, "name": "a.png"}]})):
        r = client.post(f"/sdapi/v1/{route}", json=dict(body, upscaler_1="Lanczos", **pictures))
        assert r.status_code == 422 and r.json()["key"] == key, r.text


def test_extras_resize_the_issue_asked_for_is_refused_by_the_request_model(tiny):  # noqa: F811
    client, _, _ = tiny
    body = {"image": SMALL_PICTURE, "resize_mode": 1, "upscaler_1": "Lanczos", "upscaling_resize_w": 100000,
            "upscaling_resize_h": 100}
    r = client.post("/sdapi/v1/extra-single-image", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "upscaling_resize_w"]


def test_extras_within_the_limits_still_work_and_max_side_length_counts(tiny):  # noqa: F811
    client, _, _ = tiny
    r = client.post("/sdapi/v1/extra-single-image", json={"image": SMALL_PICTURE, "upscaler_1": "Lanczos",
                                                            "upscaling_resize": 200, "upscaling_max_side_length": 512})
    assert r.status_code == 200, r.text
    image = Image.open(io.BytesIO(base64.b64decode(r.json()["image"])))
    assert image.size == (512, 512)


def test_an_extras_batch_over_the_request_total_is_refused(tiny, monkeypatch):  # noqa: F811
    from modules.api import routes_extras

    client, _, _ = tiny
    monkeypatch.setattr(routes_extras, "MAX_REQUEST_PIXELS", 64 * 64 * 3)
    three = [{"data": SMALL_PICTURE, "name": f"{i}.png"} for i in range(3)]
    body = {"upscaler_1": "Lanczos", "upscaling_resize": 1}
    assert client.post("/sdapi/v1/extra-batch-images", json=dict(body, imageList=three)).status_code == 200
    r = client.post("/sdapi/v1/extra-batch-images", json=dict(body, imageList=three + three[:1]))
    assert r.status_code == 422 and r.json()["key"] == "imageList"
    r = client.post("/sdapi/v1/extra-batch-images", json=dict(body, imageList=three, upscaling_resize=2))
    assert r.status_code == 422 and r.json()["key"] == "imageList"  # what the upscale makes counts too


def test_the_upscale_operation_itself_refuses_before_the_upscaler_runs():
    """The UI's Extras tab and scripts reach the operation without the API's check."""
    from modules.postprocess.extras_ops import UpscaleOperation

    scaler = SimpleNamespace(upscale=lambda *a: pytest.fail("the upscaler ran"))
    upscaler = SimpleNamespace(name="Fake", scaler=scaler, data_path=None)
    image = Image.new("RGB", (64, 64))
    with pytest.raises(limits.ImageTooLargeError) as caught:
        UpscaleOperation().upscale(image, {}, upscaler, 1, 1.0, 0, 100000, 100, True)
    assert caught.value.key == "upscale_to_width"
    with pytest.raises(limits.ImageTooLargeError):
        UpscaleOperation().upscale(image, {}, upscaler, 0, 200.0, 0, 0, 0, False)


def test_the_hires_target_is_checked_in_processing_too(tiny):  # noqa: F811
    from modules.processing import StableDiffusionProcessingTxt2Img, process_images
    from modules.processing.processing_base import GenerationError

    p = StableDiffusionProcessingTxt2Img(prompt="x", steps=1, width=64, height=64, enable_hr=True, hr_scale=200.0,
                                         denoising_strength=0.5, hr_upscaler="Latent", do_not_save_samples=True,
                                         do_not_save_grid=True)
    with pytest.raises(GenerationError, match="hires fix target 12800x12800 is larger than the limit"):
        process_images(p)


def test_sd_upscale_refuses_a_result_over_the_limits(tiny):  # noqa: F811
    client, _, _ = tiny
    init = encode(Image.new("L", (2112, 64)))  # 4x would be 8448 wide
    body = dict(SMALL, init_images=[init], script_name="SD upscale", script_args=[None, 64, "Lanczos", 4.0])
    r = client.post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 422 and r.json()["key"] == "script_args", r.text
    assert "SD upscale result would be 8448x256" in r.json()["detail"]


def test_outpainting_refuses_a_canvas_over_the_limits():
    from modules.builtin_scripts.outpainting import share_expansion

    assert share_expansion(7936, 64, 128, ["left", "right"]).width == 8192  # up to the limit: fine
    with pytest.raises(limits.ImageTooLargeError) as caught:
        share_expansion(8100, 64, 128, ["left"])
    assert caught.value.key == "script_args"


def test_xyz_ranges_cannot_fill_the_memory():
    from modules.builtin_scripts.value_ranges import MAX_RANGE_VALUES, expand_float, expand_int

    for expand, item in ((expand_int, "1-1000000000"), (expand_int, "1-10 [1000000000]"),
                         (expand_float, "0-1000000000 (+0.5)"), (expand_float, "0-1 [1000000000]")):
        with pytest.raises(ValueError, match=f"the limit is {MAX_RANGE_VALUES}"):
            expand([item])


def test_an_upscaler_pass_never_overshoots_far_past_the_target():
    """A 4x model asked for x1.01 of a 4000x4000 picture would make 16000x16000 before resizing down."""
    from modules.postprocess.upscaler import Upscaler, UpscalerData

    class FourTimes(Upscaler):
        name = "FourTimes"

        def __init__(self) -> None:
            super().__init__(False)
            self.scalers = [UpscalerData("FourTimes", "four.pth", self, 4)]
            self.passes: list[tuple[int, int]] = []

        def do_upscale(self, img, selected_model):
            self.passes.append(img.size)
            return img.resize((img.width * 4, img.height * 4))

    upscaler = FourTimes()
    assert upscaler.upscale(Image.new("L", (4000, 4000)), 1.01, "four.pth").size == (4040, 4040)
    assert upscaler.passes == []  # resized instead
    assert upscaler.upscale(Image.new("L", (1024, 1024)), 2, "four.pth").size == (2048, 2048)
    assert upscaler.passes == [(1024, 1024)]  # an overshoot within the work limit still runs the model
