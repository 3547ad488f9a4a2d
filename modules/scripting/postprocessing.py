"""Postprocessing scripts (A1111's ``modules.scripts_postprocessing``): the Extras tab's operations.

A ``scripts/*.py`` file may define subclasses of :class:`ScriptPostprocessing`
(upscale, face restoration, captioning...).  The Extras tab runs every enabled
one on each picture, in the order of setting ``postprocessing_operation_order``
then their :attr:`ScriptPostprocessing.order`; setting
``postprocessing_disable_in_extras`` hides some there, and
``postprocessing_enable_in_main_ui`` also runs some after txt2img/img2img
(:mod:`modules.scripting.auto_postprocessing`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

from modules.core.services import Services, current_services
from modules.postprocess.operation_passes import run_passes
from modules.scripting.reporting import report, wrap_call
from modules.scripting.runner_ui import ARGS_LAYOUT_LOCK


@dataclass
class PostprocessedImageSharedInfo:
    """Values every copy of one picture shares while it is postprocessed (set in ``process_firstpass``)."""

    target_width: int | None = None
    target_height: int | None = None


class PostprocessedImage:
    """The picture going through the postprocessing scripts, and what they say about it."""

    def __init__(self, image: Any) -> None:
        self.image = image
        """The PIL image; a script replaces it with its result."""
        self.info: dict[str, Any] = {}
        """Infotext entries the scripts add (``{"Postprocess upscale by": 2}``)."""
        self.shared = PostprocessedImageSharedInfo()
        """Values shared with this picture's extra copies (e.g. the target size of an upscale)."""
        self.extra_images: list = []
        """Additional pictures a script produced; each is postprocessed by the following scripts and saved too."""
        self.nametags: list[str] = []
        """Words added to the saved file's name for an extra picture (``-flipped``)."""
        self.disable_processing = False
        """If True, the following scripts leave this picture alone."""
        self.caption: str | None = None
        """A caption to save next to the picture (``.txt``)."""

    def get_suffix(self, used_suffixes: dict | None = None) -> str:
        """``-tag1-tag2`` from :attr:`nametags`, with ``-N`` added when ``used_suffixes`` already has it."""
        used_suffixes = {} if used_suffixes is None else used_suffixes
        suffix = "-".join(self.nametags)
        if suffix:
            suffix = "-" + suffix
        if suffix not in used_suffixes:
            used_suffixes[suffix] = 1
            return suffix
        for i in range(1, 100):
            proposed = f"{suffix}-{i}"
            if proposed not in used_suffixes:
                used_suffixes[proposed] = 1
                return proposed
        return suffix

    def create_copy(self, new_image: Any, *, nametags: list[str] | None = None,
                    disable_processing: bool = False) -> "PostprocessedImage":
        """A new picture sharing :attr:`shared`, with copies of :attr:`nametags` (plus ``nametags``) and :attr:`info`."""
        pp = PostprocessedImage(new_image)
        pp.shared = self.shared
        pp.nametags = self.nametags.copy() + list(nametags or [])
        pp.info = self.info.copy()
        pp.disable_processing = disable_processing
        return pp


class ScriptPostprocessing:
    """Base class of a postprocessing operation; override :attr:`name`, :meth:`ui` and :meth:`process`."""

    filename: str | None = None
    """Path of the file the class was loaded from (set by the runner)."""
    controls: dict | None = None
    """What :meth:`ui` returned."""
    args_from: int | None = None
    args_to: int | None = None

    order = 1000
    """Position among the operations when setting ``postprocessing_operation_order`` does not name this one."""

    name: str | None = None
    """The operation's name (settings and the API's ``scripts_args`` refer to it)."""

    group: Any = None
    """The gradio row holding the operation's UI."""

    def ui(self) -> dict:
        """Create the operation's gradio components; return ``{argument name: component}``.

        The values arrive in :meth:`process` as keyword arguments of those names.
        """
        return {}

    def process_firstpass(self, pp: PostprocessedImage, **args: Any) -> None:
        """Called for every operation before any :meth:`process`: look at the picture and set shared fields
        (``pp.shared.target_width``...) that other operations read."""

    def process(self, pp: PostprocessedImage, **args: Any) -> None:
        """Postprocess ``pp.image`` (replace it), add ``pp.info`` entries, ``pp.extra_images``, ``pp.caption``."""

    def image_changed(self) -> None:
        """The input picture of the Extras tab changed (drop anything cached about the previous one)."""


