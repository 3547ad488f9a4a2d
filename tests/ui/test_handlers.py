"""What the page's buttons do, called as gradio calls them: settings, paste, save, PNG Info, extra networks."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from tests.api.conftest import preserved_shared

INFOTEXT = ("a dog, <lora:x:1>\nNegative prompt: ugly\nSteps: 7, Sampler: Euler a, Schedule type: Karras, "
            "CFG scale: 5.5, Seed: 1234, Size: 64x128, Clip skip: 2")


@pytest.fixture
def app_state(started):
    """The bootstrap without a model in a fresh data dir."""
    started("--skip-load-model-at-start")
    from modules import shared

    return shared


def png_with(path, text: str | None = None, size=(16, 24)) -> str:
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text("parameters", text)
    Image.new("RGB", size, (200, 10, 10)).save(path, pnginfo=info)
    return str(path)


def test_apply_settings_writes_config_json_and_reports_type_errors(app_state):
    from modules.ui.settings_tab import run_settings

    shared = app_state
    _, message = run_settings(["jpeg_quality", "samples_format", "grid_save"], 90.0, "jpg", True)
    assert message == "2 settings changed: jpeg_quality, samples_format."
    saved = json.loads(open(shared.opts.config_filename).read())
    assert saved["jpeg_quality"] == 90 and isinstance(saved["jpeg_quality"], int) and saved["samples_format"] == "jpg"

    _, message = run_settings(["jpeg_quality", "samples_format"], 50.0, 12)
    assert "Nothing was changed" in message and "samples_format" in message and "class='error'" in message
    assert shared.opts.jpeg_quality == 90 and shared.opts.samples_format == "jpg"


def test_frozen_settings_are_refused_with_a_message(started):
    started("--skip-load-model-at-start", "--freeze-settings")
    from modules.ui.settings_tab import run_settings

    _, message = run_settings(["jpeg_quality"], 42.0)
    assert "Nothing was changed" in message and "freeze-settings" in message


def test_quicksetting_checkpoint_change_loads_through_the_setting(started, tmp_path):
    from modules.models.tiny_factory import make_tiny_checkpoint

    from modules import shared

    started("--skip-load-model-at-start")
    loaded = []
    shared.opts.onchange("sd_model_checkpoint", lambda: loaded.append(shared.opts.sd_model_checkpoint), call=False)
    make_tiny_checkpoint("sd1", shared.paths.sd_models_dir, name="tiny-q")
    shared.checkpoints.refresh()
    from modules.ui.quicksettings import apply_setting

    update, settings_json = apply_setting("sd_model_checkpoint", "tiny-q")
    title = shared.opts.sd_model_checkpoint  # the title gains its hash once the checkpoint is loaded
    assert title.startswith("tiny-q.safetensors") and update["value"] == title and loaded
    assert shared.sd_model is not None and shared.sd_model.sd_checkpoint_info.name_for_extra == "tiny-q"
    assert json.loads(open(shared.opts.config_filename).read())["sd_model_checkpoint"] == title
    assert json.loads(settings_json)["sd_model_checkpoint"] == title
    update, _ = apply_setting("sd_model_checkpoint", "no such model")
    assert update["value"] == title


def test_paste_reads_the_prompt_or_params_txt(app_state):
    from modules.ui import paste

    params = paste.parse_for_paste(INFOTEXT)
    assert params["Steps"] == "7" and params["Size-1"] == "64" and params["Negative prompt"] == "ugly"
    assert paste.parse_for_paste("") == paste.parse_for_paste("") and paste.read_params_txt() == ""
    with open(os.path.join(app_state.paths.data_dir, "params.txt"), "w", encoding="utf8") as f:
        f.write(INFOTEXT)
    assert paste.parse_for_paste("")["Seed"] == "1234"


def test_paste_values_take_the_type_of_their_field(app_state):
    import gradio as gr

    from modules.ui import paste

    params = paste.parse_for_paste(INFOTEXT)
    with gr.Blocks():
        steps = gr.Slider(value=20, minimum=1, maximum=150)
        enable = gr.Checkbox(value=False)
        prompt = gr.Textbox(value="")
    assert paste.value_for(steps, "Steps", params)["value"] == 7.0
    assert paste.value_for(prompt, "Prompt", params)["value"] == "a dog, <lora:x:1>"
    assert paste.value_for(enable, lambda d: "Clip skip" in d, params)["value"] is True
    assert paste.value_for(steps, "Hires steps", params) == {"__type__": "update"}
    assert paste.override_settings_update(params)["value"] == ["Clip skip: 2"]


def test_token_counter_without_a_model_and_with_styles(app_state):
    from modules.ui.token_counter import counter_html, prompt_versions

    assert counter_html("a cat", 20, []) == "<span class='gr-box gr-text-input'>-/-</span>"
    assert [v.strip() for v in prompt_versions("[a:b:10] <lora:x:1>", 20, True)] == ["a", "b"]


def test_token_counter_counts_with_the_loaded_model(started):
    from modules import sd_hijack, shared
    from modules.models.tiny_factory import make_tiny_checkpoint
    from modules.ui.quicksettings import apply_setting
    from modules.ui.token_counter import count_tokens, counter_html

    started("--skip-load-model-at-start")
    make_tiny_checkpoint("sd1", shared.paths.sd_models_dir, name="tiny-t")
    shared.checkpoints.refresh()
    apply_setting("sd_model_checkpoint", "tiny-t")
    long = ", ".join(["a cat"] * 40)
    assert count_tokens("a cat", 20, []) == (2, 75)
    # chunk-aware, and the same count as A1111's model_hijack.get_prompt_lengths
    assert count_tokens(long, 20, []) == (119, 150) == tuple(sd_hijack.model_hijack.get_prompt_lengths(long))
    assert counter_html("[a cat:a dog and a bird:5]", 20, []) == "<span class='gr-box gr-text-input'>5/75</span>"


def test_save_and_zip_buttons_write_log_images_and_csv(app_state, tmp_path):
    from modules.ui.saving import SaveError, save_files

    pictures = [png_with(tmp_path / f"{i}.png", f"pic {i}\nSteps: 3, Seed: {10 + i}") for i in range(2)]
    info = {"prompt": "pic", "all_prompts": ["pic 0", "pic 1"], "all_seeds": [10, 11], "seed": 10, "width": 16,
            "height": 24, "sampler_name": "Euler", "cfg_scale": 7, "steps": 3, "negative_prompt": "",
            "index_of_first_image": 0, "infotexts": ["pic 0\nSteps: 3, Seed: 10", "pic 1\nSteps: 3, Seed: 11"],
            "batch_size": 2, "sd_model_name": "m", "sd_model_hash": "h", "job_timestamp": "20240101000000"}
    files, message = save_files(json.dumps(info), [(p, None) for p in pictures], False, 1)
    folder = os.path.join(app_state.paths.data_dir, "log", "images")
    assert message == f"Saved: {os.path.basename(files[0])}" and len(files) == 1
    assert os.path.dirname(files[0]) == folder
    saved = Image.open(files[0])
    assert saved.info["parameters"] == "pic 1\nSteps: 3, Seed: 11"
    with open(os.path.join(folder, "log.csv"), encoding="utf8") as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("prompt,seed,width,height,sampler,cfgs,steps,filename") and len(lines) == 2

    files, _ = save_files(json.dumps(info), [(p, None) for p in pictures], True, -1)
    assert files[0].endswith(".zip") and len(files) == 3
    with pytest.raises(SaveError):
        save_files("", [], False, 0)


def test_pnginfo_lists_every_chunk(tmp_path):
    from modules.ui.pnginfo_tab import NOTHING_FOUND, run_pnginfo

    _, text, html = run_pnginfo(png_with(tmp_path / "a.png", "a cat\nSteps: 3"))
    assert text == "a cat\nSteps: 3" and "<b>parameters</b>" in html and "a cat<br>\nSteps: 3" in html
    _, text, html = run_pnginfo(png_with(tmp_path / "b.png"))
    assert text == "" and NOTHING_FOUND in html


def test_img2img_modes_give_init_picture_and_mask():
    from modules.ui import img2img_images as ii

    background = Image.new("RGB", (32, 16), "white")
    layer = Image.new("RGBA", (32, 16), (0, 0, 0, 0))
    layer.paste((255, 0, 0, 255), (0, 0, 8, 16))
    editor = {"background": background, "layers": [layer], "composite": background}
    src = ii.source_for_mode(ii.MODE_INPAINT, None, None, editor, None, None, None, 4, 0)
    mask = np.asarray(src.mask)
    assert src.image.size == background.size and mask[:, :8].min() == 255 and mask[:, 8:].max() == 0
    with pytest.raises(ii.Img2ImgInputError):
        ii.source_for_mode(ii.MODE_INPAINT, None, None, {"background": background, "layers": []}, None, None, None, 4, 0)
    with pytest.raises(ii.Img2ImgInputError):
        ii.source_for_mode(ii.MODE_IMG2IMG, None, None, None, None, None, None, 4, 0)
    sketch = ii.source_for_mode(ii.MODE_INPAINT_SKETCH, None, None, None,
                                {"background": background, "layers": [layer], "composite": Image.new("RGB", (32, 16), "red")},
                                None, None, 0, 50)
    assert np.asarray(sketch.mask)[:, :8].max() == 127 and sketch.image.getpixel((2, 2)) != (255, 255, 255)
    assert ii.source_for_mode(ii.MODE_BATCH, None, None, None, None, None, None, 4, 0).image is None
    assert ii.scaled_size(Image.new("RGB", (100, 60)), 1.5) == (144, 88)


def test_txt2img_fields_become_processing_arguments():
    from modules.ui.generation import TXT2IMG_FIELDS, split_args, txt2img_processing_args

    values = dict(task_id="task(x)", prompt="p", negative_prompt="n", styles=[], n_iter=2.0, batch_size=1.0,
                  cfg_scale=7.0, height=64.0, width=128.0, override_settings=[], sampler_name="Euler a",
                  scheduler="Karras", steps=3.0, seed=5, seed_checkbox=False, subseed=9, subseed_strength=0.5,
                  seed_resize_from_w=0, seed_resize_from_h=0, refiner_enable=False, refiner_checkpoint="x",
                  refiner_switch_at=0.8, distilled_cfg_scale=2.5, enable_hr=False, denoising_strength=0.7, hr_scale=2.0, hr_upscaler="Latent",
                  hr_second_pass_steps=0, hr_resize_x=0, hr_resize_y=0, hr_checkpoint_name="Use same checkpoint",
                  hr_sampler_name="Use same sampler", hr_scheduler="Use same scheduler", hr_prompt="",
                  hr_negative_prompt="")
    named, script_args = split_args(TXT2IMG_FIELDS, tuple(values[k] for k in TXT2IMG_FIELDS) + (0, "x"))
    assert script_args == [0, "x"]
    args = txt2img_processing_args(named)
    assert (args["width"], args["height"], args["n_iter"], args["steps"]) == (128, 64, 2, 3)
    assert args["denoising_strength"] is None and args["hr_checkpoint_name"] is None and args["hr_sampler_name"] is None
    assert args["refiner_checkpoint"] is None and "subseed" not in args and args["seed"] == 5
    assert args["distilled_cfg_scale"] == 2.5  # Flux dev's guidance slider reaches the job
    named.update(seed_checkbox=True, enable_hr=True)
    args = txt2img_processing_args(named)
    assert args["subseed"] == 9 and args["subseed_strength"] == 0.5 and args["denoising_strength"] == 0.7


def test_extra_network_cards_and_thumbnails(app_state, tmp_path):
    from modules.models.tiny_factory import make_tiny_checkpoint
    from modules.server import internal_routes
    from modules.ui.extra_network_cards import page_html
    from modules.ui.extra_network_pages import builtin_pages

    shared = app_state
    path = make_tiny_checkpoint("sd1", shared.paths.sd_models_dir, name="pretty")
    png_with(str(path).replace(".safetensors", ".preview.png"))
    with open(str(path).replace(".safetensors", ".txt"), "w") as f:
        f.write("a <b>pretty</b> model")
    shared.checkpoints.refresh()
    pages = {p.id_page: p for p in builtin_pages()}
    assert list(pages)[:3] == ["textual_inversion", "hypernetworks", "checkpoints"]
    html = page_html("txt2img", pages["checkpoints"])
    assert "data-name='pretty'" in html and "sd_extra_networks/thumb?filename=" in html
    assert "a &lt;b&gt;pretty&lt;/b&gt; model" in html and "data-checkpoint='pretty.safetensors" in html
    assert "Nothing here" in page_html("txt2img", pages["hypernetworks"])
    preview = str(path).replace(".safetensors", ".preview.png")
    assert internal_routes.thumb_path(preview) == os.path.realpath(preview)
    assert internal_routes.thumb_path(str(tmp_path / "elsewhere.png")) is None
    assert internal_routes.thumb_path(str(path)) is None


def test_internal_routes_are_added_once(app_state):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from modules.server.internal_routes import add_internal_routes

    app = FastAPI()
    add_internal_routes(None, app)
    add_internal_routes(None, app)
    paths = [r.path for r in app.router.routes]
    assert paths.count("/internal/progress") == 1 and "/sd_extra_networks/thumb" in paths
    client = TestClient(app)
    answer = client.post("/internal/progress", json={"id_task": "task(unknown)", "id_live_preview": -1}).json()
    assert answer["active"] is False and answer["textinfo"] == "Waiting..."
    assert client.get("/internal/ping").json() == {}
    hint = client.get("/internal/quicksettings-hint").json()
    assert {"name": "sd_model_checkpoint", "label": "Stable Diffusion checkpoint"} in hint


def test_extensions_table_lists_the_builtin_lora(app_state):
    from modules.ui.extensions_tab import installed_html

    html = installed_html()
    assert ">Extension</abbr></th>" in html and "Lora" in html and "built-in" in html


def test_merge_without_models_is_a_message(app_state):
    from modules.ui.merger_tab import run_merge

    result = run_merge("a", "b", "", "Weighted sum", 0.3, False, "", "safetensors", 0, "None", "", True, True, True, "{}")
    assert "primary checkpoint &#x27;a&#x27; not found" in result[-1]


def test_generate_goes_through_the_job_queue_and_reports_bad_input(tmp_path):
    """txt2img and img2img handlers on a tiny checkpoint: pictures, info JSON, infotext; a bad sampler is a message."""
    from tests.ui.conftest import build_ui

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with preserved_shared():
        build_ui(data_dir, checkpoints=("tiny-g",))
        from modules import scripts
        from modules.runtime.jobs import job_queue
        from modules.ui import generation, generation_img2img

        values = dict(task_id="task(ui-test-1)", prompt="a cat", negative_prompt="", styles=[], n_iter=1, batch_size=2,
                      cfg_scale=7.0, height=64, width=64, override_settings=[], sampler_name="Euler a",
                      scheduler="Automatic", steps=2, seed=42, seed_checkbox=False, subseed=-1, subseed_strength=0,
                      seed_resize_from_w=0, seed_resize_from_h=0, refiner_enable=False, refiner_checkpoint="",
                      refiner_switch_at=0.8, distilled_cfg_scale=3.5, enable_hr=False, denoising_strength=0.7,
                      hr_scale=2.0,
                      hr_upscaler="Latent", hr_second_pass_steps=0, hr_resize_x=0, hr_resize_y=0,
                      hr_checkpoint_name="Use same checkpoint", hr_sampler_name="Use same sampler",
                      hr_scheduler="Use same scheduler", hr_prompt="", hr_negative_prompt="")
        script_args = ui_script_args(scripts.scripts_txt2img, values)
        gallery, info_json, info_html, log_html, index = generation.txt2img(
            *[values[k] for k in generation.TXT2IMG_FIELDS], *script_args)
        info = json.loads(info_json)
        assert len(gallery) == 3 and info["all_seeds"] == [42, 43] and info["index_of_first_image"] == 1
        assert "a cat<br>" in info_html and "Seed: 42" in info_html and "Time taken" in log_html and index == 0
        assert Image.open(gallery[1]).info["parameters"] == info["infotexts"][1]
        assert job_queue().get("task(ui-test-1)").status == "done"

        bad = dict(values, task_id="task(ui-test-2)", sampler_name="No Such Sampler")
        gallery, info_json, _, log_html, _ = generation.txt2img(*[bad[k] for k in generation.TXT2IMG_FIELDS],
                                                                *ui_script_args(scripts.scripts_txt2img, bad))
        assert gallery is None and info_json == "" and "class='error'" in log_html and "No Such Sampler" in log_html

        init = Image.open(gallery_value_first(values, generation, script_args))
        i2i = dict(values, task_id="task(ui-test-3)", batch_size=1, mode=0, init_img=init, sketch=None,
                   init_img_with_mask=None, inpaint_color_sketch=None, init_img_inpaint=None, init_mask_inpaint=None,
                   mask_blur=4, mask_alpha=0, inpainting_fill=1, image_cfg_scale=1.5, denoising_strength=0.5,
                   selected_scale_tab=0, scale_by=1.0, resize_mode=0, inpaint_full_res=0, inpaint_full_res_padding=32,
                   inpainting_mask_invert=0, batch_source="upload", batch_upload=None, batch_input_dir="",
                   batch_output_dir="", batch_inpaint_mask_dir="", batch_use_png_info=False, batch_png_info_props=[],
                   batch_png_info_dir="")
        i2i_args = ui_script_args(scripts.scripts_img2img, i2i)
        gallery, info_json, info_html, _, _ = generation_img2img.img2img(
            *[i2i[k] for k in generation.IMG2IMG_FIELDS], *i2i_args)
        assert len(gallery) == 1 and "Denoising strength: 0.5" in info_html
        missing = dict(i2i, task_id="task(ui-test-4)", init_img=None)
        _, _, _, log_html, _ = generation_img2img.img2img(*[missing[k] for k in generation.IMG2IMG_FIELDS], *i2i_args)
        assert "No picture" in log_html


BUILTIN_SCRIPT_FIELDS = {
    "sampler": ("steps", "sampler_name", "scheduler"),
    "seed": ("seed", "seed_checkbox", "subseed", "subseed_strength", "seed_resize_from_w", "seed_resize_from_h"),
    "refiner": ("refiner_enable", "refiner_checkpoint", "refiner_switch_at"),
}
"""The built-in scripts' arguments are the same components as these handler fields (the page sends both)."""


