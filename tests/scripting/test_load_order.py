"""Load order from metadata.ini (Requires/Before/After), callback order, and removing callbacks on reload."""
from __future__ import annotations

import os

from tests.scripting.conftest import reported

RECORD = "import builtins\nbuiltins._load_order.append(__file__)\n"


def load_order(webui, **kwargs) -> list[str]:
    import builtins

    builtins._load_order = []
    try:
        loaded = webui.load(**kwargs)
        assert loaded.errors == []
        return [_short(p) for p in builtins._load_order]
    finally:
        del builtins._load_order


def _short(path: str) -> str:
    parts = path.split(os.sep)
    return "/".join(parts[-3:]) if parts[-3] != "install" else "root/" + parts[-1]


def test_default_order_root_builtins_then_user_extensions(webui):
    webui.root_script("r.py", RECORD)
    webui.extension("zeta", {"scripts/z.py": RECORD})
    webui.extension("alpha", {"scripts/b.py": RECORD, "scripts/a.py": RECORD})
    webui.extension("Builtin", {"scripts/x.py": RECORD}, builtin=True)
    assert load_order(webui) == ["root/r.py", "Builtin/scripts/x.py", "alpha/scripts/a.py", "alpha/scripts/b.py",
                                 "zeta/scripts/z.py"]


def test_extension_requires_orders_and_reports_missing(webui):
    webui.extension("alpha", {"scripts/a.py": RECORD, "metadata.ini": "[Extension]\nRequires = zeta, nowhere\n"})
    webui.extension("zeta", {"scripts/z.py": RECORD})
    assert load_order(webui) == ["zeta/scripts/z.py", "alpha/scripts/a.py"]
    assert reported() == ['Extension "alpha" requires "nowhere" which is not installed.']


def test_requires_alternatives_and_disabled_requirement(webui):
    webui.extension("alpha", {"scripts/a.py": RECORD, "metadata.ini": "[Extension]\nRequires = gone|zeta, off\n"})
    webui.extension("off", {"scripts/o.py": RECORD})
    webui.extension("zeta", {"scripts/z.py": RECORD})
    assert load_order(webui, settings={"disabled_extensions": ["off"]}) == ["zeta/scripts/z.py", "alpha/scripts/a.py"]
    assert reported() == ['Extension "alpha" requires "off" which is disabled.']


def test_script_before_after_and_requires(webui):
    webui.extension("alpha", {"scripts/a1.py": RECORD, "scripts/a2.py": RECORD, "metadata.ini": """
        [scripts/a1.py]
        After = beta/b.py
        Requires = beta missing-ext

        [scripts/a2.py]
        Before = alpha/a1.py
    """.replace("\n        ", "\n")})
    webui.extension("beta", {"scripts/b.py": RECORD})
    webui.extension("gamma", {"scripts/g.py": RECORD, "metadata.ini": "[scripts]\nBefore = alpha\n"})
    # a1 waits for b, a2 and g; a2 for g (gamma's Before names the whole of alpha); depth-first in listing order
    assert load_order(webui) == ["beta/scripts/b.py", "gamma/scripts/g.py", "alpha/scripts/a2.py",
                                 "alpha/scripts/a1.py"]
    assert reported() == ['Script "alpha/a1.py" requires "missing-ext" to be loaded, but it is not.']


def test_after_naming_an_extension_and_builtin_script_names(webui):
    webui.extension("alpha", {"scripts/a.py": RECORD, "metadata.ini": "[scripts/a.py]\nAfter = zeta, builtin/lora/l.py\n"})
    webui.extension("zeta", {"scripts/z1.py": RECORD, "scripts/z2.py": RECORD})
    webui.extension("Lora", {"scripts/l.py": RECORD}, builtin=True)
    webui.extension("late-builtin", {"scripts/m.py": RECORD, "metadata.ini": "[scripts]\nAfter = alpha\n"}, builtin=True)
    assert load_order(webui) == ["Lora/scripts/l.py", "zeta/scripts/z1.py", "zeta/scripts/z2.py", "alpha/scripts/a.py",
                                 "late-builtin/scripts/m.py"]


def test_cycle_is_reported_and_everything_still_loads(webui):
    webui.extension("alpha", {"scripts/a.py": RECORD, "metadata.ini": "[scripts]\nAfter = beta\n"})
    webui.extension("beta", {"scripts/b.py": RECORD, "metadata.ini": "[scripts]\nAfter = alpha\n"})
    assert sorted(load_order(webui)) == ["alpha/scripts/a.py", "beta/scripts/b.py"]
    assert any("cycle" in m for m in reported())


def test_duplicate_canonical_name_discards_the_later_extension(webui):
    webui.extension("Lora", {"scripts/l.py": RECORD}, builtin=True)
    webui.extension("lora", {"scripts/copy.py": RECORD})
    assert load_order(webui) == ["Lora/scripts/l.py"]


