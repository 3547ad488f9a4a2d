"""Saving pictures: formats with the infotext inside, folders, file names, counters, callbacks."""
from __future__ import annotations

import datetime
import io
import json
import os
from types import SimpleNamespace

import pytest
from PIL import Image, PngImagePlugin, features

from modules.core.options.catalogue import build_catalogue
from modules.core.options.store import Options
from modules.processing.filename_pattern import FilenameRules, NameContext
from modules.processing.image_saving import ImageSaveParams, output_dir, save_image, write_params_txt
from modules.processing.image_saving_info import image_data, read_info_from_image

INFOTEXT = ("a ünïcode 猫 cat 🐈, (detailed:1.2)\nNegative prompt: blurry, \"bad\"\nSteps: 20, Sampler: Euler a, "
            "Schedule type: Automatic, CFG scale: 7.0, Seed: 1234, Size: 64x48, Lora hashes: \"x: 1, y: 2\", "
            "Version: v1.10.1")
FIXED_NOW = datetime.datetime(2024, 7, 27, 13, 45, 9)


def opts(**values) -> Options:
    o = Options(build_catalogue())
    for key, value in values.items():
        o.set(key, value)
    return o


def picture(w: int = 64, h: int = 48, color=(200, 30, 60), mode: str = "RGB") -> Image.Image:
    return Image.new(mode, (w, h), color)


def context() -> NameContext:
    return NameContext(now=lambda: FIXED_NOW, job_timestamp="20240727134509")


def save(tmp_path, settings=None, **kw):
    kw.setdefault("seed", 1234)
    kw.setdefault("prompt", "a cat")
    kw.setdefault("info", INFOTEXT)
    return save_image(kw.pop("image", picture()), str(tmp_path), kw.pop("basename", ""), settings=settings or opts(),
                      context=context(), **kw)


@pytest.mark.parametrize("fmt", ["png", "jpg", "jpeg", "webp", "avif"])
def test_infotext_survives_every_format(tmp_path, fmt):
    if fmt == "avif" and not features.check("avif"):
        pytest.skip("Pillow without AVIF")
    fullfn, txt = save(tmp_path, extension=fmt)
    assert fullfn.endswith(f".{fmt}") and txt is None
    with Image.open(fullfn) as im:
        geninfo, items = read_info_from_image(im)
    assert geninfo == INFOTEXT
    assert "exif" not in items
    assert not [f for f in os.listdir(os.path.dirname(fullfn)) if f.endswith(".tmp")]


def test_png_keeps_other_chunks_and_uses_the_section_name(tmp_path):
    fullfn, _ = save(tmp_path, existing_info={"postprocessing": "Postprocess upscale by: 2"},
                     pnginfo_section_name="extras")
    with Image.open(fullfn) as im:
        geninfo, items = read_info_from_image(im)
    assert geninfo is None
    assert items == {"postprocessing": "Postprocess upscale by: 2", "extras": INFOTEXT}


def test_jpeg_comment_is_also_listed_and_rgba_is_flattened(tmp_path):
    fullfn, _ = save(tmp_path, image=picture(mode="RGBA", color=(1, 2, 3, 128)), extension="jpg")
    with Image.open(fullfn) as im:
        assert im.mode == "RGB"
        geninfo, items = read_info_from_image(im)
    assert items["exif comment"] == INFOTEXT == geninfo


def test_enable_pnginfo_off_writes_no_metadata(tmp_path):
    for fmt in ("png", "jpg"):
        fullfn, _ = save(tmp_path, settings=opts(enable_pnginfo=False), extension=fmt)
        with Image.open(fullfn) as im:
            assert read_info_from_image(im)[0] is None


def test_default_names_in_date_folder(tmp_path):
    first, _ = save(tmp_path)
    second, _ = save(tmp_path, seed=1235)
    assert first == str(tmp_path / "2024-07-27" / "00000-1234.png")
    assert second == str(tmp_path / "2024-07-27" / "00001-1235.png")


