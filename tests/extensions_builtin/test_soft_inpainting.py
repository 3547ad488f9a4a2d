"""The built-in Soft inpainting extension: its math, the composite it makes on a tiny SD1 model, bitwise
nothing when off, infotext written and pasted back, and its API listing against A1111's answers."""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tests.api.conftest import decode, encode, reference, tiny  # noqa: F401  (tiny: a module-wide API app)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def si():
    """The extension's script file, imported on its own for its functions."""
    path = os.path.join(ROOT, "extensions-builtin", "soft-inpainting", "scripts", "soft_inpainting.py")
    spec = importlib.util.spec_from_file_location("soft_inpainting_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


# --- the math ------------------------------------------------------------------------------------------------

def test_latent_blend_keeps_the_ends_and_interpolates_lengths(si):
    settings = si.SoftInpaintingSettings(1, 0.5, 4, 0, 0.5, 2)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 4, 5, 6, generator=g), torch.randn(1, 4, 5, 6, generator=g)
    t = torch.zeros(4, 5, 6)
    t[:, :, 3:] = 1.0
    t[:, 2, :] = 0.5
    out = si.latent_blend(settings, a.clone(), b.clone(), t)
    # t = 0 -> a, t = 1 -> b (up to the 1e-5 guard on the length)
    torch.testing.assert_close(out[..., :2, :3], a[..., :2, :3], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out[..., 3:, 3:], b[..., 3:, 3:], rtol=1e-4, atol=1e-5)
    # t = 0.5: the direction of the average, the length the power-4 mean of both lengths
    mid, avg = out[:, :, 2], (a[:, :, 2] + b[:, :, 2]) / 2
    la, lb = a[:, :, 2].norm(dim=1), b[:, :, 2].norm(dim=1)
    torch.testing.assert_close(mid.norm(dim=1), ((la ** 4 + lb ** 4) / 2) ** 0.25, rtol=1e-4, atol=1e-5)
    cos = torch.nn.functional.cosine_similarity(mid, avg, dim=1)
    torch.testing.assert_close(cos, torch.ones_like(cos))


def test_modified_nmask_follows_sigma(si):
    settings = si.SoftInpaintingSettings(2, 0.5, 4, 0, 0.5, 2)
    nmask = torch.tensor([0.0, 0.25, 0.5, 1.0])
    out = si.get_modified_nmask(settings, nmask, torch.tensor(3.0))
    torch.testing.assert_close(out, nmask ** (3.0 ** 2 * 0.5))
    assert out[0] == 0 and out[-1] == 1


def _reference_filter(img, kernel, center, pmin, pmax, min_width):
    """A plain per-pixel implementation of the weighted percentile window, as a check."""
    out = np.zeros_like(img, dtype=np.float64)
    h, w = img.shape
    for y in range(h):
        for x in range(w):
            items = []
            for ky in range(kernel.shape[0]):
                for kx in range(kernel.shape[1]):
                    yy, xx = y + ky - center, x + kx - center
                    if 0 <= yy < h and 0 <= xx < w:
                        items.append((float(img[yy, xx]), kernel[ky, kx]))
            items.sort(key=lambda v: v[0])
            total = sum(wt for _, wt in items)
            lo, hi = total * pmin, total * pmax
            if hi - lo < min_width:
                c = (lo + hi) / 2
                lo, hi = c - min_width / 2, c + min_width / 2
                if hi > total:
                    lo, hi = total - min_width, total
                if lo < 0:
                    lo, hi = 0, min_width
            acc = weight = 0.0
            start = 0.0
            for value, wt in items:
                s, e = max(lo, start), min(hi, start + wt)
                if e > s:
                    acc += value * (e - s)
                    weight += e - s
                start += wt
            out[y, x] = acc / weight if weight else 0
    return out


@pytest.mark.parametrize("pmin,pmax,min_width", [(0.9, 1, 1), (0.25, 0.75, 1), (0, 1, 1), (0.5, 0.5, 0.3)])
def test_weighted_histogram_filter_matches_a_plain_loop(si, pmin, pmax, min_width):
    kernel, center = si.get_gaussian_kernel(stddev_radius=1.5, max_radius=2)
    assert kernel.shape == (5, 5) and kernel[2, 2] == 1.0 and kernel.min() > 0
    img = np.random.default_rng(1).random((7, 9)).astype(np.float32)
    got = si.weighted_histogram_filter(img, kernel, center, pmin, pmax, min_width)
    np.testing.assert_allclose(got, _reference_filter(img, kernel, center, pmin, pmax, min_width), rtol=1e-5)
    flat = si.weighted_histogram_filter(np.full((4, 4), 0.7, np.float32), kernel, center, pmin, pmax, min_width)
    np.testing.assert_allclose(flat, 0.7, rtol=1e-6)


