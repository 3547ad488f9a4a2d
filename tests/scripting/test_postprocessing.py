"""Postprocessing scripts: order from settings, first pass, extra pictures, isolation, running in the main UI."""
from __future__ import annotations

from types import SimpleNamespace

from PIL import Image

from tests.scripting.conftest import reported

OPERATIONS = '''
    from modules import scripts_postprocessing
    from modules.scripts_postprocessing import PostprocessedImage, ScriptPostprocessing


    class Grow(ScriptPostprocessing):
        name = "Grow"
        order = 20

        def process_firstpass(self, pp, **args):
            pp.shared.target_width = pp.image.width * args["factor"]

        def process(self, pp, **args):
            pp.image = pp.image.resize((pp.shared.target_width, pp.image.height))
            pp.info["Grow"] = args["factor"]


    class Mirror(ScriptPostprocessing):
        name = "Mirror"
        order = 10

        def process(self, pp, **args):
            if args["enabled"]:
                pp.extra_images.append(pp.image.transpose(0))
                pp.caption = "mirrored"


    class Tag(ScriptPostprocessing):
        name = "Tag"
        order = 30

        def process(self, pp, **args):
            pp.nametags.append("tagged")


    class Broken(ScriptPostprocessing):
        name = "Broken"
        order = 15

        def process_firstpass(self, pp, **args):
            raise RuntimeError("broken first pass")

        def process(self, pp, **args):
            raise RuntimeError("broken")
'''


def prepared_runner(webui, settings=None):
    webui.extension("pp", {"scripts/ops.py": OPERATIONS})
    webui.load(settings=settings)
    from modules import scripts

    runner = scripts.scripts_postproc
    args_for = {"Grow": ["factor"], "Mirror": ["enabled"], "Tag": [], "Broken": []}
    for script in runner.scripts:
        script.controls = {name: SimpleNamespace(value=None) for name in args_for[script.name]}
    position = 0
    for script in runner.scripts_in_preferred_order():
        script.args_from = position
        position += len(script.controls)
        script.args_to = position
    return runner


def test_order_from_settings_then_order_attribute(webui):
    from modules import scripts

    runner = prepared_runner(webui)
    assert [s.name for s in runner.scripts_in_preferred_order()] == ["Mirror", "Broken", "Grow", "Tag"]
    assert [d.script_class.__name__ for d in scripts.postprocessing_scripts_data] == ["Grow", "Mirror", "Tag", "Broken"]
    assert scripts.scripts_data == []
    from modules import shared

    shared.opts.data["postprocessing_operation_order"] = ["Tag", "Grow"]
    shared.opts.data["postprocessing_disable_in_extras"] = ["Broken"]
    assert [s.name for s in runner.scripts_in_preferred_order()] == ["Tag", "Grow", "Mirror"]


def test_run_first_pass_extra_images_and_isolation(webui):
    from modules.scripts_postprocessing import PostprocessedImage

    runner = prepared_runner(webui)
    order = [s.name for s in runner.scripts_in_preferred_order()]
    values = {"Grow": [2], "Mirror": [True], "Tag": [], "Broken": []}
    args = [v for name in order for v in values[name]]
    pp = PostprocessedImage(Image.new("RGB", (3, 5)))
    runner.run(pp, args)

    assert pp.image.size == (6, 5) and pp.info == {"Grow": 2} and pp.caption == "mirrored"
    assert pp.nametags == ["tagged"]
    assert len(pp.extra_images) == 1
    extra = pp.extra_images[0]
    assert isinstance(extra, PostprocessedImage)
    assert extra.image.size == (6, 5)  # the operations after Mirror ran on the copy too
    assert extra.shared is pp.shared and extra.nametags == ["tagged"]
    assert pp.get_suffix({}) == "-tagged"
    used: dict = {}
    assert [pp.get_suffix(used), extra.get_suffix(used)] == ["-tagged", "-tagged-1"]
    messages = reported("Error running")
    assert any(m.startswith("Error running process_firstpass: ") and m.endswith("ops.py") for m in messages)
    assert sum(m.startswith("Error running process: ") for m in messages) == 2  # the picture and its copy


def test_main_ui_wrapper_runs_enabled_operation(webui):
    runner = prepared_runner(webui, settings={"postprocessing_enable_in_main_ui": ["Grow"]})
    from modules import scripts
    from modules.scripts import PostprocessImageArgs

    assert runner is scripts.scripts_postproc
    t2i = scripts.scripts_txt2img
    wrapper = t2i.alwayson_scripts[0]
    assert wrapper.title() == "Grow" and wrapper.alwayson
    wrapper.postprocessing_controls = {"factor": None}
    wrapper.args_from, wrapper.args_to = 1, 2
    p = SimpleNamespace(script_args=[0, 3], extra_generation_params={})
    pp = PostprocessImageArgs(Image.new("RGB", (2, 2)))
    t2i.postprocess_image(p, pp)
    assert pp.image.size == (6, 2) and p.extra_generation_params == {"Grow": 3}


def test_create_args_for_run_builds_ui_once(webui):
    webui.extension("pp", {"scripts/ops.py": '''
        import gradio as gr
        from modules.scripts_postprocessing import ScriptPostprocessing

        class Scale(ScriptPostprocessing):
            name = "Scale"

            def ui(self):
                return {"factor": gr.Slider(minimum=1, maximum=4, value=2), "mode": gr.Radio(choices=["a", "b"])}
    '''})
    webui.load()
    from modules import scripts

    args = scripts.scripts_postproc.create_args_for_run({"Scale": {"factor": 3}})
    assert args == [3, None]
    assert scripts.scripts_postproc.ui_created
