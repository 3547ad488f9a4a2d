"""An extension written as for A1111 loads and acts: scripts, always-on hooks, callbacks, basedir, preload."""
from __future__ import annotations

import os
from types import SimpleNamespace

from PIL import Image

from tests.scripting.conftest import reported

DEMO_SCRIPT = '''
    import modules.scripts as scripts
    from modules import script_callbacks, shared

    EVENTS = []
    BASEDIR = scripts.basedir()


    class DemoSelectable(scripts.Script):
        def title(self):
            return "Demo selectable"

        def run(self, p, *args):
            EVENTS.append(("run", args))
            return "processed by demo"


    class DemoAlways(scripts.Script):
        def title(self):
            return "Demo always"

        def show(self, is_img2img):
            return scripts.AlwaysVisible

        def process(self, p, *args):
            p.prompt += " [demo]"
            EVENTS.append(("process", self.tabname, args))

        def postprocess_image(self, p, pp, *args):
            pp.image = pp.image.rotate(90, expand=True)


    class OnlyImg2img(scripts.Script):
        def title(self):
            return "Only img2img"

        def show(self, is_img2img):
            return scripts.AlwaysVisible if is_img2img else False


    def app_started(demo, app):
        @app.get("/demo/ping")
        def ping():
            return {"pong": True, "basedir": BASEDIR}


    def model_loaded(sd_model):
        EVENTS.append(("model_loaded", sd_model))


    def ui_settings():
        section = ("demo", "Demo")
        shared.opts.add_option("demo_strength", shared.OptionInfo(0.5, "Demo strength", section=section))


    def before_saved(params):
        params.filename = params.filename[:-len(".png")] + "-demo.png"


    script_callbacks.on_app_started(app_started)
    script_callbacks.on_model_loaded(model_loaded)
    script_callbacks.on_ui_settings(ui_settings)
    script_callbacks.on_before_image_saved(before_saved)
'''


def test_script_classes_sorted_per_tab(webui):
    ext = webui.extension("sd-webui-demo", {"scripts/demo.py": DEMO_SCRIPT})
    loaded = webui.load()
    from modules import scripts

    assert loaded.errors == []
    assert [c.script_class.__name__ for c in scripts.scripts_data] == ["DemoSelectable", "DemoAlways", "OnlyImg2img"]
    t2i, i2i = scripts.scripts_txt2img, scripts.scripts_img2img
    assert [s.title() for s in t2i.alwayson_scripts] == ["Demo always"]
    assert [s.title() for s in i2i.alwayson_scripts] == ["Demo always", "Only img2img"]
    assert t2i.titles == ["Demo selectable"] and i2i.titles == ["Demo selectable"]
    assert t2i.script("demo ALWAYS") is t2i.alwayson_scripts[0]
    always = t2i.alwayson_scripts[0]
    assert (always.filename, always.tabname, always.is_txt2img, always.alwayson) == (
        str(ext / "scripts" / "demo.py"), "txt2img", True, True)
    module = scripts.scripts_data[0].module
    assert module.BASEDIR == str(ext)
    assert scripts.basedir() == str(webui.install)  # only while a script is loading


def test_always_on_hooks_and_selected_script(webui):
    webui.extension("sd-webui-demo", {"scripts/demo.py": DEMO_SCRIPT})
    webui.load()
    from modules import scripts
    from modules.scripts import PostprocessImageArgs

    runner = scripts.scripts_txt2img
    p = SimpleNamespace(prompt="a cat", script_args=[0], scripts=runner)
    assert runner.run(p, *p.script_args) is None  # nothing selected: normal processing
    runner.process(p)
    assert p.prompt == "a cat [demo]"
    image = Image.new("RGB", (4, 2))
    pp = PostprocessImageArgs(image)
    runner.postprocess_image(p, pp)
    assert pp.image.size == (2, 4)

    selected = runner.selectable_scripts[0]
    selected.args_from = selected.args_to = 1
    assert runner.run(p, 1) == "processed by demo"
    module = scripts.scripts_data[0].module
    assert ("run", ()) in module.EVENTS and ("process", "txt2img", ()) in module.EVENTS


