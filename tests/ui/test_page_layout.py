"""The page as gradio sends it to the browser: A1111's tabs, element ids, labels, defaults and order."""
from __future__ import annotations

import json

import pytest

from tests.api.conftest import preserved_shared
from tests.ui.conftest import Page, build_ui

TXT2IMG_IDS = [
    "txt2img_prompt", "txt2img_neg_prompt", "txt2img_generate", "txt2img_interrupt", "txt2img_skip",
    "txt2img_token_counter", "txt2img_negative_token_counter", "txt2img_clear_prompt", "txt2img_style_apply",
    "txt2img_styles", "txt2img_sampling", "txt2img_scheduler", "txt2img_steps", "txt2img_hr", "txt2img_hr_upscaler",
    "txt2img_hires_steps", "txt2img_denoising_strength", "txt2img_hr_scale", "txt2img_hr_resize_x",
    "txt2img_hr_resize_y", "hr_checkpoint", "hr_sampler", "hr_scheduler", "hires_prompt", "hires_neg_prompt",
    "txt2img_enable", "txt2img_checkpoint", "txt2img_switch_at", "txt2img_width", "txt2img_height",
    "txt2img_res_switch_btn", "txt2img_batch_count", "txt2img_batch_size", "txt2img_cfg_scale", "txt2img_seed",
    "txt2img_random_seed", "txt2img_reuse_seed", "txt2img_subseed_show", "txt2img_subseed",
    "txt2img_subseed_strength", "txt2img_seed_resize_from_w", "txt2img_seed_resize_from_h",
    "txt2img_override_settings", "script_list", "txt2img_gallery", "txt2img_gallery_container", "save_txt2img",
    "save_zip_txt2img", "txt2img_send_to_img2img", "txt2img_send_to_inpaint", "txt2img_send_to_extras",
    "txt2img_upscale", "txt2img_open_folder", "html_info_txt2img", "html_log_txt2img", "generation_info_txt2img",
    "txt2img_extra_tabs", "txt2img_textual_inversion", "txt2img_hypernetworks", "txt2img_checkpoints",
]
IMG2IMG_IDS = [
    "img2img_prompt", "img2img_neg_prompt", "img2img_generate", "interrogate", "deepbooru", "mode_img2img",
    "img2img_img2img_tab", "img2img_img2img_sketch_tab", "img2img_inpaint_tab", "img2img_inpaint_sketch_tab",
    "img2img_inpaint_upload_tab", "img2img_batch_tab", "img2img_image", "img2img_sketch", "img2maskimg",
    "inpaint_sketch", "img_inpaint_base", "img_inpaint_mask", "img2img_batch_upload", "img2img_batch_input_dir",
    "img2img_batch_output_dir", "img2img_batch_inpaint_mask_dir", "resize_mode", "inpaint_controls",
    "img2img_mask_blur", "img2img_mask_alpha", "img2img_mask_mode", "img2img_inpainting_fill",
    "img2img_inpaint_full_res", "img2img_inpaint_full_res_padding", "img2img_sampling", "img2img_steps",
    "img2img_tab_resize_to", "img2img_tab_resize_by", "img2img_width", "img2img_height", "img2img_scale",
    "img2img_detect_image_size_btn", "img2img_cfg_scale", "img2img_image_cfg_scale", "img2img_denoising_strength",
    "img2img_seed", "img2img_enable", "img2img_gallery", "save_img2img", "html_info_img2img", "img2img_copy_to_img2img",
]
OTHER_IDS = [
    "quicksettings", "setting_sd_model_checkpoint", "refresh_sd_model_checkpoint", "checkpoint_notice", "tabs",
    "tab_txt2img", "tab_img2img", "tab_extras", "tab_pnginfo", "tab_modelmerger", "tab_train", "tab_settings",
    "tab_extensions", "extras_image", "extras_upscaler_1", "extras_upscaling_resize", "extras_gallery", "pnginfo_image",
    "txt2img_tab", "img2img_tab", "inpaint_tab", "extras_tab", "modelmerger_primary_model_name",
    "modelmerger_merge", "modelmerger_interp_method", "settings_submit", "settings_restart_gradio", "settings_result",
    "setting_samples_format", "setting_CLIP_stop_at_last_layers", "settings_tab_defaults", "ui_defaults_view",
    "extensions_installed_html", "footer", "change_checkpoint",
]


def test_every_a1111_element_id_is_there(built):
    page, _ = built
    missing = [x for x in TXT2IMG_IDS + IMG2IMG_IDS + OTHER_IDS if not page.has(x)]
    assert missing == []
    assert page.config["title"] == "Stable Diffusion"


def test_top_level_tabs_in_a1111_order(built):
    page, _ = built
    tabs = [c for c in page.config["components"] if c["type"] == "tabitem" and (c["props"].get("elem_id") or "")
            .startswith("tab_")]
    assert [t["props"]["label"] for t in tabs] == ["txt2img", "img2img", "Extras", "PNG Info", "Checkpoint Merger",
                                                    "Train", "Settings", "Extensions"]