def ui_script_args(runner, values: dict) -> list:
    """Script arguments as the page sends them: components' defaults, the built-in scripts' from ``values``."""
    args = [0] + [getattr(c, "value", None) for c in runner.inputs[1:]]
    for name, keys in BUILTIN_SCRIPT_FIELDS.items():
        script = runner.script(name)
        if script is not None:
            args[script.args_from:script.args_to] = [values[k] for k in keys]
    return args


def gallery_value_first(values, generation, script_args) -> str:
    """One generated picture's file (for img2img's init picture)."""
    one = dict(values, task_id="task(ui-test-init)", batch_size=1)
    gallery, *_ = generation.txt2img(*[one[k] for k in generation.TXT2IMG_FIELDS], *script_args)
    return gallery[0]


def test_extras_generate_runs_as_a_job_and_saves(app_state):
    from modules.ui.extras_tab import run_extras

    source = Image.new("RGB", (32, 32), (10, 200, 10))
    names = [("Upscale", ["upscale_enabled", "upscale_mode", "upscale_by", "max_side_length", "upscale_to_width",
                          "upscale_to_height", "upscale_crop", "upscaler_1_name", "upscaler_2_name",
                          "upscaler_2_visibility"])]
    gallery, info_html, log_html, _ = run_extras("task(extras-1)", 0, source, None, "", "", True, names,
                                                 True, 0, 2.0, 0, 512, 512, True, "Lanczos", "None", 0.0)
    assert len(gallery) == 1 and Image.open(gallery[0]).size == (64, 64)
    assert "Postprocess upscale by: 2.0" in info_html and "Time taken" in log_html
    assert os.listdir(os.path.join(app_state.paths.data_dir, "outputs", "extras-images"))
    gallery, _, log_html, _ = run_extras("task(extras-2)", 0, None, None, "", "", True, names,
                                         True, 0, 2.0, 0, 512, 512, True, "Lanczos", "None", 0.0)
    assert gallery is None and "image not selected" in log_html