# --- on the tiny SD1 model -----------------------------------------------------------------------------------

WIDTH, HEIGHT = 128, 64
MASKED = 32
"""Columns 0..31 are masked (then blurred); the latent-space filters and the final blur spread the change
about 40 px further, so the right edge of the picture stays the original."""


def _picture() -> Image.Image:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    return Image.fromarray(base).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)


def _mask() -> Image.Image:
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    mask.paste(255, (0, 0, MASKED, HEIGHT))
    return mask


SOFT = [True, 1, 0.5, 4, 0, 0.25, 8]
"""Enabled; a low difference threshold and a high contrast make the composite mask nearly binary by change."""


def _request(**extra) -> dict:
    body = {"init_images": [encode(_picture())], "mask": encode(_mask()), "prompt": "a cat", "steps": 3,
            "width": WIDTH, "height": HEIGHT, "seed": 3, "sampler_name": "Euler", "denoising_strength": 0.9,
            "mask_blur": 4, "inpaint_full_res": False, "inpainting_fill": 1}
    body.update(extra)
    return body


def _post(client, body) -> tuple[list[np.ndarray], str]:
    r = client.post("/sdapi/v1/img2img", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    return [np.asarray(decode(b)) for b in data["images"]], json.loads(data["info"])["infotexts"][0]


@pytest.fixture(scope="module")
def soft_run(tiny):
    """One soft-inpainting job: (output, composite mask, picture before the composite, infotext)."""
    client, _shared, _ = tiny
    from modules.processing import pipeline

    seen = []
    original = pipeline.apply_overlay  # the pipeline's own name for it: the spy must replace that one

    def spy(image, paste_loc, overlay_image):
        seen.append(np.asarray(image.convert("RGB")))
        return original(image, paste_loc, overlay_image)

    pipeline.apply_overlay = spy
    try:
        images, info = _post(client, _request(override_settings={"return_mask": True},
                                              alwayson_scripts={"soft inpainting": {"args": SOFT}}))
    finally:
        pipeline.apply_overlay = original
    out, mask = images[0], images[1][..., 0]
    return out, mask, seen[0], info


def test_composite_follows_the_soft_mask(soft_run):
    out, mask, generated, _ = soft_run
    src = np.asarray(_picture())
    zero, full = mask == 0, mask == 255
    between = ~zero & ~full
    assert zero.sum() > 0 and full.sum() > 0 and between.sum() > 0
    # the unmasked right edge is exactly the original; the masked left edge exactly the generated picture
    assert zero[:, -8:].all() and full[:, :8].all()
    assert np.array_equal(out[zero], src[zero])
    assert np.array_equal(out[full], generated[full])
    assert not np.array_equal(out[:, :8], src[:, :8])
    # in between, every channel lies between the original and the generated value (rounding: 1 level)
    lo = np.minimum(src, generated).astype(int) - 1
    hi = np.maximum(src, generated).astype(int) + 1
    assert ((out[between] >= lo[between]) & (out[between] <= hi[between])).all()
    # and the mask falls from left to right across the blurred edge
    row = mask[HEIGHT // 2].astype(int)
    assert (np.diff(row) <= 0).all()


def test_off_is_bitwise_plain_inpainting(tiny, soft_run):
    client, _shared, _ = tiny
    plain, plain_info = _post(client, _request())
    off, off_info = _post(client, _request(alwayson_scripts={"soft inpainting": {"args": [False, *SOFT[1:]]}}))
    assert np.array_equal(plain[0], off[0]) and plain_info == off_info
    assert "Soft inpainting" not in plain_info
    assert not np.array_equal(plain[0], soft_run[0])
    # the plain inpainting keeps the hard mask's outside: the original right of the blurred edge
    assert np.array_equal(plain[0][:, MASKED + 12:], np.asarray(_picture())[:, MASKED + 12:])


def test_infotext_and_paste_round_trip(tiny, soft_run):
    client, _shared, _ = tiny
    out, _mask, _generated, info = soft_run
    assert ("Soft inpainting enabled: True, Soft inpainting schedule bias: 1, Soft inpainting preservation strength: "
            "0.5, Soft inpainting transition contrast boost: 4, Soft inpainting mask influence: 0, Soft inpainting "
            "difference threshold: 0.25, Soft inpainting difference contrast: 8") in info
    from modules import infotext_utils

    params = infotext_utils.parse_generation_parameters(info)
    assert params["Soft inpainting difference threshold"] in (0.25, "0.25")
    # the API's "infotext" field fills the script's arguments from the pasted fields: the same job again
    pasted, pasted_info = _post(client, _request(infotext=info))
    assert pasted_info == info
    assert np.array_equal(pasted[0], out)


def test_only_masked_area_is_pasted_back_over_the_whole_original(tiny):
    client, _shared, _ = tiny
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    mask.paste(255, (8, 8, 40, 40))
    body = _request(steps=2, mask=encode(mask), inpaint_full_res=True, inpaint_full_res_padding=4,
                    width=64, height=64, override_settings={"return_mask": True},
                    alwayson_scripts={"soft inpainting": {"args": SOFT}})
    images, info = _post(client, body)
    out, composite = images[0], images[1][..., 0]
    assert out.shape == (HEIGHT, WIDTH, 3) and composite.shape == (HEIGHT, WIDTH)
    assert "Inpaint area: Only masked" in info and "Soft inpainting enabled: True" in info
    src = np.asarray(_picture())
    assert np.array_equal(out[:, 64:], src[:, 64:])  # outside the crop box (x 4..44, grown to a square)
    assert (composite[:, 64:] == 0).all() and composite[20:28, 20:28].min() > 0


def test_needs_a_mask(tiny):
    client, _shared, _ = tiny
    body = _request(steps=1, alwayson_scripts={"soft inpainting": {"args": SOFT}})
    body.pop("mask")
    _, info = _post(client, body)
    assert "Soft inpainting" not in info


def test_listed_by_the_api_as_a1111(tiny):
    client, shared, _ = tiny
    expected = next(s for s in reference("script-info")["body"] if s["name"] == "soft inpainting")
    got = [s for s in client.get("/sdapi/v1/script-info").json() if s["name"] == "soft inpainting"]
    assert got == [expected]
    listed = client.get("/sdapi/v1/scripts").json()
    assert "soft inpainting" in listed["img2img"] and "soft inpainting" not in listed["txt2img"]
    from modules import scripts

    script = scripts.scripts_img2img.script("soft inpainting")
    assert script.section == "inpaint"
    assert [label for _, label in script.infotext_fields] == [
        "Soft inpainting enabled", "Soft inpainting schedule bias", "Soft inpainting preservation strength",
        "Soft inpainting transition contrast boost", "Soft inpainting mask influence",
        "Soft inpainting difference threshold", "Soft inpainting difference contrast"]
    assert [c.elem_id for c in script.controls[1:]] == [
        "mask_blend_power", "mask_blend_scale", "inpaint_detail_preservation", "composite_mask_influence",
        "composite_difference_threshold", "composite_difference_contrast"]


def test_ui_puts_it_in_the_inpaint_section_and_pastes_its_fields(tmp_path):
    """Built last in this module: the page of A1111's img2img tab with the accordion after the inpaint controls."""
    from tests.api.conftest import preserved_shared
    from tests.ui.conftest import Page, build_ui

    with preserved_shared():
        demo, config = build_ui(tmp_path)
        page = Page(demo, config)
        order = page.order(["img2img_inpaint_full_res_padding", "soft_inpainting_enabled", "mask_blend_power",
                            "composite_difference_contrast", "img2img_sampling"])
        assert order == ["img2img_inpaint_full_res_padding", "soft_inpainting_enabled", "mask_blend_power",
                         "composite_difference_contrast", "img2img_sampling"]
        slider = page.elem("inpaint_detail_preservation")["props"]
        assert (slider["label"], slider["minimum"], slider["maximum"], slider["step"], slider["value"]) == \
            ("Transition contrast boost", 1, 32, 0.5, 4)
        assert not page.has("script_txt2img_soft_inpainting_soft_inpainting")
        from modules import infotext_utils, scripts

        runner = scripts.scripts_img2img
        labels = [name for _, name in runner.infotext_fields if isinstance(name, str)]
        assert "Soft inpainting enabled" in labels and "Soft inpainting difference contrast" in labels
        fields = dict((name, comp) for comp, name in infotext_utils.paste_fields["img2img"]["fields"]
                      if isinstance(name, str))
        assert "Soft inpainting schedule bias" in fields
