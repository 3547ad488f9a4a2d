"""img2img's Interrogate buttons in-process: the picture of each mode tab, the Batch tab's text files, the queue
lock, a missing model file as a message (the browser test is tests/ui/test_browser_interrogate.py)."""
from __future__ import annotations

import threading

from tests.interrogation import tiny_files as tf
from tests.interrogation.test_service_and_api import picture


def color_of(image) -> str:
    """A stand-in interrogator: the picture's first pixel (which picture a mode hands over)."""
    return str(image.convert("RGB").getpixel((0, 0)))


def test_each_mode_tab_hands_over_its_picture_and_batch_writes_text_files(tmp_path, restore_shared):
    from PIL import Image

    from modules.ui.interrogate_buttons import process_interrogate

    a, b = Image.new("RGB", (8, 8), (250, 30, 30)), Image.new("RGB", (8, 8), (10, 10, 80))
    assert process_interrogate(color_of, 0, "", "", a, None, None, None, None) == (color_of(a), "")
    assert process_interrogate(color_of, 1, "", "", a, {"composite": b, "background": a},
                               None, None, None)[0] == color_of(b)  # sketch: the drawing
    assert process_interrogate(color_of, 2, "", "", None, None,
                               {"background": a, "composite": b}, None, None)[0] == color_of(a)  # inpaint: the picture
    assert process_interrogate(color_of, 4, "", "", None, None, None, None, b)[0] == color_of(b)
    update, message = process_interrogate(color_of, 4, "", "", a, None, None, None, None)
    assert update == {"__type__": "update"} and "No picture" in message

    batch_in, batch_out = tmp_path / "in", tmp_path / "out"
    batch_in.mkdir()
    a.save(batch_in / "first.png")
    b.save(batch_in / "second.png")
    (batch_in / "notes.txt").write_text("not a picture")
    for _ in range(2):  # appended to, as A1111 opens the text files with "a"
        assert process_interrogate(color_of, 5, str(batch_in), str(batch_out))[1] == ""
    assert (batch_out / "first.txt").read_text(encoding="utf-8") == f"{color_of(a)}\n" * 2
    assert (batch_out / "second.txt").read_text(encoding="utf-8") == f"{color_of(b)}\n" * 2
    assert sorted(p.name for p in batch_out.iterdir()) == ["first.txt", "second.txt"]


def test_the_deepbooru_button_waits_for_the_queue_lock(started, data_dir):
    from PIL import Image

    from modules import deepbooru
    from modules.runtime.queue_lock import queue_lock
    from modules.ui.interrogate_buttons import button_handler, interrogate_deepbooru

    tf.write_deepdanbooru(data_dir / "models" / "torch_deepdanbooru", seed=3)
    started("--skip-load-model-at-start")
    a = Image.new("RGB", (48, 48), (250, 30, 30))
    handler = button_handler(interrogate_deepbooru)
    result = []
    with queue_lock:
        worker = threading.Thread(target=lambda: result.append(handler(0, "", "", a, None, None, None, None)))
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and not result  # the click waits, as a generation does
    worker.join(60)
    assert result == [(deepbooru.model.tag(a), "")] and result[0][0]


def test_a_missing_model_file_leaves_the_prompt_and_says_which(started, data_dir):
    from modules.ui.interrogate_buttons import interrogate_clip, process_interrogate

    started("--skip-load-model-at-start")
    update, message = process_interrogate(interrogate_clip, 0, "", "", picture(8), None, None, None, None)
    assert update == {"__type__": "update"}
    assert "model_base_caption_capfilt_large.pth" in message and str(data_dir / "models" / "BLIP") in message
