"""The postprocessing loop: first passes before any process, extra pictures through the operations that follow."""
from __future__ import annotations

import types

from PIL import Image

from modules.postprocess.operation_passes import run_passes
from modules.scripting.postprocessing import PostprocessedImage


class Op:
    def __init__(self, name, log, make_extra=False):
        self.name, self.log, self.make_extra = name, log, make_extra

    def process_firstpass(self, pp, **kwargs):
        self.log.append(("first", self.name, pp.image.size))

    def process(self, pp, **kwargs):
        self.log.append(("process", self.name, pp.image.size, kwargs.get("k")))
        if self.make_extra:
            pp.extra_images.append(Image.new("RGB", (2, 2)))


def call(op, method, pp, kwargs):
    getattr(op, method)(pp, **kwargs)


def test_first_passes_then_each_operation_over_the_picture_and_the_extra_ones_made_before_it():
    log = []
    pp = PostprocessedImage(Image.new("RGB", (4, 4)))
    pp.nametags = ["x"]
    selected = [(Op("A", log, make_extra=True), {"k": 1}), (Op("B", log), {"k": 2})]
    run_passes(pp, selected, call)
    assert log == [("first", "A", (4, 4)), ("first", "B", (4, 4)),
                   ("process", "A", (4, 4), 1),
                   ("process", "B", (4, 4), 2), ("process", "B", (2, 2), 2)]
    assert len(pp.extra_images) == 1 and isinstance(pp.extra_images[0], PostprocessedImage)
    assert pp.extra_images[0].nametags == ["x"] and pp.extra_images[0].shared is pp.shared


def test_a_disabled_picture_is_skipped_and_a_skipped_job_stops():
    log = []
    pp = PostprocessedImage(Image.new("RGB", (4, 4)))
    extra = pp.create_copy(Image.new("RGB", (3, 3)), disable_processing=True)
    pp.extra_images.append(extra)
    state = types.SimpleNamespace(skipped=False, job="")

    class Skipper(Op):
        def process(self, pp, **kwargs):
            super().process(pp, **kwargs)
            state.skipped = True

    run_passes(pp, [(Skipper("A", log), {}), (Op("B", log), {})], call, state)
    assert [entry[:2] for entry in log] == [("first", "A"), ("first", "B"), ("process", "A")]
    assert state.job == "A"
    assert pp.extra_images == [extra]
