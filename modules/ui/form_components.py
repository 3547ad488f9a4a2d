"""The gradio components A1111's UI and extensions build with (A1111's ``modules.ui_components``).

``FormRow``, ``FormColumn``, ``FormGroup``, ``FormHTML``, ``FormColorPicker``: the gradio
layout/component of the same name that sits inside a gradio form (so it lines up with
the form fields around it).  ``ToolButton``: a small one-symbol button.  ``ResizeHandleRow``:
a row the UI's script gives a drag handle.  ``DropdownMulti`` / ``DropdownEditable``:
dropdowns allowing several values / typed values.  ``InputAccordion``: an accordion that is
also an input (its value is whether it is open)::

    with InputAccordion(False, label="My feature") as enabled:
        strength = gr.Slider(...)
    return [enabled, strength]

Importing this module does not import gradio: the classes are made on first use
(the first attribute lookup of one of them, e.g. ``form_components.FormRow``), once.
Extensions reach them as ``modules.ui_components``.
"""
from __future__ import annotations

import inspect
from abc import ABCMeta
from typing import Any

__all__ = ["FormComponent", "ToolButton", "ResizeHandleRow", "FormRow", "FormColumn", "FormGroup", "FormHTML",
           "FormColorPicker", "DropdownMulti", "DropdownEditable", "InputAccordion"]


def _define(name: str, bases: tuple, namespace: dict) -> type:
    """Create a gradio component subclass without ``ComponentMeta.__new__``.

    That metaclass step writes a ``.pyi`` stub next to the defining file (here, the
    install tree) on first use; the classes below add no events, so the plain
    ``ABCMeta`` construction gives the same class without touching the disk.
    """
    gradio_base = next(b for b in bases if isinstance(b, ABCMeta))
    namespace = {"__module__": __name__, "__qualname__": name, **namespace}
    return ABCMeta.__new__(type(gradio_base), name, bases, namespace)


def _same_signature(init: Any, base: type) -> Any:
    """Give a ``*args, **kwargs`` constructor the signature of ``base.__init__``.

    Gradio sends a component's props to the browser by reading the parameter names of
    its class's ``__init__``; without this a ToolButton would arrive with no value or elem_id.
    """
    init.__signature__ = inspect.signature(base.__init__)
    return init


def _build() -> dict[str, Any]:
    import gradio as gr
    from gradio.layouts.form import Form

    class FormComponent:
        """Mixin: the component belongs inside a gradio form, next to the form fields around it."""

        webui_do_not_create_gradio_pyi_thank_you = True

        def get_expected_parent(self) -> type:
            return Form

    def block_name(name: str) -> Any:
        # the browser draws these with the stock gradio component of that name
        return lambda self: name

    def tool_button_init(self: Any, *args: Any, **kwargs: Any) -> None:
        classes = kwargs.pop("elem_classes", None) or []
        classes = [classes] if isinstance(classes, str) else list(classes)
        gr.Button.__init__(self, *args, elem_classes=["tool", *classes], **kwargs)

    def resize_row_init(self: Any, **kwargs: Any) -> None:
        gr.Row.__init__(self, **kwargs)
        self.elem_classes = [*(self.elem_classes or []), "resize-handle-row"]

    def dropdown_multi_init(self: Any, **kwargs: Any) -> None:
        gr.Dropdown.__init__(self, multiselect=True, **kwargs)

    def dropdown_editable_init(self: Any, **kwargs: Any) -> None:
        gr.Dropdown.__init__(self, allow_custom_value=True, **kwargs)

    classes: dict[str, Any] = {"FormComponent": FormComponent}
    classes["ToolButton"] = _define("ToolButton", (FormComponent, gr.Button), {
        "__doc__": "A small button holding one symbol (emoji), fitting inside gradio forms.",
        "__init__": _same_signature(tool_button_init, gr.Button), "get_block_name": block_name("button")})
    classes["ResizeHandleRow"] = _define("ResizeHandleRow", (gr.Row,), {
        "__doc__": "A ``gr.Row`` whose columns the user can resize with a drag handle.",
        "__init__": _same_signature(resize_row_init, gr.Row), "get_block_name": block_name("row")})
    for name, base, block in (("FormRow", gr.Row, "row"), ("FormColumn", gr.Column, "column"),
                              ("FormGroup", gr.Group, "group"), ("FormHTML", gr.HTML, "html"),
                              ("FormColorPicker", gr.ColorPicker, "colorpicker")):
        classes[name] = _define(name, (FormComponent, base), {
            "__doc__": f"A ``gr.{base.__name__}`` that fits inside gradio forms.", "get_block_name": block_name(block)})
    classes["DropdownMulti"] = _define("DropdownMulti", (FormComponent, gr.Dropdown), {
        "__doc__": "A dropdown allowing several values.",
        "__init__": _same_signature(dropdown_multi_init, gr.Dropdown), "get_block_name": block_name("dropdown")})
    classes["DropdownEditable"] = _define("DropdownEditable", (FormComponent, gr.Dropdown), {
        "__doc__": "A dropdown that also accepts typed values.",
        "__init__": _same_signature(dropdown_editable_init, gr.Dropdown), "get_block_name": block_name("dropdown")})
    classes["InputAccordion"] = _define("InputAccordion", (gr.Checkbox,), _input_accordion_namespace(gr))
    return classes