def test_txt2img_controls_in_a1111_order_with_ui_defaults(built):
    page, _ = built
    order = ["txt2img_prompt", "txt2img_neg_prompt", "txt2img_sampling", "txt2img_scheduler", "txt2img_steps",
             "txt2img_hr", "txt2img_enable", "txt2img_width", "txt2img_height", "txt2img_batch_count",
             "txt2img_batch_size", "txt2img_cfg_scale", "txt2img_seed", "txt2img_subseed_show", "script_list",
             "txt2img_gallery"]
    assert page.order(order) == order
    props = {e: page.elem(e)["props"] for e in order + ["txt2img_denoising_strength", "txt2img_hr_scale"]}
    assert props["txt2img_steps"]["value"] == 20 and props["txt2img_steps"]["maximum"] == 150
    assert props["txt2img_steps"]["label"] == "Sampling steps"
    assert props["txt2img_sampling"]["value"] == "DPM++ 2M" and props["txt2img_sampling"]["label"] == "Sampling method"
    assert props["txt2img_scheduler"]["value"] == "Automatic" and props["txt2img_scheduler"]["label"] == "Schedule type"
    assert (props["txt2img_width"]["value"], props["txt2img_width"]["minimum"], props["txt2img_width"]["maximum"],
            props["txt2img_width"]["step"]) == (512, 64, 2048, 8)
    assert props["txt2img_cfg_scale"]["value"] == 7.0 and props["txt2img_cfg_scale"]["label"] == "CFG Scale"
    assert props["txt2img_seed"]["value"] == -1 and props["txt2img_subseed_show"]["label"] == "Extra"
    assert props["txt2img_denoising_strength"]["value"] == 0.7 and props["txt2img_hr_scale"]["value"] == 2.0
    assert props["txt2img_batch_size"]["maximum"] == 8
    assert page.elem("txt2img_prompt")["props"]["placeholder"].startswith("Prompt\n(Press Ctrl+Enter to generate")
    assert page.elem("txt2img_hr_upscaler")["props"]["value"] == "Latent"
    assert page.elem("txt2img_gallery")["props"]["columns"] == 4
    extra_tabs = [c["props"]["label"] for c in page.config["components"] if c["type"] == "tabitem"
                  and c["props"].get("elem_id", "").startswith("txt2img_") and c["props"].get("label") in
                  ("Textual Inversion", "Hypernetworks", "Checkpoints", "Lora")]
    assert extra_tabs[:3] == ["Textual Inversion", "Hypernetworks", "Checkpoints"]


def test_img2img_modes_and_controls(built):
    page, _ = built
    modes = ["img2img_img2img_tab", "img2img_img2img_sketch_tab", "img2img_inpaint_tab", "img2img_inpaint_sketch_tab",
             "img2img_inpaint_upload_tab", "img2img_batch_tab"]
    assert [page.elem(m)["props"]["label"] for m in modes] == ["img2img", "Sketch", "Inpaint", "Inpaint sketch",
                                                               "Inpaint upload", "Batch"]
    assert [c[0] for c in page.elem("resize_mode")["props"]["choices"]] == [
        "Just resize", "Crop and resize", "Resize and fill", "Just resize (latent upscale)"]
    assert page.elem("img2img_denoising_strength")["props"]["value"] == 0.75
    assert page.elem("img2img_inpainting_fill")["props"]["value"] == "original"
    assert page.elem("img2img_inpaint_full_res")["props"]["value"] == "Whole picture"
    assert page.elem("img2img_inpaint_full_res_padding")["props"]["value"] == 32
    assert page.elem("inpaint_controls")["props"]["visible"] is False
    order = ["img2img_image", "resize_mode", "img2img_sampling", "img2img_enable", "img2img_width",
             "img2img_cfg_scale", "img2img_denoising_strength", "img2img_seed", "img2img_gallery"]
    assert page.order(order) == order


def test_quicksettings_follow_the_setting_and_checkpoint_notice(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "config.json").write_text(json.dumps({"quicksettings_list": ["sd_model_checkpoint",
                                                                             "CLIP_stop_at_last_layers"]}))
    with preserved_shared():
        demo, config = build_ui(data_dir)
        page = Page(demo, config)
        quick = [c["props"].get("elem_id") for c in config["components"]
                 if c["props"].get("elem_id", "").startswith("setting_")][:2]
        assert quick == ["setting_sd_model_checkpoint", "setting_CLIP_stop_at_last_layers"]
        assert page.order(["quicksettings", "checkpoint_notice", "tabs"]) == ["quicksettings", "checkpoint_notice", "tabs"]
        notice = page.elem("checkpoint_notice")["props"]["value"]
        assert "No checkpoint found" in notice and str(data_dir / "models" / "Stable-diffusion") in notice


def test_hidden_tabs_and_tab_order_settings(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "config.json").write_text(json.dumps({"hidden_tabs": ["Train"], "ui_tab_order": ["PNG Info"]}))
    with preserved_shared():
        _, config = build_ui(data_dir)
    labels = [c["props"]["label"] for c in config["components"] if c["type"] == "tabitem"
              and (c["props"].get("elem_id") or "").startswith("tab_")]
    assert labels[0] == "PNG Info" and "Train" not in labels