def _isolated(script: ScriptPostprocessing, method: str, pp: PostprocessedImage, process_args: dict) -> None:
    # the arguments are the script's own names, so none may be taken by a helper's keyword parameters
    try:
        getattr(script, method)(pp, **process_args)
    except Exception:
        report(f"Error running {method}: {script.filename}", exc_info=True)


class ScriptPostprocessingRunner:
    """The postprocessing operations and their run over one picture.

    ``services`` give the settings (order, disabled operations) and the job state; the installed ones when not
    given (A1111 builds runners without arguments).
    """

    def __init__(self, services: Services | None = None) -> None:
        self.scripts: list[ScriptPostprocessing] | None = None
        self.ui_created = False
        self._services = services

    @property
    def services(self) -> Services:
        return self._services if self._services is not None else current_services()

    def initialize_scripts(self, scripts_data: Iterable[Any]) -> None:
        """Instantiate each postprocessing class found at load (``ScriptClassData``)."""
        self.scripts = []
        for script_data in scripts_data:
            try:
                script = script_data.script_class()
            except Exception:
                report(f"Error # failed to initialize postprocessing script {script_data.path}: ", exc_info=True)
                continue
            script.filename = script_data.path
            # the old built-in simple upscaler is superseded by the Upscale operation
            if script.name == "Simple Upscale":
                continue
            self.scripts.append(script)

    def _ensure_scripts(self) -> list[ScriptPostprocessing]:
        if self.scripts is None:
            self.initialize_scripts(self.services.postprocessing_scripts_data or [])
        return self.scripts or []

    def _opt(self, key: str) -> list:
        opts = self.services.opts
        return list(getattr(opts, key, None) or []) if opts is not None else []

    def scripts_in_preferred_order(self) -> list[ScriptPostprocessing]:
        """Enabled operations: those of ``postprocessing_operation_order`` first (in its order), then by ``order``, name."""
        scripts = self._ensure_scripts()
        order = self._opt("postprocessing_operation_order")
        disabled = set(self._opt("postprocessing_disable_in_extras"))
        enabled = [s for s in scripts if s.name not in disabled]

        def key(item: tuple[int, ScriptPostprocessing]) -> tuple:
            index, script = item
            position = order.index(script.name) if script.name in order else len(scripts)
            return position, script.order, script.name or "", index

        return [s for _, s in sorted(enumerate(enabled), key=key)]

    def create_script_ui(self, script: ScriptPostprocessing, inputs: list) -> None:
        """Build one operation's UI and record its argument range in ``inputs``."""
        script.args_from = len(inputs)
        script.args_to = len(inputs)
        script.controls = wrap_call(script.ui, script.filename, "ui") or {}
        for control in script.controls.values():
            control.custom_script_source = os.path.basename(script.filename or "")
        inputs += list(script.controls.values())
        script.args_to = len(inputs)

    def setup_ui(self) -> list:
        """Build every operation's UI (each in a row) in the current gradio context; returns the components."""
        import gradio as gr

        inputs: list = []
        for script in self.scripts_in_preferred_order():
            with gr.Row() as group:
                self.create_script_ui(script, inputs)
            script.group = group
        self.ui_created = True
        return inputs

    def run(self, pp: PostprocessedImage, args: list | tuple) -> None:
        """Run every operation on ``pp`` (first passes, then ``process`` on it and on each extra picture).

        Extra pictures produced along the way end up in ``pp.extra_images``.  A
        failing operation is reported with its file and the next one runs.
        """
        state = self.services.state
        prepared = []
        for script in self.scripts_in_preferred_order():
            values = args[script.args_from:script.args_to] if script.args_from is not None else ()
            prepared.append((script, dict(zip(script.controls or {}, values))))

        run_passes(pp, prepared, _isolated, state)

    def create_args_for_run(self, scripts_args: dict[str, dict[str, Any]]) -> list:
        """Positional arguments for :meth:`run` from ``{operation name: {argument name: value}}`` (the API's form)."""
        with ARGS_LAYOUT_LOCK:  # gradio's Blocks context is process-wide: one layout built at a time
            if not self.ui_created:
                import gradio as gr

                with gr.Blocks(analytics_enabled=False):
                    self.setup_ui()
        scripts = self.scripts_in_preferred_order()
        args: list = [None] * max([0, *(s.args_to or 0 for s in scripts)])
        for script in scripts:
            values = scripts_args.get(script.name or "")
            if values is None:
                continue
            for i, name in enumerate(script.controls or {}):
                args[script.args_from + i] = values.get(name, None)
        return args

    def image_changed(self) -> None:
        """Tell every operation the Extras input picture changed."""
        for script in self.scripts_in_preferred_order():
            wrap_call(script.image_changed, script.filename, "image_changed")