def _input_accordion_namespace(gr: Any) -> dict[str, Any]:
    counter = {"next": 0}

    def init(self: Any, value: bool = False, **kwargs: Any) -> None:
        from gradio.context import Context

        if kwargs.get("render") is False and Context.root_block is None:
            # gradio re-creates an output component from its recorded (checkbox) arguments to apply an
            # update, outside any Blocks: only the checkbox part is wanted then
            gr.Checkbox.__init__(self, value, **kwargs)
            self.accordion_id = str(kwargs.get("elem_id") or "").removesuffix("-checkbox") or None
            self.accordion = None
            return
        self.accordion_id = kwargs.get("elem_id")
        if self.accordion_id is None:
            self.accordion_id = f"input-accordion-{counter['next']}"
            counter["next"] += 1
        # the value lives in a checkbox kept in the page but hidden; the accordion shows it
        checkbox_kwargs = {**kwargs, "elem_id": f"{self.accordion_id}-checkbox", "visible": "hidden"}
        gr.Checkbox.__init__(self, value, **checkbox_kwargs)
        accordion_kwargs = {**kwargs, "elem_id": self.accordion_id, "label": kwargs.get("label", "Accordion"),
                            "elem_classes": ["input-accordion"], "open": value}
        accordion_kwargs.pop("value", None)
        accordion_args = {k: v for k, v in accordion_kwargs.items()
                          if k in ("label", "open", "visible", "elem_id", "elem_classes", "render", "key")}
        self.accordion = gr.Accordion(**accordion_args)
        # opening/closing the accordion sets the value; a new value (infotext paste) opens/closes it
        self.accordion.expand(fn=lambda: True, inputs=None, outputs=[self], queue=False, show_progress="hidden")
        self.accordion.collapse(fn=lambda: False, inputs=None, outputs=[self], queue=False, show_progress="hidden")
        self.change(fn=lambda checked: gr.update(open=bool(checked)), inputs=[self], outputs=[self.accordion],
                    queue=False, show_progress="hidden")

    def extra(self: Any) -> Any:
        """A column shown in the accordion's label row, for small controls next to the title::

            with InputAccordion(False, label="Feature") as acc:
                with acc.extra():
                    FormHTML(value="...", min_width=0)
        """
        return gr.Column(elem_id=self.accordion_id + "-extra", elem_classes="input-accordion-extra", min_width=0)

    def enter(self: Any) -> Any:
        self.accordion.__enter__()
        return self

    def exit_(self: Any, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        self.accordion.__exit__(exc_type, exc_val, exc_tb)

    return {
        "__doc__": "An accordion usable as an input: its value is True while open.  Use it as a context manager "
                   "to fill the accordion; ``.accordion`` is the ``gr.Accordion``, ``.extra()`` its label row.",
        "__init__": _same_signature(init, gr.Checkbox), "extra": extra, "__enter__": enter, "__exit__": exit_,
        "get_block_name": lambda self: "checkbox",
    }


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    built = _build()
    globals().update(built)
    return built[name]
