"""A person at img2img: a picture in the img2img tab, 📦 Interrogate DeepBooru and 📎 Interrogate CLIP write the
answer into the prompt (tiny interrogation models in the browser server's folders, tests/ui/conftest.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modules.core.install_dir import INSTALL_DIR
from modules.models.interrogation.tags import TagFormat, format_tags
from modules.processing.image_resize import resize_image
from tests.interrogation import tiny_files as tf

pytestmark = pytest.mark.browser


def expected_tags(image: Image.Image) -> str:
    """The tags the server's tiny DeepDanbooru (seed 0) gives with the default settings."""
    model = tf.tiny_deepdanbooru(0)
    pixels = np.asarray(resize_image(2, image.convert("RGB"), 512, 512), dtype=np.float32)[None] / 255
    with torch.no_grad():
        probs = model(torch.from_numpy(pixels))[0].tolist()
    return format_tags(tf.TAGS, probs, TagFormat())


def category_lines(name: str) -> list[str]:
    with open(f"{INSTALL_DIR}/interrogate/{name}.txt", encoding="utf8") as f:
        return [line.strip() for line in f]


def test_interrogate_buttons_fill_the_prompt(module_page, tmp_path):
    page, errors = module_page
    picture = Image.new("RGB", (64, 64), (250, 30, 30))
    path = tmp_path / "red.png"
    picture.save(path)
    tags = expected_tags(picture)
    assert tags

    page.click("#tab_img2img-button")
    page.click("#img2img_img2img_tab-button")
    prompt = page.locator("#img2img_prompt textarea")
    prompt.fill("before")
    page.set_input_files("#img2img_image input[type=file]", str(path))
    page.wait_for_selector("#img2img_image img", timeout=30000)

    page.click("#deepbooru")
    page.wait_for_function("(tags) => document.querySelector('#img2img_prompt textarea').value === tags", arg=tags,
                           timeout=120000)

    page.click("#interrogate")
    page.wait_for_function("(tags) => { const v = document.querySelector('#img2img_prompt textarea').value;"
                           " return v !== tags && v !== '' }", arg=tags, timeout=120000)
    answer = prompt.input_value()
    # a caption, then one match from each category file, in name order
    *_, artist, flavor, medium, movement = answer.split(", ")
    assert (artist in category_lines("artists") and flavor in category_lines("flavors")
            and medium in category_lines("mediums") and movement in category_lines("movements")), answer
    assert "<error>" not in answer
    assert errors == []
