"""``ScriptRunner``: the scripts of one tab (txt2img or img2img) and the calls into them.

The processing layer holds a runner as ``p.scripts`` and the argument values
of the tab as ``p.script_args`` (index 0 = the "Script" dropdown's index, then
each script's values between its ``args_from`` and ``args_to``).  It calls the
hook methods below in the order documented in :mod:`modules.scripting.script_base`.
Each call into a script is isolated: an exception is reported with the script's
file and the job goes on with the next script.  Only :meth:`ScriptRunner.run`
(the selected script doing the whole job) lets its exception through, so the
job fails visibly as in A1111.
"""
from __future__ import annotations

from typing import Any, Iterable

from modules.core.services import Services, current_services
from modules.scripting import callback_registry
from modules.scripting.auto_postprocessing import create_auto_preprocessing_script_data
from modules.scripting.hook_args import (
    MaskBlendArgs,
    OnComponent,
    PostprocessBatchListArgs,
    PostprocessImageArgs,
    PostProcessMaskOverlayArgs,
    PostSampleArgs,
)
from modules.scripting.importing import load_module
from modules.scripting.reporting import report, wrap_call
from modules.scripting.runner_ui import RunnerUi
from modules.scripting.script_base import AlwaysVisible, Script


class ScriptRunner(RunnerUi):
    """The scripts of one tab: selectable ones (the Script dropdown) and always-on ones (hooks run every job)."""

    callback_names: tuple[str, ...] = (
        "before_process", "process", "before_process_batch", "after_extra_networks_activate", "process_batch",
        "postprocess", "postprocess_batch", "postprocess_batch_list", "post_sample", "on_mask_blend",
        "postprocess_image", "postprocess_maskoverlay", "postprocess_image_after_composite",
        "before_component", "after_component",
    )
    """Hooks whose order the Settings tab can change (``prioritized_callbacks_script_<hook>``)."""

    def __init__(self, services: Services | None = None) -> None:
        self.services = services
        """The services whose scripts this runner holds (the installed ones when None, as A1111 builds runners)."""
        self.scripts: list[Script] = []
        """Every script shown in the tab (always-on first in load order, interleaved as loaded)."""
        self.selectable_scripts: list[Script] = []
        """Scripts of the Script dropdown; dropdown index ``i`` (1-based) is ``selectable_scripts[i - 1]``."""
        self.alwayson_scripts: list[Script] = []
        """Scripts whose hooks run in every job."""
        self.titles: list[str] = []
        """Titles of :attr:`selectable_scripts` (the dropdown's choices after "None")."""
        self.title_map: dict[str, Script] = {}
        """Lower-cased title -> script, for :meth:`script`."""
        self.infotext_fields: list = []
        self.paste_field_names: list = []
        self.inputs: list = [None]
        """The tab's script argument components; index 0 is the Script dropdown."""
        self.callback_map: dict[str, tuple[int, list]] = {}
        self.on_before_component_elem_id: dict[str, list] = {}
        """elem_id -> ``(callback, script)`` pairs to call before that component is created."""
        self.on_after_component_elem_id: dict[str, list] = {}
        """elem_id -> ``(callback, script)`` pairs to call after that component is created."""
        self.is_img2img = False

    # --- building -------------------------------------------------------------------------------------------

    def initialize_scripts(self, is_img2img: bool, scripts_data: Iterable[Any] | None = None) -> None:
        """Instantiate every script class for this tab and sort them by what :meth:`Script.show` returns.

        ``scripts_data`` defaults to the main-UI postprocessing wrappers followed by the services'
        ``scripts_data`` (the classes found at load: A1111's ``modules.scripts.scripts_data``).
        """
        if scripts_data is None:
            services = self.services if self.services is not None else current_services()
            scripts_data = (create_auto_preprocessing_script_data(services.opts, services.postprocessing_scripts_data)
                            + list(services.scripts_data or []))

        self.is_img2img = is_img2img
        self.scripts.clear()
        self.alwayson_scripts.clear()
        self.selectable_scripts.clear()
        for script_data in scripts_data:
            try:
                script = script_data.script_class()
            except Exception:
                report(f"Error # failed to initialize Script {script_data.path}: ", exc_info=True)
                continue
            script.filename = script_data.path
            script.is_txt2img = not is_img2img
            script.is_img2img = is_img2img
            script.tabname = "img2img" if is_img2img else "txt2img"

            visibility = wrap_call(script.show, script.filename, "show", script.is_img2img, default=False)
            if visibility is AlwaysVisible:
                self.scripts.append(script)
                self.alwayson_scripts.append(script)
                script.alwayson = True
            elif visibility:
                self.scripts.append(script)
                self.selectable_scripts.append(script)

        self._refresh_titles()
        self.callback_map.clear()
        self.apply_on_before_component_callbacks()

    def _refresh_titles(self) -> None:
        all_titles = [wrap_call(s.title, s.filename, "title") or s.filename or "" for s in self.scripts]
        self.title_map = {title.lower(): script for title, script in zip(all_titles, self.scripts)}
        self.titles = [wrap_call(s.title, s.filename, "title") or f"{s.filename} [error]" for s in self.selectable_scripts]
        for title, script in zip(all_titles, self.scripts):
            if script.name is None:
                script.name = title.lower()

    def apply_on_before_component_callbacks(self) -> None:
        """Move the scripts' ``on_before_component``/``on_after_component`` registrations into the runner's maps."""
        for script in self.scripts:
            on_before = script.on_before_component_elem_id or []
            on_after = script.on_after_component_elem_id or []
            for elem_id, callback in on_before:
                self.on_before_component_elem_id.setdefault(elem_id, []).append((callback, script))
            for elem_id, callback in on_after:
                self.on_after_component_elem_id.setdefault(elem_id, []).append((callback, script))
            on_before.clear()
            on_after.clear()

    # --- lookups --------------------------------------------------------------------------------------------

    def script(self, title: str) -> Script | None:
        """The script titled ``title`` (case-insensitive), or ``None``."""
        return self.title_map.get(title.lower())

    def list_scripts_for_method(self, method_name: str) -> list[Script]:
        """Scripts a hook applies to: every script for the component hooks, else the always-on ones."""
        if method_name in ("before_component", "after_component"):
            return self.scripts
        return self.alwayson_scripts

    def create_ordered_callbacks_list(self, method_name: str, *, enable_user_sort: bool = True) -> list:
        """The scripts overriding ``method_name`` as callbacks named ``<ext>/<file>/script_<hook>/<class>``, ordered."""
        category = f"script_{method_name}"
        callbacks: list = []
        base = getattr(Script, method_name, None)
        for script in self.list_scripts_for_method(method_name):
            if getattr(script.__class__, method_name, None) == base:
                continue
            callback_registry.add_callback(callbacks, script, category=category, name=script.__class__.__name__,
                                           filename=script.filename or "unknown file")
        return callback_registry.sort_callbacks(category, callbacks, enable_user_sort=enable_user_sort)

    def ordered_callbacks(self, method_name: str, *, enable_user_sort: bool = True) -> list:
        """:meth:`create_ordered_callbacks_list`, cached until the number of scripts changes."""
        script_list = self.list_scripts_for_method(method_name)
        category = f"script_{method_name}"
        count, callbacks = self.callback_map.get(category, (-1, None))
        if callbacks is None or count != len(script_list):
            callbacks = self.create_ordered_callbacks_list(method_name, enable_user_sort=enable_user_sort)
            self.callback_map[category] = (len(script_list), callbacks)
        return callbacks

    def ordered_scripts(self, method_name: str) -> list[Script]:
        """The scripts to call for ``method_name``, in calling order."""
        return [c.callback for c in self.ordered_callbacks(method_name)]

    # --- the selected script --------------------------------------------------------------------------------

    def run(self, p: Any, *args: Any) -> Any:
        """Run the script selected by ``args[0]`` (dropdown index, 0 = none); ``None`` when none is selected.

        Not isolated: the selected script *is* the job, so its error fails the job.
        """
        script_index = args[0] if args else 0
        if not script_index:
            return None
        script = self.selectable_scripts[script_index - 1]
        script_args = args[script.args_from:script.args_to] if script.args_from is not None else ()
        return script.run(p, *script_args)

    # --- hooks (the processing layer calls these) -----------------------------------------------------------

    @staticmethod
    def _script_args(p: Any, script: Script) -> tuple:
        # a script whose UI was never built has no arguments
        if script.args_from is None or script.args_to is None:
            return ()
        return tuple((getattr(p, "script_args", None) or ())[script.args_from:script.args_to])

    def _call(self, method_name: str, p: Any, before_args: tuple = (), **kwargs: Any) -> None:
        for script in self.ordered_scripts(method_name):
            try:
                getattr(script, method_name)(p, *before_args, *self._script_args(p, script), **kwargs)
            except Exception:
                report(f"Error running {method_name}: {script.filename}", exc_info=True)

    def setup_scrips(self, p: Any, *, is_ui: bool = True) -> None:
        """``setup`` of every always-on script (API jobs skip ``setup_for_ui_only`` scripts). A1111's spelling."""
        for script in self.ordered_scripts("setup"):
            if not is_ui and script.setup_for_ui_only:
                continue
            try:
                script.setup(p, *self._script_args(p, script))
            except Exception:
                report(f"Error running setup: {script.filename}", exc_info=True)

    setup_scripts = setup_scrips

    def before_process(self, p: Any) -> None:
        """Call ``before_process(p, *args)`` of the always-on scripts."""
        self._call("before_process", p)

    def process(self, p: Any) -> None:
        """Call ``process(p, *args)`` of the always-on scripts."""
        self._call("process", p)

    def before_process_batch(self, p: Any, **kwargs: Any) -> None:
        """Call ``before_process_batch(p, *args, batch_number=, prompts=, seeds=, subseeds=)``."""
        self._call("before_process_batch", p, **kwargs)

    def after_extra_networks_activate(self, p: Any, **kwargs: Any) -> None:
        """Call ``after_extra_networks_activate(p, *args, ..., extra_network_data=)``."""
        self._call("after_extra_networks_activate", p, **kwargs)

    def process_batch(self, p: Any, **kwargs: Any) -> None:
        """Call ``process_batch(p, *args, batch_number=, prompts=, seeds=, subseeds=)``."""
        self._call("process_batch", p, **kwargs)

    def process_before_every_sampling(self, p: Any, **kwargs: Any) -> None:
        """Call ``process_before_every_sampling(p, *args, x=, noise=, c=, uc=)`` (before each sampling pass)."""
        self._call("process_before_every_sampling", p, **kwargs)

    def on_mask_blend(self, p: Any, mba: MaskBlendArgs) -> None:
        """Call ``on_mask_blend(p, mba, *args)`` (inpainting, every step and the final blend)."""
        self._call("on_mask_blend", p, (mba,))

    def post_sample(self, p: Any, ps: PostSampleArgs) -> None:
        """Call ``post_sample(p, ps, *args)`` before decoding."""
        self._call("post_sample", p, (ps,))

    def postprocess_batch(self, p: Any, images: Any, **kwargs: Any) -> None:
        """Call ``postprocess_batch(p, *args, images=, batch_number=)``."""
        self._call("postprocess_batch", p, images=images, **kwargs)

    def postprocess_batch_list(self, p: Any, pp: PostprocessBatchListArgs, **kwargs: Any) -> None:
        """Call ``postprocess_batch_list(p, pp, *args, batch_number=)``."""
        self._call("postprocess_batch_list", p, (pp,), **kwargs)

    def postprocess_image(self, p: Any, pp: PostprocessImageArgs) -> None:
        """Call ``postprocess_image(p, pp, *args)`` for one picture."""
        self._call("postprocess_image", p, (pp,))

    def postprocess_maskoverlay(self, p: Any, ppmo: PostProcessMaskOverlayArgs) -> None:
        """Call ``postprocess_maskoverlay(p, ppmo, *args)`` for one picture."""
        self._call("postprocess_maskoverlay", p, (ppmo,))

    def postprocess_image_after_composite(self, p: Any, pp: PostprocessImageArgs) -> None:
        """Call ``postprocess_image_after_composite(p, pp, *args)`` for one picture."""
        self._call("postprocess_image_after_composite", p, (pp,))

    def before_hr(self, p: Any) -> None:
        """Call ``before_hr(p, *args)`` before the hires-fix pass."""
        self._call("before_hr", p)

    def postprocess(self, p: Any, processed: Any) -> None:
        """Call ``postprocess(p, processed, *args)`` at the end of the job."""
        self._call("postprocess", p, (processed,))

    def before_component(self, component: Any, **kwargs: Any) -> None:
        """A component is about to be created: the elem_id callbacks, then every script's ``before_component``."""
        for callback, script in self.on_before_component_elem_id.get(kwargs.get("elem_id"), []):
            try:
                callback(OnComponent(component=component))
            except Exception:
                report(f"Error running on_before_component: {script.filename}", exc_info=True)
        for script in self.ordered_scripts("before_component"):
            try:
                script.before_component(component, **kwargs)
            except Exception:
                report(f"Error running before_component: {script.filename}", exc_info=True)

    def after_component(self, component: Any, **kwargs: Any) -> None:
        """A component was created: the elem_id callbacks, then every script's ``after_component``."""
        for callback, script in self.on_after_component_elem_id.get(getattr(component, "elem_id", None), []):
            try:
                callback(OnComponent(component=component))
            except Exception:
                report(f"Error running on_after_component: {script.filename}", exc_info=True)
        for script in self.ordered_scripts("after_component"):
            try:
                script.after_component(component, **kwargs)
            except Exception:
                report(f"Error running after_component: {script.filename}", exc_info=True)

    # --- arguments ------------------------------------------------------------------------------------------

    def set_named_arg(self, args: list | tuple, script_name: str, arg_elem_id: str, value: Any,
                      fuzzy: bool = False) -> list | tuple:
        """Set the argument of script ``script_name`` whose component has ``arg_elem_id`` (substring when ``fuzzy``).

        Returns the updated arguments (a new tuple for a tuple, the same list for a
        list); raises ``RuntimeError`` when the script or the component is unknown.
        """
        script = next((x for x in self.scripts if x.name == script_name), None)
        if script is None:
            raise RuntimeError(f"script {script_name} not found")
        for i, control in enumerate(script.controls or []):
            elem_id = getattr(control, "elem_id", None) or ""
            if (arg_elem_id in elem_id) if fuzzy else (arg_elem_id == elem_id):
                index = (script.args_from or 0) + i
                if isinstance(args, tuple):
                    return args[:index] + (value,) + args[index + 1:]
                if isinstance(args, list):
                    args[index] = value
                    return args
                raise RuntimeError(f"args is not a list or tuple, but {type(args)}")
        raise RuntimeError(f"arg_elem_id {arg_elem_id} not found in script {script_name}")

    def reload_sources(self, cache: dict) -> None:
        """Re-import each script's file (``cache``: path -> module, shared between runners) keeping argument indexes."""
        for index, script in list(enumerate(self.scripts)):
            filename = script.filename
            if filename is None:
                continue
            module = cache.get(filename)
            if module is None:
                module = wrap_call(load_module, filename, "reload", filename)
                if module is None:
                    continue
                cache[filename] = module
            for script_class in vars(module).values():
                if isinstance(script_class, type) and issubclass(script_class, Script) and script_class is not Script:
                    new = script_class()
                    new.filename, new.args_from, new.args_to = filename, script.args_from, script.args_to
                    for attr in ("is_txt2img", "is_img2img", "tabname", "alwayson", "name", "controls", "group"):
                        setattr(new, attr, getattr(script, attr))
                    self.scripts[index] = new
                    for group in (self.alwayson_scripts, self.selectable_scripts):
                        group[:] = [new if s is script else s for s in group]
        self._refresh_titles()
        self.callback_map.clear()
