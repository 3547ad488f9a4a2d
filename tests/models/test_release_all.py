"""``ModelManager.release_all``: after it no loaded model holds weights, whoever still refers to it.

A test session or an application that starts and ends runtimes in one process needs this: ``unload`` (A1111's
"Unload SD checkpoint") keeps the weights in RAM, and the full-size tests piled up 14 GB of earlier models that
way until the CI machine ran out of memory.
"""
from __future__ import annotations

import gc
import weakref


def test_release_all_frees_every_loaded_model_and_the_next_load_works(app):
    shared = app("sd1")
    manager = shared.model_manager
    model = shared.sd_model
    held_elsewhere = [model]  # a finished job or a script keeping its model
    assert any(p.device.type == "cpu" for p in model.parameters())

    manager.release_all()

    assert manager.current is None and not manager.loaded
    assert all(p.device.type == "meta" for p in held_elsewhere[0].parameters())
    assert all(b.device.type == "meta" for b in held_elsewhere[0].buffers())
    ref = weakref.ref(model)
    del model, held_elsewhere
    shared.sd_model = None
    gc.collect()
    assert ref() is None or all(p.device.type == "meta" for p in ref().parameters())

    reloaded = manager.load(manager.registry.select(), write_setting=False)
    assert reloaded is manager.current and all(p.device.type == "cpu" for p in reloaded.parameters())


def test_release_all_with_nothing_loaded_is_harmless(app):
    shared = app("sd1")
    manager = shared.model_manager
    manager.release_all()
    manager.release_all()
    assert manager.current is None and not manager.loaded
