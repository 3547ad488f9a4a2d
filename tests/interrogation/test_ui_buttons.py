"""img2img's Interrogate buttons in-process: the picture of each mode tab, the Batch tab's text files, the queue
lock, a missing model file as a message (the browser test is tests/ui/test_browser_interrogate.py)."""
from __future__ import annotations

import threading

from tests.interrogation import tiny_files as tf
from tests.interrogation.test_service_and_api import picture


def test_buttons_interrogate_the_selected_tabs_picture(started, data_dir, tmp_path):
    from modules import deepbooru
    from modules.runtime.queue_lock import queue_lock
    from modules.ui.interrogate_buttons import button_handler, interrogate_deepbooru, process_interrogate

    tf.write_deepdanbooru(data_dir / "models" / "torch_deepdanbooru", seed=3)
    started("--skip-load-model-at-start")
    from PIL import Image

    a, b = Image.new("RGB", (48, 48), (250, 30, 30)), Image.new("RGB", (48, 48), (10, 10, 80))
    tags_a, tags_b = deepbooru.model.tag(a), deepbooru.model.tag(b)
    assert tags_a != tags_b
    assert process_interrogate(interrogate_deepbooru, 0, "", "", a, None, None, None, None) == (tags_a, "")
    assert process_interrogate(interrogate_deepbooru, 1, "", "", a, {"composite": b, "background": a},
                               None, None, None)[0] == tags_b  # sketch: the drawing
    assert process_interrogate(interrogate_deepbooru, 2, "", "", None, None,
                               {"background": a, "composite": b}, None, None)[0] == tags_a  # inpaint: the picture
    update, message = process_interrogate(interrogate_deepbooru, 4, "", "", a, None, None, None, None)
    assert update == {"__type__": "update"} and "No picture" in message

    batch_in, batch_out = tmp_path / "in", tmp_path / "out"
    batch_in.mkdir()
    a.save(batch_in / "first.png")
    b.save(batch_in / "second.png")
    (batch_in / "notes.txt").write_text("not a picture")
    assert process_interrogate(interrogate_deepbooru, 5, str(batch_in), str(batch_out))[1] == ""
    assert (batch_out / "first.txt").read_text(encoding="utf-8") == tags_a + "\n"
    assert (batch_out / "second.txt").read_text(encoding="utf-8") == tags_b + "\n"
    assert sorted(p.name for p in batch_out.iterdir()) == ["first.txt", "second.txt"]

    # the click waits for the queue lock, as a generation does
    handler = button_handler(interrogate_deepbooru)
    result = []
    with queue_lock:
        worker = threading.Thread(target=lambda: result.append(handler(0, "", "", a, None, None, None, None)))
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and not result
    worker.join(60)
    assert result == [(tags_a, "")]


def test_a_missing_model_file_leaves_the_prompt_and_says_which(started, data_dir):
    from modules.ui.interrogate_buttons import interrogate_clip, process_interrogate

    started("--skip-load-model-at-start")
    update, message = process_interrogate(interrogate_clip, 0, "", "", picture(8), None, None, None, None)
    assert update == {"__type__": "update"}
    assert "model_base_caption_capfilt_large.pth" in message and str(data_dir / "models" / "BLIP") in message