def test_settings_pages_come_from_the_catalogue_grouped_like_a1111(built):
    page, _ = built
    from modules import shared
    from modules.ui.settings_components import ordered_settings, section_categories

    sections = list(dict.fromkeys(info.section[1] for _, info in ordered_settings() if info.section[0] is not None))
    assert sections[:3] == ["Paths for saving", "Saving images/grids", "Saving to a directory"]
    assert sections.index("Stable Diffusion") < sections.index("User interface") < sections.index("System")
    assert dict(section_categories())["Paths for saving"] == "Saving images"
    for key in ("samples_format", "jpeg_quality", "sd_vae", "live_previews_enable", "emphasis"):
        assert page.has(f"setting_{key}"), key
    assert page.elem("setting_jpeg_quality")["props"]["maximum"] == 100
    assert page.elem("setting_samples_format")["props"]["label"] == shared.opts.data_labels["samples_format"].label
    nav = page.elem("settings_nav")["props"]["value"]
    assert "data-page='settings_saving-images'" in nav and "Stable Diffusion" in nav


def test_ui_config_json_records_defaults_and_applies_saved_ones(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with preserved_shared():
        build_ui(data_dir)
    saved = json.loads((data_dir / "ui-config.json").read_text())
    # the sampler row, seed and refiner belong to built-in scripts: A1111 1.10's keys carry their files
    sampler = "customscript/sampler.py/txt2img"
    assert saved[f"{sampler}/Sampling steps/value"] == 20
    assert saved[f"{sampler}/Sampling steps/maximum"] == 150
    assert saved["img2img/Denoising strength/value"] == 0.75
    assert saved["txt2img/Width/value"] == 512 and saved["txt2img/Hires. fix/value"] is False
    assert saved[f"{sampler}/Sampling method/value"] == "DPM++ 2M"
    assert saved["customscript/seed.py/txt2img/Seed/value"] == -1
    assert saved["customscript/refiner.py/img2img/Switch at/value"] == 0.8
    assert "txt2img/Sampling steps/value" not in saved
    assert "webui/Tabs@tabs/selected" in saved
    saved.update({f"{sampler}/Sampling steps/value": 33, f"{sampler}/Sampling method/value": "Euler a",
                  "img2img/Width/maximum": 4096, f"{sampler}/Sampling method/visible": True,
                  f"{sampler}/Schedule type/value": "not a schedule"})
    (data_dir / "ui-config.json").write_text(json.dumps(saved))
    with preserved_shared():
        demo, config = build_ui(data_dir)
        page = Page(demo, config)
        assert page.elem("txt2img_steps")["props"]["value"] == 33
        assert page.elem("txt2img_sampling")["props"]["value"] == "Euler a"
        assert page.elem("img2img_width")["props"]["maximum"] == 4096
        assert page.elem("txt2img_scheduler")["props"]["value"] == "Automatic"  # not a choice: ignored


def test_input_accordion_can_be_an_output_of_a_paste(built):
    """gradio re-creates an output component from its arguments to apply an update; InputAccordion must allow it."""
    import gradio as gr

    page, _ = built
    accordion = page.component("txt2img_hr-checkbox")
    again = type(accordion)(**{**accordion.constructor_args, "render": False})
    assert again.elem_id == "txt2img_hr-checkbox" and again.accordion is None
    assert isinstance(again, gr.Checkbox)


@pytest.mark.parametrize("elem_id", ["txt2img_random_seed", "paste", "save_txt2img", "refresh_sd_model_checkpoint"])
def test_tool_buttons_reach_the_browser_with_their_symbol_and_id(built, elem_id):
    page, _ = built
    props = page.elem(elem_id)["props"]
    assert props["value"] and "tool" in props["elem_classes"]


def test_train_buttons_take_the_txt2img_preview_settings_in_a1111_order(built):
    page, _ = built
    deps = page.config["dependencies"]
    by_id = {c["id"]: c["props"].get("elem_id") for c in page.config["components"]}

    def inputs_of(button: str) -> list:
        target = page.elem(button)["id"]
        dep = next(d for d in deps if any(t[0] == target for t in d["targets"]))
        return [by_id.get(i) for i in dep["inputs"]]

    preview = ["txt2img_prompt", "txt2img_neg_prompt", "txt2img_steps", "txt2img_sampling", "txt2img_cfg_scale",
               "txt2img_seed", "txt2img_width", "txt2img_height"]
    embedding = inputs_of("train_train_embedding")
    assert embedding[1:3] == ["train_embedding", "train_embedding_learn_rate"]
    assert embedding[-10:] == ["train_save_image_with_stored_embedding", "train_preview_from_txt2img", *preview]
    hypernetwork = inputs_of("train_train_hypernetwork")
    assert hypernetwork[1:3] == ["train_hypernetwork", "train_hypernetwork_learn_rate"]
    assert hypernetwork[-9:] == ["train_preview_from_txt2img", *preview]