CALLBACKS = '''
    from modules import script_callbacks
    import builtins
    script_callbacks.on_model_loaded(lambda m: builtins._calls.append({tag!r}), name={name!r})
'''


def test_callback_order_from_metadata_and_user_priority(webui):
    import builtins

    webui.extension("alpha", {"scripts/a.py": CALLBACKS.format(tag="alpha", name="cb"), "metadata.ini": """
        [callbacks/alpha/a.py/model_loaded/cb]
        After = gamma/g.py/model_loaded/cb

        [callbacks/beta/b.py/model_loaded/cb]
        Before = alpha/a.py/model_loaded/cb
    """.replace("\n        ", "\n")})
    webui.extension("beta", {"scripts/b.py": CALLBACKS.format(tag="beta", name="cb")})
    webui.extension("gamma", {"scripts/g.py": CALLBACKS.format(tag="gamma", name="cb"), "metadata.ini": """
        [callbacks/gamma/g.py/model_loaded/cb]
        Before = beta/b.py/model_loaded/cb
    """.replace("\n        ", "\n")})
    webui.load()
    from modules import script_callbacks, shared
    from modules.scripting import callback_registry

    builtins._calls = []
    try:
        script_callbacks.model_loaded_callback(None)
        # alpha waits for gamma; gamma goes before beta; alpha's section about beta's callback is refused
        assert builtins._calls == ["gamma", "alpha", "beta"]
        assert reported() == ["Callback order section for extension alpha is referencing the wrong extension: "
                              "callbacks/beta/b.py/model_loaded/cb"]

        shared.opts.data["prioritized_callbacks_model_loaded"] = ["beta/b.py/model_loaded/cb"]
        callback_registry.forget_order_cache()
        builtins._calls = []
        script_callbacks.model_loaded_callback(None)
        assert builtins._calls == ["beta", "gamma", "alpha"]
    finally:
        del builtins._calls


def test_script_hook_order_follows_callbacks_sections(webui):
    hook = '''
        import modules.scripts as scripts
        import builtins

        class {cls}(scripts.Script):
            def title(self):
                return {cls!r}

            def show(self, is_img2img):
                return scripts.AlwaysVisible

            def process(self, p, *args):
                builtins._calls.append({cls!r})
    '''
    webui.extension("alpha", {"scripts/a.py": hook.format(cls="A"),
                              "metadata.ini": "[callbacks/alpha/a.py/script_process/A]\nAfter = beta/b.py/script_process/B\n"})
    webui.extension("beta", {"scripts/b.py": hook.format(cls="B")})
    webui.load()
    import builtins

    from modules import scripts

    builtins._calls = []
    try:
        scripts.scripts_txt2img.process(object())
        assert builtins._calls == ["B", "A"]
        names = [c.name for c in scripts.scripts_txt2img.ordered_callbacks("process")]
        assert names == ["beta/b.py/script_process/B", "alpha/a.py/script_process/A"]
    finally:
        del builtins._calls


def test_callbacks_order_settings_lists_categories(webui):
    webui.extension("alpha", {"scripts/a.py": CALLBACKS.format(tag="alpha", name=None), "scripts/s.py": '''
        import modules.scripts as scripts

        class A(scripts.Script):
            def title(self):
                return "A"

            def show(self, is_img2img):
                return scripts.AlwaysVisible

            def postprocess(self, p, processed, *args):
                pass
    '''})
    webui.load()
    from modules import script_callbacks

    options = script_callbacks.callbacks_order_settings()
    info = options["prioritized_callbacks_model_loaded"]
    assert info.resolved_component_args() == {"choices": ["alpha/a.py/model_loaded"], "multiselect": True}
    assert options["prioritized_callbacks_script_postprocess"].resolved_component_args()["choices"] == [
        "alpha/s.py/script_postprocess/A"]
    assert "prioritized_callbacks_app_started" not in options


RELOADABLE = '''
    from modules import script_callbacks
    import builtins
    script_callbacks.remove_current_script_callbacks()
    script_callbacks.on_model_loaded(builtins._calls.append)
'''


def test_remove_current_script_callbacks_and_reload(webui):
    import builtins

    from modules.scripting.importing import load_module

    ext = webui.extension("alpha", {"scripts/a.py": RELOADABLE})
    builtins._calls = []
    try:
        webui.load()
        from modules import script_callbacks, scripts

        # the same file executed again (A1111's reload of a module body) replaces its callbacks
        load_module(str(ext / "scripts" / "a.py"))
        assert len(script_callbacks.ordered_callbacks("model_loaded")) == 1
        # a full reload starts from a clean registry and imports the file afresh
        scripts.reload_scripts()
        assert len(script_callbacks.ordered_callbacks("model_loaded")) == 1
        script_callbacks.model_loaded_callback("model")
        assert builtins._calls == ["model"]

        script_callbacks.remove_callbacks_for_function(builtins._calls.append)
        assert script_callbacks.ordered_callbacks("model_loaded") == []
    finally:
        del builtins._calls
