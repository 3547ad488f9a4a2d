"""Hook call order on a fake job, argument slices, and isolation of a script that raises everywhere."""
from __future__ import annotations

from types import SimpleNamespace

from modules.scripting.script_base import HOOK_CALL_ORDER, HOOK_NAMES, Script

from tests.scripting.conftest import reported

RECORDER = '''
    import modules.scripts as scripts
    from modules import script_callbacks

    CALLS = []
    HOOKS = {hooks!r}


    def _recorder(name):
        def hook(self, p, *args, **kwargs):
            CALLS.append((self.title(), name, args, tuple(sorted(kwargs))))
        return hook


    class Recorder(scripts.Script):
        def title(self):
            return {title!r}

        def show(self, is_img2img):
            return scripts.AlwaysVisible


    for _name in HOOKS:
        setattr(Recorder, _name, _recorder(_name))
'''

BROKEN = '''
    import modules.scripts as scripts
    from modules import script_callbacks

    HOOKS = {hooks!r}


    def _boom(*args, **kwargs):
        raise RuntimeError("broken extension")


    class Broken(scripts.Script):
        def title(self):
            return "Broken"

        def show(self, is_img2img):
            return scripts.AlwaysVisible


    for _name in HOOKS:
        setattr(Broken, _name, _boom)

    for _category in ("app_started", "model_loaded", "ui_tabs", "ui_train_tabs", "ui_settings", "before_image_saved",
                      "image_saved", "extra_noise", "cfg_denoiser", "cfg_denoised", "cfg_after_cfg", "before_component",
                      "after_component", "image_grid", "infotext_pasted", "script_unloaded", "before_ui",
                      "before_reload", "list_optimizers", "list_unets", "before_token_counter"):
        getattr(script_callbacks, "on_" + _category)(_boom)
'''


def fake_job(p, runner, *, batches: int = 1, images: int = 1, hires: bool = False, inpaint: bool = False):
    """The hook calls of A1111's process_images, in its order, on a fake processing object."""
    from modules.scripts import MaskBlendArgs, PostprocessBatchListArgs, PostprocessImageArgs, PostProcessMaskOverlayArgs, PostSampleArgs

    runner.setup_scrips(p)
    runner.before_process(p)
    runner.process(p)
    for n in range(batches):
        batch = dict(batch_number=n, prompts=["a"] * images, seeds=[1] * images, subseeds=[2] * images)
        runner.before_process_batch(p, **batch)
        runner.after_extra_networks_activate(p, **batch, extra_network_data={})
        runner.process_batch(p, **batch)
        runner.process_before_every_sampling(p, x="x", noise="n", c="c", uc="uc")
        if inpaint:
            runner.on_mask_blend(p, MaskBlendArgs("cur", "nmask", "init", "mask", "blended"))
        if hires:
            runner.before_hr(p)
            runner.process_before_every_sampling(p, x="x2", noise="n2", c="c", uc="uc")
        ps = PostSampleArgs("latents")
        runner.post_sample(p, ps)
        runner.postprocess_batch(p, "decoded", batch_number=n)
        runner.postprocess_batch_list(p, PostprocessBatchListArgs(["img"] * images), batch_number=n)
        for i in range(images):
            runner.postprocess_image(p, PostprocessImageArgs("img"))
            runner.postprocess_maskoverlay(p, PostProcessMaskOverlayArgs(i, None, None))
            runner.postprocess_image_after_composite(p, PostprocessImageArgs("img"))
    runner.postprocess(p, "processed")
    return "processed"


def processing_hooks() -> tuple[str, ...]:
    return tuple(h for h in HOOK_NAMES if h not in ("before_component", "after_component"))


def test_hook_names_are_all_documented_on_script():
    for name in HOOK_NAMES:
        method = getattr(Script, name)
        assert method.__doc__ and method.__doc__.strip(), name


def test_call_order_matches_spec(webui):
    webui.extension("rec", {"scripts/rec.py": RECORDER.format(hooks=processing_hooks(), title="Rec")})
    webui.load()
    from modules import scripts

    runner = scripts.scripts_txt2img
    p = SimpleNamespace(script_args=[0], scripts=runner)
    fake_job(p, runner)
    module = scripts.scripts_data[0].module
    assert tuple(c[1] for c in module.CALLS) == HOOK_CALL_ORDER

    module.CALLS.clear()
    fake_job(p, runner, hires=True)
    names = [c[1] for c in module.CALLS]
    assert names[names.index("process_before_every_sampling"):][:3] == [
        "process_before_every_sampling", "before_hr", "process_before_every_sampling"]
    kwargs = {c[1]: c[3] for c in module.CALLS}
    assert kwargs["before_process_batch"] == ("batch_number", "prompts", "seeds", "subseeds")
    assert kwargs["after_extra_networks_activate"] == ("batch_number", "extra_network_data", "prompts", "seeds",
                                                       "subseeds")
    assert kwargs["process_before_every_sampling"] == ("c", "noise", "uc", "x")
    assert kwargs["postprocess_batch"] == ("batch_number", "images")


def test_each_script_gets_its_own_argument_slice(webui):
    webui.extension("a", {"scripts/a.py": RECORDER.format(hooks=("process", "postprocess_image"), title="A")})
    webui.extension("b", {"scripts/b.py": RECORDER.format(hooks=("process",), title="B")})
    webui.load()
    from modules import scripts
    from modules.scripts import PostprocessImageArgs

    runner = scripts.scripts_txt2img
    a, b = runner.alwayson_scripts
    a.args_from, a.args_to, b.args_from, b.args_to = 1, 3, 3, 4
    p = SimpleNamespace(script_args=[0, "a1", "a2", "b1"], scripts=runner)
    runner.process(p)
    runner.postprocess_image(p, PostprocessImageArgs("img"))
    calls = scripts.scripts_data[0].module.CALLS + scripts.scripts_data[1].module.CALLS
    assert ("A", "process", ("a1", "a2"), ()) in calls
    assert ("B", "process", ("b1",), ()) in calls
    pp_call = next(c for c in calls if c[1] == "postprocess_image")
    assert pp_call[2][1:] == ("a1", "a2")  # the payload comes first, then the script's own values


