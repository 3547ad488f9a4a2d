"""Postprocessing operations run inside txt2img/img2img (setting ``postprocessing_enable_in_main_ui``).

Each chosen :class:`~modules.scripting.postprocessing.ScriptPostprocessing` is
wrapped in an always-on ``Script`` whose ``postprocess_image`` runs the
operation on every generated picture and adds its infotext entries to the job
(A1111's ``modules.scripts_auto_postprocessing``).
"""
from __future__ import annotations

from typing import Any, Iterable

from modules.core.services import current_services
from modules.scripting.importing import ScriptClassData
from modules.scripting.hook_args import PostprocessImageArgs
from modules.scripting.postprocessing import PostprocessedImage, ScriptPostprocessing
from modules.scripting.script_base import AlwaysVisible, Script


class ScriptPostprocessingForMainUI(Script):
    """An always-on script running one postprocessing operation on each picture of a job."""

    def __init__(self, script_postproc: ScriptPostprocessing) -> None:
        self.script = script_postproc
        self.postprocessing_controls: dict | None = None

    def title(self) -> str:
        return self.script.name or ""

    def show(self, is_img2img: bool) -> Any:
        return AlwaysVisible

    def ui(self, is_img2img: bool) -> list:
        self.postprocessing_controls = self.script.ui() or {}
        return list(self.postprocessing_controls.values())

    def postprocess_image(self, p: Any, script_pp: PostprocessImageArgs, *args: Any) -> None:
        """Run the operation's first pass and ``process`` on the picture; its ``info`` joins the infotext."""
        args_dict = dict(zip(self.postprocessing_controls or {}, args))
        pp = PostprocessedImage(script_pp.image)
        self.script.process_firstpass(pp, **args_dict)
        self.script.process(pp, **args_dict)
        extra = getattr(p, "extra_generation_params", None)
        if isinstance(extra, dict):
            extra.update(pp.info)
        script_pp.image = pp.image


def create_auto_preprocessing_script_data(opts: Any = None,
                                          postprocessing_scripts_data: Iterable[ScriptClassData] | None = None,
                                          ) -> list[ScriptClassData]:
    """``ScriptClassData`` entries (constructors of wrappers) for the operations chosen for the main UI.

    ``opts`` (setting ``postprocessing_enable_in_main_ui``) and the postprocessing classes found at load
    default to the installed services' (A1111 calls it without arguments).
    """
    services = current_services()
    opts = services.opts if opts is None else opts
    found = list(services.postprocessing_scripts_data if postprocessing_scripts_data is None
                 else postprocessing_scripts_data)
    chosen = list(getattr(opts, "postprocessing_enable_in_main_ui", None) or []) if opts is not None else []
    result = []
    for name in chosen:
        data = next((x for x in found if x.script_class.name == name), None)
        if data is None:
            continue

        def construct(data: ScriptClassData = data) -> ScriptPostprocessingForMainUI:
            return ScriptPostprocessingForMainUI(data.script_class())

        result.append(ScriptClassData(construct, data.path, data.basedir, data.module))  # type: ignore[arg-type]
    return result