def test_default_names_without_folders(tmp_path):
    fullfn, _ = save(tmp_path, settings=opts(save_to_dirs=False), prompt="a cat: on/a mat?")
    assert os.path.basename(fullfn) == "00000-1234-a cat_ on_a mat_.png"
    assert os.path.dirname(fullfn) == str(tmp_path)


def test_counter_continues_after_the_largest_number(tmp_path):
    for name in ("00007-1.png", "00003-x.png", "notes.txt", "grid-0009.png"):
        (tmp_path / name).write_bytes(b"")
    fullfn, _ = save(tmp_path, settings=opts(save_to_dirs=False, samples_filename_pattern="[seed]"))
    assert os.path.basename(fullfn) == "00008-1234.png"


def test_grid_names(tmp_path):
    settings = opts(grid_save_to_dirs=False)
    first, _ = save(tmp_path, settings, basename="grid", grid=True, short_filename=True)
    second, _ = save(tmp_path, settings, basename="grid", grid=True, short_filename=True)
    assert [os.path.basename(first), os.path.basename(second)] == ["grid-0000.png", "grid-0001.png"]


def test_without_number_and_replace_actions(tmp_path):
    replace = opts(save_to_dirs=False, save_images_add_number=False, samples_filename_pattern="[seed]")
    first, _ = save(tmp_path, replace)
    again, _ = save(tmp_path, replace)
    assert first == again == str(tmp_path / "1234.png")
    suffixed = opts(save_to_dirs=False, save_images_add_number=False, samples_filename_pattern="[seed]",
                    save_images_replace_action="Add number suffix")
    third, _ = save(tmp_path, suffixed)
    fourth, _ = save(tmp_path, suffixed)
    assert [os.path.basename(third), os.path.basename(fourth)] == ["1234-1.png", "1234-2.png"]
    assert sorted(os.listdir(tmp_path)) == ["1234-1.png", "1234-2.png", "1234.png"]


def test_forced_filename_suffix_and_no_seed(tmp_path):
    settings = opts(save_to_dirs=False)
    forced, _ = save(tmp_path, settings, forced_filename="exact-name")
    assert forced == str(tmp_path / "exact-name.png")
    suffixed, _ = save(tmp_path, settings, suffix="-before-highres-fix")
    assert os.path.basename(suffixed) == "00000-1234-a cat-before-highres-fix.png"
    bare, _ = save(tmp_path, settings, seed=None)
    assert os.path.basename(bare) == "00001.png"


def test_override_settings_pattern_wins(tmp_path):
    p = SimpleNamespace(override_settings={"samples_filename_pattern": "input-stem"})
    fullfn, _ = save(tmp_path, opts(save_to_dirs=False, save_images_add_number=False), p=p)
    assert fullfn == str(tmp_path / "input-stem.png")


def test_directory_pattern_and_no_prompt(tmp_path):
    settings = opts(directories_filename_pattern="[prompt_words]", directories_max_prompt_words=3)
    fullfn, _ = save(tmp_path, settings, prompt="A (red), fox: jumps over")
    assert os.path.basename(os.path.dirname(fullfn)) == "A red fox"
    flat, _ = save(tmp_path, settings, no_prompt=True)
    assert os.path.dirname(flat) == str(tmp_path)
    forced_dir, _ = save(tmp_path, opts(save_to_dirs=False), save_to_dirs=True)
    assert os.path.basename(os.path.dirname(forced_dir)) == "2024-07-27"


def test_save_txt(tmp_path):
    fullfn, txt = save(tmp_path, opts(save_txt=True))
    assert txt == os.path.splitext(fullfn)[0] + ".txt"
    assert open(txt, encoding="utf8").read() == INFOTEXT + "\n"


def test_export_for_4chan_writes_a_downscaled_jpg(tmp_path):
    settings = opts(save_to_dirs=False, target_side_length=32, export_for_4chan=True)
    fullfn, _ = save(tmp_path, settings, image=picture(80, 40))
    jpg = os.path.splitext(fullfn)[0] + ".jpg"
    with Image.open(jpg) as im:
        assert im.size == (32, 16)
        assert read_info_from_image(im)[0] == INFOTEXT
    with Image.open(fullfn) as im:
        assert im.size == (80, 40)
    off = opts(save_to_dirs=False, target_side_length=32, export_for_4chan=False)
    other, _ = save(tmp_path, off, image=picture(80, 40), seed=5)
    assert not os.path.exists(os.path.splitext(other)[0] + ".jpg")


