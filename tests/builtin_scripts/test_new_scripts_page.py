"""The built page: the img2img Script dropdown offers the outpainting scripts and img2img alternative test with
A1111's element ids; "Custom code" appears in both tabs only with ``--allow-code``."""
from __future__ import annotations

from tests.api.conftest import preserved_shared
from tests.ui.conftest import Page, build_ui

IMG2IMG_ONLY = ["Outpainting mk2", "Poor man's outpainting", "img2img alternative test"]


def _dropdown_choices(page: Page) -> list[list[str]]:
    """The choices of each tab's Script dropdown (txt2img first)."""
    found = [c for c in page.config["components"] if c["props"].get("elem_id") == "script_list"]
    return [[c[0] if isinstance(c, (list, tuple)) else c for c in d["props"]["choices"]] for d in found]


def test_scripts_in_the_page_without_allow_code(tmp_path):
    with preserved_shared():
        page = Page(*build_ui(tmp_path))
        txt2img, img2img = _dropdown_choices(page)
        assert all(title in img2img for title in IMG2IMG_ONLY)
        assert not any(title in txt2img for title in IMG2IMG_ONLY)
        assert "Custom code" not in txt2img + img2img
        assert not page.has("script_txt2img_custom_code_code") and not page.has("script_img2img_custom_code_code")
        pixels = page.elem("script_outpainting_mk2_pixels")["props"]
        assert (pixels["label"], pixels["value"], pixels["minimum"], pixels["maximum"], pixels["step"]) == (
            "Pixels to expand", 128, 8, 256, 8)
        assert page.elem("script_outpainting_mk2_mask_blur")["props"]["value"] == 8
        assert page.elem("script_outpainting_mk2_direction")["props"]["value"] == ["left", "right", "up", "down"]
        noise_q = page.elem("script_outpainting_mk2_noise_q")["props"]
        assert noise_q["label"] == "Fall-off exponent (lower=higher detail)" and noise_q["value"] == 1.0
        assert page.elem("script_outpainting_mk2_color_variation")["props"]["value"] == 0.05
        assert page.elem("script_poor_mans_outpainting_mask_blur")["props"]["value"] == 4
        fill = page.elem("script_poor_mans_outpainting_inpainting_fill")["props"]
        assert fill["label"] == "Masked content" and fill["value"] == "fill"
        assert page.elem("script_img2img_alternative_test_override_sampler")["props"]["value"] is True
        assert page.elem("script_img2img_alternative_test_st")["props"]["value"] == 50
        assert page.elem("script_img2img_alternative_test_cfg")["props"]["label"] == "Decode CFG scale"
        assert page.elem("script_img2img_alternative_test_sigma_adjustment")["props"]["value"] is False


def test_custom_code_in_both_tabs_with_allow_code(tmp_path):
    with preserved_shared():
        page = Page(*build_ui(tmp_path, "--allow-code"))
        txt2img, img2img = _dropdown_choices(page)
        assert "Custom code" in txt2img and "Custom code" in img2img
        for tab in ("txt2img", "img2img"):
            code = page.elem(f"script_{tab}_custom_code_code")["props"]
            assert code["label"] == "Python code" and code["language"] == "python"
            assert "return process_images(p)" in code["value"]
            assert page.elem(f"script_{tab}_custom_code_indent_level")["props"]["value"] == 2
