"""The second line: saving refuses a name that leaves the output folder, whatever the settings hold.

Settings are checked when set; these settings objects go around that (a plain
namespace, as a tool or an old config would give), so only ``save_image`` stands
between the pattern and the disk.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from PIL import Image

from modules.core.options.errors import OptionValueError
from modules.processing.filename_pattern import NameContext
from modules.processing.image_saving import save_image


def settings(**values) -> SimpleNamespace:
    base = dict(samples_filename_pattern="", directories_filename_pattern="[date]", save_to_dirs=True,
                save_images_add_number=True, save_images_replace_action="Replace", export_for_4chan=False,
                save_txt=False, enable_pnginfo=True)
    return SimpleNamespace(**{**base, **values})


def files_under(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def outputs(tmp_path):
    folder = tmp_path / "data" / "outputs" / "txt2img-images"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("values, extra, key", [
    (dict(directories_filename_pattern="../../../x_[seed]"), {}, "directories_filename_pattern"),
    (dict(directories_filename_pattern="/tmp/abs_[seed]"), {}, "directories_filename_pattern"),
    (dict(directories_filename_pattern="[user]"), dict(p=SimpleNamespace(user="../../../evil")), "directories_filename_pattern"),
    (dict(save_to_dirs=False, samples_filename_pattern="../../../y_[seed]"), {}, "samples_filename_pattern"),
    (dict(save_to_dirs=False), dict(extension="../../z"), "samples_format"),
    (dict(save_to_dirs=False), dict(forced_filename="../../w"), "forced_filename"),
])
def test_names_leaving_the_output_folder_are_refused_and_nothing_is_written(outputs, tmp_path, values, extra, key):
    before = files_under(tmp_path)
    kwargs = dict(seed=1234, prompt="a cat", extension="png", settings=settings(**values), context=NameContext())
    kwargs.update(extra)
    with pytest.raises(OptionValueError) as e:
        save_image(Image.new("RGB", (8, 8)), str(outputs), "", **kwargs)
    assert e.value.key == key and "nothing was saved" in e.value.message
    assert files_under(tmp_path) == before


def test_names_inside_the_output_folder_still_save(outputs):
    kwargs = dict(seed=1234, prompt="a cat", extension="png", context=NameContext())
    path, _ = save_image(Image.new("RGB", (8, 8)), str(outputs), "",
                         settings=settings(directories_filename_pattern="a/..b/[seed]", samples_filename_pattern="..[seed]"),
                         **kwargs)
    assert path.startswith(str(outputs / "a" / "..b" / "1234")) and path.endswith("..1234.png")


def test_an_output_folder_that_is_a_symlink_still_saves(tmp_path):
    target = tmp_path / "other-disk"
    target.mkdir()
    link = tmp_path / "data" / "outputs"
    link.parent.mkdir()
    link.symlink_to(target)
    path, _ = save_image(Image.new("RGB", (8, 8)), str(link / "txt2img-images"), "", seed=1, prompt="x",
                         settings=settings(), context=NameContext())
    assert path.startswith(str(link))