def test_too_large_for_webp_falls_back_to_png(tmp_path):
    fullfn, _ = save(tmp_path, opts(save_to_dirs=False), image=picture(16384, 1), extension="webp")
    assert fullfn.endswith(".png")


def test_callbacks_can_change_image_name_and_chunks(tmp_path):
    seen: list[ImageSaveParams] = []

    def before(params: ImageSaveParams) -> None:
        params.filename = os.path.join(os.path.dirname(params.filename), "renamed.png")
        params.pnginfo["parameters"] = params.pnginfo["parameters"] + ", Extra: yes"
        params.image = params.image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)

    fullfn, _ = save_image(picture(), str(tmp_path), "", 1, "p", info="p\nSteps: 1, Seed: 1, Sampler: Euler",
                           settings=opts(save_to_dirs=False), before_save=[before], after_save=[seen.append])
    assert fullfn == str(tmp_path / "renamed.png")
    assert seen[0].filename == fullfn
    with Image.open(fullfn) as im:
        assert read_info_from_image(im)[0].endswith("Extra: yes")


def test_long_names_are_cut_in_the_file_name_only(tmp_path):
    fullfn, _ = save(tmp_path, opts(save_to_dirs=False, samples_filename_pattern="[prompt]"), prompt="word " * 200)
    name = os.path.basename(fullfn)
    assert name == "00000-" + ("word_" * 200)[:128].rstrip("_") + ".png"
    assert len(name) <= 255
    rules = FilenameRules(max_length=300)
    longer, _ = save_image(picture(), str(tmp_path), "", 1, "word " * 200, info=INFOTEXT, rules=rules,
                           settings=opts(save_to_dirs=False, samples_filename_pattern="[prompt]"))
    assert len(os.path.basename(longer)) <= 255 and longer.endswith(".png")


def test_novelai_pictures_are_converted():
    im = picture()
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "NovelAI")
    info.add_text("Description", "a fox")
    info.add_text("Comment", json.dumps({"uc": "lowres", "steps": 28, "sampler": "k_euler_ancestral", "scale": 11,
                                         "seed": 42}))
    buf = io.BytesIO()
    im.save(buf, "png", pnginfo=info)
    geninfo, items = read_info_from_image(Image.open(io.BytesIO(buf.getvalue())))
    assert geninfo == ("a fox\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 11, Seed: 42, "
                       "Size: 64x48, Clip skip: 2, ENSD: 31337")
    assert items["Software"] == "NovelAI"


def test_gif_comment_and_dropped_text(tmp_path):
    fullfn, _ = save(tmp_path, opts(save_to_dirs=False), extension="gif")
    with Image.open(fullfn) as im:
        assert read_info_from_image(im)[0] == INFOTEXT
    assert image_data(b"a prompt typed in a file") == "a prompt typed in a file"
    assert image_data(open(fullfn, "rb").read()) == INFOTEXT
    assert image_data(b"\xff\xfe\x00bad") is None


def test_params_txt(tmp_path):
    write_params_txt(str(tmp_path / "params.txt"), INFOTEXT)
    assert (tmp_path / "params.txt").read_text(encoding="utf8") == INFOTEXT


def test_output_folders():
    o = opts()
    assert output_dir(o, "txt2img") == "outputs/txt2img-images"
    assert output_dir(o, "img2img", grid=True) == "outputs/img2img-grids"
    assert output_dir(o, "extras", data_dir="/data") == "/data/outputs/extras-images"
    o.set("outdir_samples", "/all/samples")
    o.set("outdir_grids", "all-grids")
    assert output_dir(o, "txt2img", data_dir="/data") == "/all/samples"
    assert output_dir(o, "txt2img", grid=True, data_dir="/data") == "/data/all-grids"
    with pytest.raises(ValueError):
        output_dir(o, "extras", grid=True)