def test_a1111_import_paths_for_extensions():
    import modules.call_queue as call_queue
    import modules.infotext_utils as infotext_utils
    import modules.ui as ui
    import modules.ui_common as ui_common

    assert ui.gr_show(False) == {"visible": False, "__type__": "update"} and ui.reuse_symbol == "\u267b\ufe0f"
    assert callable(ui.create_ui) and callable(ui_common.create_refresh_button)
    assert infotext_utils.PasteField("c", "Steps") == ("c", "Steps") and isinstance(infotext_utils.paste_fields, dict)
    failing = call_queue.wrap_gradio_call(lambda: 1 / 0, extra_outputs=[None, ""], add_stats=True)()
    assert failing[:2] == (None, "") and "ZeroDivisionError" in failing[2] and "Time taken" in failing[2]
    assert ui_common.plaintext_to_html("a\nb") == "<p>a<br>\nb</p>"


def test_lora_cards_insert_the_alias_with_the_default_multiplier(app_state):
    import sys

    import torch
    from safetensors.torch import save_file

    from modules.ui.extra_network_pages import builtin_pages, lora_items

    if "networks" not in sys.modules:
        pytest.skip("the built-in Lora extension is not loaded")
    folder = app_state.cmd_opts.lora_dir
    os.makedirs(folder, exist_ok=True)
    save_file({"lora_unet_x.lora_up.weight": torch.zeros(1, 1)}, os.path.join(folder, "file-name.safetensors"),
              metadata={"ss_output_name": "nice_alias"})
    with open(os.path.join(folder, "file-name.json"), "w") as f:
        json.dump({"activation text": "trigger words", "negative text": "blurry"}, f)
    sys.modules["networks"].list_available_networks()
    items = {item.name: item for item in lora_items()}
    assert items["file-name"].prompt == "<lora:nice_alias:1> trigger words"
    assert items["file-name"].negative_prompt == "(blurry:1)"
    assert [p.title for p in builtin_pages()][-1] == "Lora"
