"""Building the scripts' UI: global argument indexes, element ids, API info, defaults; ui_components."""
from __future__ import annotations

import os
import subprocess
import sys

from modules.scripting.script_base import AlwaysVisible, Script, ScriptBuiltinUI

UI_SCRIPTS = '''
    import gradio as gr
    import modules.scripts as scripts
    from modules.ui_components import InputAccordion


    class Always(scripts.Script):
        def title(self):
            return "My Always-On!"

        def show(self, is_img2img):
            return scripts.AlwaysVisible

        def ui(self, is_img2img):
            with InputAccordion(False, label="Always") as enabled:
                strength = gr.Slider(minimum=0, maximum=2, step=0.1, value=1.0, label="Strength",
                                     elem_id=self.elem_id("strength"))
            self.infotext_fields = [(strength, "Always strength")]
            return [enabled, strength]


    class Pick(scripts.Script):
        def title(self):
            return "Pick one"

        def ui(self, is_img2img):
            return [gr.Dropdown(choices=["x", "y"], value="y", label="Which", elem_id=self.elem_id("which"))]

        def run(self, p, which):
            return which


    class NoUi(scripts.Script):
        def title(self):
            return "No UI"

        def show(self, is_img2img):
            return scripts.AlwaysVisible
'''


def build(webui):
    import gradio as gr

    webui.extension("ui", {"scripts/ui.py": UI_SCRIPTS})
    webui.load()
    from modules import scripts

    runner = scripts.scripts_txt2img
    runner.prepare_ui()
    with gr.Blocks():
        inputs = runner.setup_ui()
    return runner, inputs


def test_setup_ui_numbers_arguments_globally(webui):
    runner, inputs = build(webui)
    always, noui = runner.alwayson_scripts
    pick = runner.selectable_scripts[0]
    assert inputs[0].elem_id == "script_list" and inputs[0].choices[0][0] == "None"
    assert (always.args_from, always.args_to) == (1, 3)
    assert (noui.args_from, noui.args_to) == (3, 3)
    assert (pick.args_from, pick.args_to) == (3, 4)
    assert len(inputs) == 4
    assert always.name == "my always-on!" and always.controls[1].elem_id == "script_txt2img_my_alwayson_strength"
    assert pick.controls[0].elem_id == "script_txt2img_pick_one_which"
    assert always.group is not None and pick.group is not None
    assert always.controls[1].custom_script_source == "ui.py"
    info = always.api_info
    assert (info.name, info.is_alwayson, info.is_img2img) == ("my always-on!", True, False)
    assert [a.label for a in info.args] == ["Always", "Strength"]
    assert (info.args[1].minimum, info.args[1].maximum, info.args[1].value) == (0, 2, 1.0)
    assert pick.api_info.args[0].choices == ["x", "y"]
    assert any(name == "Always strength" for _c, name in runner.infotext_fields)

    assert runner.run(object(), 1, False, 1.0, "x") == "x"
    args = runner.set_named_arg([1, False, 1.0, "y"], "my always-on!", "strength", 1.5, fuzzy=True)
    assert args == [1, False, 1.5, "y"]
    assert runner.set_named_arg((0, False, 1.0, "y"), "pick one", pick.controls[0].elem_id, "x") == (0, False, 1.0, "x")


def test_default_script_args_without_a_visible_ui(webui):
    webui.extension("ui", {"scripts/ui.py": UI_SCRIPTS})
    webui.load()
    from modules import scripts

    assert scripts.scripts_img2img.default_script_args() == [0, False, 1.0, "y"]


def test_elem_id_rules():
    class Both(Script):
        def title(self):
            return "X/Y/Z plot"

    class OnlyTxt(Script):
        def title(self):
            return "Hello  World"

        def show(self, is_img2img):
            return AlwaysVisible if not is_img2img else False

    class Builtin(ScriptBuiltinUI):
        def title(self):
            return "Seed"

    both, only, builtin = Both(), OnlyTxt(), Builtin()
    both.is_img2img = True
    assert both.elem_id("x_type") == "script_img2img_xyz_plot_x_type"
    assert only.elem_id("a") == "script_hello__world_a"
    assert builtin.elem_id("seed") == "txt2img_seed" and builtin.setup_for_ui_only


def test_ui_components_module_imports_without_gradio():
    code = "import sys, modules.ui_components, modules.scripts, modules.script_callbacks, modules.scripts_postprocessing\n" \
           "print(','.join(m for m in ('gradio', 'torch', 'fastapi') if m in sys.modules) or 'none')"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


def test_ui_components_behave_as_their_gradio_parents(tmp_path):
    import gradio as gr

    from modules import ui_components as uc

    with gr.Blocks():
        with uc.FormRow(elem_id="row"):
            button = uc.ToolButton(value="\U0001f504", elem_id="refresh", elem_classes="extra")
            multi = uc.DropdownMulti(choices=["a", "b"], value=["a"], label="m")
            editable = uc.DropdownEditable(choices=["a"], value="a", label="e")
        with uc.ResizeHandleRow() as row:
            with uc.FormColumn():
                uc.FormHTML(value="<b>x</b>")
            with uc.FormGroup():
                uc.FormColorPicker(value="#ffffff")
        with uc.InputAccordion(True, label="Feature", elem_id="feat") as accordion:
            with accordion.extra():
                uc.FormHTML(value="extra")
    assert isinstance(button, gr.Button) and button.get_block_name() == "button"
    assert button.elem_classes == ["tool", "extra"]
    assert multi.multiselect and editable.allow_custom_value
    assert "resize-handle-row" in row.elem_classes and row.get_block_name() == "row"
    assert isinstance(accordion, gr.Checkbox) and accordion.value is True and accordion.get_block_name() == "checkbox"
    assert accordion.elem_id == "feat-checkbox" and accordion.accordion.elem_id == "feat" and accordion.accordion.open
    assert not os.path.exists(os.path.join(os.path.dirname(uc.__file__), "ui_components.pyi"))