def test_callbacks_app_started_model_loaded_ui_settings(webui):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    ext = webui.extension("sd-webui-demo", {"scripts/demo.py": DEMO_SCRIPT})
    webui.load()
    from modules import script_callbacks, scripts, shared

    app = FastAPI()
    script_callbacks.app_started_callback(None, app)
    assert TestClient(app).get("/demo/ping").json() == {"pong": True, "basedir": str(ext)}

    model = object()
    script_callbacks.model_loaded_callback(model)
    assert ("model_loaded", model) in scripts.scripts_data[0].module.EVENTS

    script_callbacks.ui_settings_callback()
    assert shared.opts.demo_strength == 0.5
    assert shared.opts.data_labels["demo_strength"].section == ("demo", "Demo")
    shared.opts.set("demo_strength", 0.75)
    assert shared.opts.demo_strength == 0.75


def test_before_image_saved_changes_filename(webui, tmp_path):
    webui.extension("sd-webui-demo", {"scripts/demo.py": DEMO_SCRIPT})
    webui.load()
    from modules import images

    fullfn, _txt = images.save_image(Image.new("RGB", (8, 8)), str(tmp_path / "out"), "", seed=1, prompt="a cat",
                                     info="a cat\nSteps: 20")
    assert fullfn.endswith("-demo.png") and os.path.isfile(fullfn)


def test_callback_names_carry_extension_and_file(webui):
    webui.extension("sd-webui-demo", {"scripts/demo.py": DEMO_SCRIPT})
    webui.root_script("root.py", '''
        from modules import script_callbacks
        script_callbacks.on_app_started(lambda demo, app: None)
        script_callbacks.on_app_started(lambda demo, app: None)
        script_callbacks.on_app_started(lambda demo, app: None, name="named")
    ''')
    webui.load()
    from modules import script_callbacks

    names = [c.name for c in script_callbacks.ordered_callbacks("app_started")]
    assert names == ["base/root.py/app_started", "base/root.py/app_started-1", "base/root.py/app_started/named",
                     "sd-webui-demo/demo.py/app_started"]


def test_metadata_name_is_the_canonical_name(webui):
    webui.extension("folder-name", {"scripts/demo.py": DEMO_SCRIPT, "metadata.ini": "[Extension]\nName = Nice-Name\n"})
    webui.load()
    from modules import script_callbacks, shared

    assert shared.extensions[0].canonical_name == "nice-name"
    assert script_callbacks.ordered_callbacks("model_loaded")[0].name == "nice-name/demo.py/model_loaded"


def test_preload_flag_and_bootstrap_integration(started, data_dir, monkeypatch):
    """The bootstrap with the proposed step-7 body: preload flags, scripts, runners, shared.scripts."""
    from modules import shared
    from modules.runtime import bootstrap

    def load_all_scripts_proposed(services=None) -> None:
        from modules import scripts
        from modules.postprocess.upscaler import Upscaler

        known = set(bootstrap._upscaler_class_names(Upscaler))
        scripts.load_scripts()
        if set(bootstrap._upscaler_class_names(Upscaler)) - known:
            shared.sd_upscalers = shared.upscalers.refresh()

    monkeypatch.setattr(bootstrap, "load_all_scripts", load_all_scripts_proposed)
    ext = data_dir / "extensions" / "sd-webui-flag"
    (ext / "scripts").mkdir(parents=True)
    (ext / "preload.py").write_text("def preload(parser):\n    parser.add_argument('--demo-flag', default='off')\n")
    (ext / "scripts" / "s.py").write_text(
        "import modules.scripts as scripts\nfrom modules import shared\n"
        "FLAG = shared.cmd_opts.demo_flag\n"
        "class S(scripts.Script):\n"
        "    def title(self):\n        return 'Flagged'\n"
        "    def show(self, is_img2img):\n        return scripts.AlwaysVisible\n")
    (ext / "scripts" / "broken.py").write_text("raise RuntimeError('broken on purpose')\n")
    try:
        started("--demo-flag", "on")
        from modules import scripts

        assert shared.cmd_opts.demo_flag == "on"
        # the install root's built-in scripts (X/Y/Z plot...) load before the extension's
        flagged = [d for d in scripts.scripts_data if d.path == str(ext / "scripts" / "s.py")]
        assert flagged[0].module.FLAG == "on"
        ours = [s.title() for s in scripts.scripts_txt2img.alwayson_scripts if s.filename.startswith(str(ext))]
        assert ours == ["Flagged"]
        assert [os.path.basename(p) for p, _ in shared.scripts.errors] == ["broken.py"]
        assert reported("Error loading script") == [f"Error loading script: {ext / 'scripts' / 'broken.py'}"]
    finally:
        from modules import scripts
        from modules.scripting import callback_registry

        scripts._loaded_modules.clear()
        callback_registry.clear_callbacks()