def test_broken_extension_reported_by_file_and_never_breaks_the_job(webui):
    broken = webui.extension("broken", {"scripts/broken.py": BROKEN.format(hooks=processing_hooks())})
    webui.extension("zz-good", {"scripts/good.py": RECORDER.format(hooks=processing_hooks(), title="Good")})
    webui.load()
    from modules import script_callbacks, scripts
    from modules.script_callbacks import (
        AfterCFGCallbackParams,
        BeforeTokenCounterParams,
        CFGDenoisedParams,
        CFGDenoiserParams,
        ExtraNoiseParams,
        ImageGridLoopParams,
        ImageSaveParams,
        UiTrainTabParams,
    )

    runner = scripts.scripts_txt2img
    p = SimpleNamespace(script_args=[0], scripts=runner)
    assert fake_job(p, runner, hires=True, inpaint=True) == "processed"
    good = next(d.module for d in scripts.scripts_data if d.path.endswith("good.py"))
    assert [c[1] for c in good.CALLS if c[1] != "before_hr" and c[2] != ("x2",)][:3] == list(HOOK_CALL_ORDER[:3])
    assert len(good.CALLS) == len(HOOK_CALL_ORDER) + 3  # every hook ran despite the broken neighbour

    broken_file = str(broken / "scripts" / "broken.py")
    hook_reports = reported(broken_file)
    for hook in processing_hooks():
        assert f"Error running {hook}: {broken_file}" in hook_reports, hook

    # every callback category: each invoker reports and returns normally
    script_callbacks.app_started_callback(None, None)
    script_callbacks.app_reload_callback()
    script_callbacks.model_loaded_callback(None)
    assert script_callbacks.ui_tabs_callback() == []
    script_callbacks.ui_train_tabs_callback(UiTrainTabParams(None))
    script_callbacks.ui_settings_callback()
    script_callbacks.before_image_saved_callback(ImageSaveParams(None, None, "f.png", {}))
    script_callbacks.image_saved_callback(ImageSaveParams(None, None, "f.png", {}))
    script_callbacks.extra_noise_callback(ExtraNoiseParams(None, None, None))
    script_callbacks.cfg_denoiser_callback(CFGDenoiserParams(None, None, None, 0, 1, None, None))
    script_callbacks.cfg_denoised_callback(CFGDenoisedParams(None, 0, 1, None))
    script_callbacks.cfg_after_cfg_callback(AfterCFGCallbackParams(None, 0, 1))
    script_callbacks.before_component_callback(None, elem_id="x")
    script_callbacks.after_component_callback(None, elem_id="x")
    script_callbacks.image_grid_callback(ImageGridLoopParams([], 1, 1))
    script_callbacks.infotext_pasted_callback("", {})
    script_callbacks.script_unloaded_callback()
    script_callbacks.before_ui_callback()
    assert script_callbacks.list_optimizers_callback() == []
    assert script_callbacks.list_unets_callback() == []
    script_callbacks.before_token_counter_callback(BeforeTokenCounterParams("a", 20))
    for fn in script_callbacks.cfg_denoiser_callbacks():
        fn(CFGDenoiserParams(None, None, None, 0, 1, None, None))
    callback_reports = reported(f"for {broken_file}")
    assert len(callback_reports) == 21 + 1
    assert "Error executing callback app_started_callback for " + broken_file in callback_reports


def test_broken_show_and_constructor_skip_only_that_script(webui):
    webui.extension("x", {"scripts/x.py": '''
        import modules.scripts as scripts

        class BadInit(scripts.Script):
            def __init__(self):
                raise ValueError("no")

        class BadShow(scripts.Script):
            def title(self):
                return "Bad show"

            def show(self, is_img2img):
                raise ValueError("no")

        class Fine(scripts.Script):
            def title(self):
                return "Fine"
    '''})
    webui.load()
    from modules import scripts

    assert scripts.scripts_txt2img.titles == ["Fine"]
    assert any("failed to initialize Script" in m for m in reported())
    assert any(m.endswith("x.py/show") for m in reported("Error calling"))


def test_unoverridden_hooks_are_not_called_and_component_hooks_reach_all_scripts(webui):
    webui.extension("c", {"scripts/c.py": '''
        import modules.scripts as scripts

        SEEN = []

        class Selectable(scripts.Script):
            def title(self):
                return "Sel"

            def before_component(self, component, **kwargs):
                SEEN.append(("before", kwargs.get("elem_id")))

        class Always(scripts.Script):
            def title(self):
                return "Always"

            def show(self, is_img2img):
                self.on_after_component(lambda oc: SEEN.append(("after", oc.component.elem_id)), elem_id="txt2img_steps")
                return scripts.AlwaysVisible
    '''})
    webui.load()
    from modules import scripts

    runner = scripts.scripts_txt2img
    assert runner.ordered_scripts("process") == []
    assert [s.title() for s in runner.ordered_scripts("before_component")] == ["Sel"]
    runner.before_component(None, elem_id="txt2img_prompt")
    runner.after_component(SimpleNamespace(elem_id="txt2img_steps"), elem_id="txt2img_steps")
    assert scripts.scripts_data[0].module.SEEN == [("before", "txt2img_prompt"), ("after", "txt2img_steps")]
