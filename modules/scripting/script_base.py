"""The ``Script`` base class (A1111's ``modules.scripts.Script``): every hook an extension's script can override.

A script file (``scripts/*.py`` of the install root or of an extension) defines
subclasses of :class:`Script`.  Each is instantiated once per tab (txt2img,
img2img).  :meth:`Script.show` decides what it is there:

- ``False``: not shown at all;
- ``True``: a *selectable* script, listed in the "Script" dropdown; when chosen,
  its :meth:`Script.run` does the whole job instead of the normal processing;
- :data:`AlwaysVisible`: an *always-on* script; its UI is always shown and its
  processing hooks run in every job of that tab.

Hooks of always-on scripts run in this order within one job (``p`` is the
processing object, ``*args`` the values of the script's own UI components)::

    setup -> before_process -> (settings overrides applied) -> process
    per batch:  before_process_batch -> after_extra_networks_activate -> process_batch
                -> process_before_every_sampling -> (sampling; on_mask_blend at each
                inpainting step) -> post_sample -> postprocess_batch -> postprocess_batch_list
                per picture: postprocess_image -> postprocess_maskoverlay
                             -> postprocess_image_after_composite
    hires fix:  before_hr -> process_before_every_sampling (second pass)
    end:        postprocess

:data:`HOOK_CALL_ORDER` lists the same names for tests of the processing layer.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from modules.scripting.hook_args import (
    MaskBlendArgs,
    PostprocessBatchListArgs,
    PostprocessImageArgs,
    PostProcessMaskOverlayArgs,
    PostSampleArgs,
)

AlwaysVisible = object()
"""Returned by :meth:`Script.show` for a script whose UI is always shown and whose hooks always run."""

HOOK_CALL_ORDER: tuple[str, ...] = (
    "setup", "before_process", "process",
    "before_process_batch", "after_extra_networks_activate", "process_batch", "process_before_every_sampling",
    "post_sample", "postprocess_batch", "postprocess_batch_list",
    "postprocess_image", "postprocess_maskoverlay", "postprocess_image_after_composite",
    "postprocess",
)
"""The processing hooks in the order one single-batch, single-picture job without hires fix calls them."""


class Script:
    """Base class of a script; override :meth:`title`, :meth:`show`, :meth:`ui` and the hooks you need.

    Only hooks a subclass overrides are called (the runner skips the base's no-ops).
    """

    name: str | None = None
    """Internal name: the lower-cased title (set when the UI is built)."""

    section: str | None = None
    """UI section an always-on script's controls go into (``None`` = the scripts area below the
    settings; e.g. ``"accordions"``, ``"seed"``, ``"sampler"``, ``"inpaint"``)."""

    filename: str | None = None
    """Path of the file the class was loaded from (set by the runner)."""

    args_from: int | None = None
    """Index of the script's first argument in the tab's global argument list (``p.script_args``)."""

    args_to: int | None = None
    """One past the index of the script's last argument."""

    alwayson = False
    """True when :meth:`show` returned :data:`AlwaysVisible` for the tab."""

    is_txt2img = False
    """True for the instance serving the txt2img tab."""

    is_img2img = False
    """True for the instance serving the img2img tab."""

    tabname: str | None = None
    """``"txt2img"`` or ``"img2img"``."""

    group: Any = None
    """The ``gr.Group`` holding the script's UI (created unless :attr:`create_group` is False)."""

    create_group = True
    """If False, an always-on script's UI is not wrapped in a group of its own."""

    infotext_fields: list | None = None
    """Set in :meth:`ui`: ``(component, infotext label or function(params) -> value)`` pairs used when
    infotext is pasted."""

    paste_field_names: list | None = None
    """Set in :meth:`ui`: infotext field names the "Send to" buttons carry over."""

    api_info: Any = None
    """Description of the script and its arguments for ``/sdapi/v1/script-info`` (set by the runner)."""

    on_before_component_elem_id: list | None = None
    """``(elem_id, callback)`` pairs registered with :meth:`on_before_component`."""

    on_after_component_elem_id: list | None = None
    """``(elem_id, callback)`` pairs registered with :meth:`on_after_component`."""

    setup_for_ui_only = False
    """If True, :meth:`setup` runs only for jobs from the UI, not from the API."""

    controls: list | None = None
    """The components :meth:`ui` returned."""

    # --- identity and UI ---------------------------------------------------------------------------------

    def title(self) -> str:
        """The script's name, shown in the Script dropdown (required)."""
        raise NotImplementedError()

    def show(self, is_img2img: bool) -> Any:
        """Where the script appears in the tab (``is_img2img`` tells which tab is asking).

        Return ``False`` (nowhere), ``True`` (in the Script dropdown) or
        :data:`AlwaysVisible` (always shown; hooks run in every job).
        """
        return True

    def ui(self, is_img2img: bool) -> list | None:
        """Create the script's gradio components; return those whose values the hooks receive as ``*args``."""
        return None

    def describe(self) -> str:
        """A description of the script (unused by the UI; kept for A1111 compatibility)."""
        return ""

    def elem_id(self, item_id: str) -> str:
        """HTML id for one of the script's elements: ``script_[<tab>_]<title>_<item_id>``.

        The tab part appears when the script shows the same way in both tabs; the
        title is lower-cased, whitespace becomes ``_`` and other punctuation is dropped.
        """
        need_tabname = self.show(True) == self.show(False)
        tabname = f"{'img2img' if self.is_img2img else 'txt2img'}_" if need_tabname else ""
        title = re.sub(r"[^a-z_0-9]", "", re.sub(r"\s", "_", self.title().lower()))
        return f"script_{tabname}{title}_{item_id}"

    # --- selectable scripts ------------------------------------------------------------------------------

    def run(self, p: Any, *args: Any) -> Any:
        """Do the whole job when the script is chosen in the Script dropdown; return a ``Processed``.

        Usually calls ``modules.processing.process_images(p)`` one or more times.
        ``args`` are the values of the components :meth:`ui` returned.  Returning
        ``None`` lets the normal processing run instead.
        """
        return None

    # --- always-on hooks, in call order ------------------------------------------------------------------

    def setup(self, p: Any, *args: Any) -> None:
        """Called when the job's processing object gets its script arguments, before anything else."""

    def before_process(self, p: Any, *args: Any) -> None:
        """Called first thing in processing, before settings overrides are applied; ``p`` may be changed."""

    def process(self, p: Any, *args: Any) -> None:
        """Called before processing begins (after overrides); change ``p``, install hooks, add infotext."""

    def before_process_batch(self, p: Any, *args: Any, **kwargs: Any) -> None:
        """Called for each batch before extra networks are parsed from its prompts (so new tags can be added).

        ``kwargs``: ``batch_number`` (0-based), ``prompts`` (may be edited in place,
        keeping its length), ``seeds``, ``subseeds``.
        """

    def after_extra_networks_activate(self, p: Any, *args: Any, **kwargs: Any) -> None:
        """Called after the batch's extra networks (LoRA...) are applied, before conds are computed.

        Not called when ``p.disable_extra_networks``.  ``kwargs`` are those of
        :meth:`before_process_batch` plus ``extra_network_data``.
        """

    def process_batch(self, p: Any, *args: Any, **kwargs: Any) -> None:
        """Like :meth:`process`, once per batch; ``kwargs`` as in :meth:`before_process_batch`."""

    def process_before_every_sampling(self, p: Any, *args: Any, **kwargs: Any) -> None:
        """Called right before each sampling (twice with hires fix); ``kwargs``: ``x``, ``noise``, ``c``, ``uc``."""

    def on_mask_blend(self, p: Any, mba: MaskBlendArgs, *args: Any) -> None:
        """Inpainting only: called when the original latent is blended back in, at every step and once at the end.

        Set ``mba.blended_latent`` to change the blend; ``mba.is_final_blend`` marks
        the last call, otherwise ``mba.denoiser`` and ``mba.sigma`` describe the step.
        """

    def post_sample(self, p: Any, ps: PostSampleArgs, *args: Any) -> None:
        """Called after sampling, before the VAE decodes ``ps.samples`` (which may be replaced)."""

    def postprocess_batch(self, p: Any, *args: Any, **kwargs: Any) -> None:
        """Called after a batch is decoded; ``kwargs``: ``images`` (4D tensor, values 0..1), ``batch_number``."""

    def postprocess_batch_list(self, p: Any, pp: PostprocessBatchListArgs, *args: Any, **kwargs: Any) -> None:
        """Like :meth:`postprocess_batch` with ``pp.images`` a list of 3D tensors that may change length.

        A script changing the count also updates ``p.prompts``, ``p.negative_prompts``,
        ``p.seeds`` and ``p.subseeds``.  ``kwargs``: ``batch_number``.
        """

    def postprocess_image(self, p: Any, pp: PostprocessImageArgs, *args: Any) -> None:
        """Called for each finished picture (``pp.image``, may be replaced) before it is saved."""

    def postprocess_maskoverlay(self, p: Any, ppmo: PostProcessMaskOverlayArgs, *args: Any) -> None:
        """Called for each picture with its inpainting overlay (``ppmo.mask_for_overlay``, ``ppmo.overlay_image``)."""

    def postprocess_image_after_composite(self, p: Any, pp: PostprocessImageArgs, *args: Any) -> None:
        """Like :meth:`postprocess_image`, after an "only masked" inpaint was pasted back into the full picture."""

    def before_hr(self, p: Any, *args: Any) -> None:
        """Called before the hires-fix pass starts."""

    def postprocess(self, p: Any, processed: Any, *args: Any) -> None:
        """Called after the whole job; ``processed`` is the ``Processed`` result (its images, infotexts)."""

    # --- component hooks ---------------------------------------------------------------------------------

    def before_component(self, component: Any, **kwargs: Any) -> None:
        """Called before any component of the tab is created; ``kwargs`` are its constructor arguments.

        Look at ``kwargs["elem_id"]`` / ``kwargs["label"]`` to find a component and
        create your own next to it (return them from :meth:`ui` to receive their values).
        Called for selectable and always-on scripts alike.
        """

    def after_component(self, component: Any, **kwargs: Any) -> None:
        """Called after any component of the tab is created; see :meth:`before_component`."""

    def on_before_component(self, callback: Callable[[Any], None], *, elem_id: str) -> None:
        """Call ``callback(OnComponent(component))`` right before the component with ``elem_id`` is created.

        Register in :meth:`show` (or early in :meth:`ui`; later components only).
        """
        if self.on_before_component_elem_id is None:
            self.on_before_component_elem_id = []
        self.on_before_component_elem_id.append((elem_id, callback))

    def on_after_component(self, callback: Callable[[Any], None], *, elem_id: str) -> None:
        """Call ``callback(OnComponent(component))`` right after the component with ``elem_id`` is created."""
        if self.on_after_component_elem_id is None:
            self.on_after_component_elem_id = []
        self.on_after_component_elem_id.append((elem_id, callback))


class ScriptBuiltinUI(Script):
    """Base of the built-in always-on scripts that draw parts of the main UI (Sampler, Seed...).

    Their element ids carry no ``script_`` prefix, and their ``setup`` runs for UI jobs only.
    """

    setup_for_ui_only = True

    def show(self, is_img2img: bool) -> Any:
        return AlwaysVisible

    def elem_id(self, item_id: str) -> str:
        """``[<tab>_]<item_id>``: the ids the built-in UI always had."""
        need_tabname = self.show(True) == self.show(False)
        tabname = f"{'img2img' if self.is_img2img else 'txt2img'}_" if need_tabname else ""
        return f"{tabname}{item_id}"


HOOK_NAMES: tuple[str, ...] = (
    "setup", "before_process", "process", "before_process_batch", "after_extra_networks_activate",
    "process_batch", "process_before_every_sampling", "on_mask_blend", "post_sample", "postprocess_batch",
    "postprocess_batch_list", "postprocess_image", "postprocess_maskoverlay", "postprocess_image_after_composite",
    "before_hr", "postprocess", "before_component", "after_component",
)
"""Every hook the runner calls on scripts that override it."""
