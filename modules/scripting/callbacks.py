"""What extensions register to be called at points of the app's life (A1111's ``modules.script_callbacks``).

Register with ``on_<event>(callback, *, name=None)``, usually at the top level of
a script file.  The app calls ``<event>_callback(...)``, which calls every
registered callback in order (see :mod:`modules.scripting.callback_registry` for
naming and ordering); an exception in one callback is reported with the file
that registered it and the others still run.

Nothing here imports gradio or fastapi: the parameter objects are plain classes,
most of them defined by the layer that creates them (``ImageSaveParams`` and
``ImageGridLoopParams`` by processing, the CFG parameters by sampling);
``modules.script_callbacks`` re-exports them for extensions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from modules.core.services import Services, current_services
from modules.sampling.cfg_params import (
    AfterCFGCallbackParams,
    CFGDenoisedParams,
    CFGDenoiserParams,
    ExtraNoiseParams,
)
from modules.scripting import callback_registry as _registry

__all__ = [
    "UiTrainTabParams", "BeforeTokenCounterParams", "app_started_callback", "app_reload_callback",
    "model_loaded_callback", "ui_tabs_callback", "ui_train_tabs_callback", "ui_settings_callback",
    "before_image_saved_callback", "image_saved_callback", "extra_noise_callback", "cfg_denoiser_callback",
    "cfg_denoised_callback", "cfg_after_cfg_callback", "before_component_callback", "after_component_callback",
    "image_grid_callback", "infotext_pasted_callback", "script_unloaded_callback", "before_ui_callback",
    "list_optimizers_callback", "list_unets_callback", "before_token_counter_callback", "cfg_denoiser_callbacks",
    "cfg_denoised_callbacks", "cfg_after_cfg_callbacks", "extra_noise_callbacks", "before_image_saved_callbacks",
    "image_saved_callbacks", "image_grid_callbacks", "remove_current_script_callbacks", "on_app_started",
    "on_before_reload", "on_model_loaded", "on_ui_tabs", "on_ui_train_tabs", "on_ui_settings",
    "on_before_image_saved", "on_image_saved", "on_extra_noise", "on_cfg_denoiser", "on_cfg_denoised",
    "on_cfg_after_cfg", "on_before_component", "on_after_component", "on_image_grid", "on_infotext_pasted",
    "on_script_unloaded", "on_before_ui", "on_list_optimizers", "on_list_unets", "on_before_token_counter",
    "callbacks_order_settings",
]
"""Every name of A1111's ``modules.script_callbacks`` defined here (that module re-exports them)."""


class UiTrainTabParams:
    """What ``on_ui_train_tabs`` callbacks get."""

    def __init__(self, txt2img_preview_params: Any) -> None:
        self.txt2img_preview_params = txt2img_preview_params
        """The txt2img components used for training previews."""


@dataclass
class BeforeTokenCounterParams:
    """What ``on_before_token_counter`` callbacks get; they may change ``prompt`` before tokens are counted."""

    prompt: str
    steps: int
    styles: list = field(default_factory=list)
    is_positive: bool = True


# --- calling the callbacks (the app does this) ---------------------------------------------------------------

def app_started_callback(demo: Any, app: Any) -> None:
    """The server is up: ``demo`` is the gradio Blocks (``None`` with ``--nowebui``), ``app`` the FastAPI app."""
    _registry.run("app_started", "app_started_callback", demo, app)


def app_reload_callback() -> None:
    """The server is about to reload the UI."""
    _registry.run("on_reload", "callbacks_on_reload")


def model_loaded_callback(sd_model: Any) -> None:
    """A Stable Diffusion model was loaded (or the scripts were reloaded)."""
    _registry.run("model_loaded", "model_loaded_callback", sd_model)


def ui_tabs_callback() -> list:
    """Collect extra top-level tabs: every ``(blocks, title, elem_id)`` the callbacks returned."""
    tabs: list = []
    for result in _registry.run("ui_tabs", "ui_tabs_callback"):
        tabs += result or []
    return tabs


def ui_train_tabs_callback(params: UiTrainTabParams) -> None:
    """The Train tab is being built; callbacks add their own ``gr.Tab``."""
    _registry.run("ui_train_tabs", "callbacks_ui_train_tabs", params)


def ui_settings_callback() -> None:
    """Settings are being declared; callbacks call ``shared.opts.add_option(key, shared.OptionInfo(...))``."""
    _registry.run("ui_settings", "ui_settings_callback")


def before_image_saved_callback(params: Any) -> None:
    """A picture is about to be written; callbacks may change ``params.image``, ``filename``, ``pnginfo``."""
    _registry.run("before_image_saved", "before_image_saved_callback", params)


def image_saved_callback(params: Any) -> None:
    """A picture was written to ``params.filename``."""
    _registry.run("image_saved", "image_saved_callback", params)


def extra_noise_callback(params: ExtraNoiseParams) -> None:
    """img2img/hires extra noise is about to be added; callbacks may replace ``params.noise``."""
    _registry.run("extra_noise", "callbacks_extra_noise", params)


def cfg_denoiser_callback(params: CFGDenoiserParams) -> None:
    """The CFG denoiser built the UNet inputs of a step; callbacks may replace them."""
    _registry.run("cfg_denoiser", "cfg_denoiser_callback", params)


def cfg_denoised_callback(params: CFGDenoisedParams) -> None:
    """The UNet outputs of a step, before guidance combines them."""
    _registry.run("cfg_denoised", "cfg_denoised_callback", params)


def cfg_after_cfg_callback(params: AfterCFGCallbackParams) -> None:
    """The guided prediction of a step; callbacks may replace ``params.x``."""
    _registry.run("cfg_after_cfg", "cfg_after_cfg_callback", params)


def before_component_callback(component: Any, **kwargs: Any) -> None:
    """A UI component is about to be created with ``kwargs`` (``elem_id``, ``label``...)."""
    _registry.run("before_component", "before_component_callback", component, **kwargs)


def after_component_callback(component: Any, **kwargs: Any) -> None:
    """A UI component was created."""
    _registry.run("after_component", "after_component_callback", component, **kwargs)


def image_grid_callback(params: Any) -> None:
    """A grid is about to be drawn; callbacks may change ``params.imgs``, ``cols``, ``rows``."""
    _registry.run("image_grid", "image_grid", params)


def infotext_pasted_callback(infotext: str, params: dict[str, Any]) -> None:
    """Infotext was parsed into ``params`` before it is applied; callbacks may edit ``params``."""
    _registry.run("infotext_pasted", "infotext_pasted", infotext, params)


def script_unloaded_callback() -> None:
    """Scripts are about to be unloaded; called in reverse registration order, so undo happens last-in first-out."""
    _registry.run("script_unloaded", "script_unloaded", reverse=True)


def before_ui_callback() -> None:
    """The UI is about to be built (called in reverse registration order, as A1111)."""
    _registry.run("before_ui", "before_ui", reverse=True)


def list_optimizers_callback() -> list:
    """Collect cross-attention optimizations: each callback appends ``SdOptimization`` objects to the list."""
    result: list = []
    _registry.run("list_optimizers", "list_optimizers", result)
    return result


def list_unets_callback() -> list:
    """Collect alternative UNets: each callback appends ``SdUnetOption`` objects to the list."""
    result: list = []
    _registry.run("list_unets", "list_unets", result)
    return result


def before_token_counter_callback(params: BeforeTokenCounterParams) -> None:
    """The UI is about to count a prompt's tokens; callbacks may change ``params.prompt``."""
    _registry.run("before_token_counter", "before_token_counter", params)


# --- plain function lists for lower layers -------------------------------------------------------------------

def cfg_denoiser_callbacks() -> list[Callable[[CFGDenoiserParams], None]]:
    """The ``cfg_denoiser`` callbacks in order, each isolated (for ``SamplingEnv.cfg_denoiser_callbacks``)."""
    return _registry.isolated_callables("cfg_denoiser", "cfg_denoiser_callback")


def cfg_denoised_callbacks() -> list[Callable[[CFGDenoisedParams], None]]:
    """The ``cfg_denoised`` callbacks in order, each isolated."""
    return _registry.isolated_callables("cfg_denoised", "cfg_denoised_callback")


def cfg_after_cfg_callbacks() -> list[Callable[[AfterCFGCallbackParams], None]]:
    """The ``cfg_after_cfg`` callbacks in order, each isolated."""
    return _registry.isolated_callables("cfg_after_cfg", "cfg_after_cfg_callback")


def extra_noise_callbacks() -> list[Callable[[ExtraNoiseParams], None]]:
    """The ``extra_noise`` callbacks in order, each isolated."""
    return _registry.isolated_callables("extra_noise", "callbacks_extra_noise")


def before_image_saved_callbacks() -> list[Callable[[Any], None]]:
    """The ``before_image_saved`` callbacks in order, each isolated (for ``image_saving.save_image(before_save=)``)."""
    return _registry.isolated_callables("before_image_saved", "before_image_saved_callback")


def image_saved_callbacks() -> list[Callable[[Any], None]]:
    """The ``image_saved`` callbacks in order, each isolated."""
    return _registry.isolated_callables("image_saved", "image_saved_callback")


def image_grid_callbacks() -> list[Callable[[Any], None]]:
    """The ``image_grid`` callbacks in order, each isolated (for ``grids.image_grid(callbacks=)``)."""
    return _registry.isolated_callables("image_grid", "image_grid")


# --- removing callbacks --------------------------------------------------------------------------------------

def remove_current_script_callbacks() -> None:
    """Remove every callback the calling file registered (call it at the top of a script that may be re-run)."""
    filename = _registry.caller_file()
    if filename != "unknown file":
        _registry.remove_callbacks_from_file(filename)


# --- registering ---------------------------------------------------------------------------------------------

def on_app_started(callback: Callable[[Any, Any], None], *, name: str | None = None) -> None:
    """Call ``callback(demo, app)`` once the server started: the gradio Blocks (``None`` without UI) and the
    FastAPI app, e.g. to add routes."""
    _registry.register("app_started", callback, name)


def on_before_reload(callback: Callable[[], None], *, name: str | None = None) -> None:
    """Call ``callback()`` just before the server reloads the UI."""
    _registry.register("on_reload", callback, name)


def on_model_loaded(callback: Callable[[Any], None], *, name: str | None = None) -> None:
    """Call ``callback(sd_model)`` whenever a Stable Diffusion model has been loaded."""
    _registry.register("model_loaded", callback, name)


def on_ui_tabs(callback: Callable[[], list | None], *, name: str | None = None) -> None:
    """Call ``callback()`` while the UI is built; it returns ``None`` or a list of ``(blocks, title, elem_id)``
    tuples, each becoming a top-level tab titled ``title`` with HTML id ``elem_id``."""
    _registry.register("ui_tabs", callback, name)


def on_ui_train_tabs(callback: Callable[[UiTrainTabParams], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` while the Train tab is built; create your own tabs with ``gr.Tab``."""
    _registry.register("ui_train_tabs", callback, name)


def on_ui_settings(callback: Callable[[], None], *, name: str | None = None) -> None:
    """Call ``callback()`` when settings are declared; add yours with
    ``shared.opts.add_option(key, shared.OptionInfo(default, label, component, args, section=(id, title)))``."""
    _registry.register("ui_settings", callback, name)


def on_before_image_saved(callback: Callable[[Any], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` before a picture is saved; ``params`` (``ImageSaveParams``: ``image``, ``p``,
    ``filename``, ``pnginfo``) may be changed to alter what is written and where."""
    _registry.register("before_image_saved", callback, name)


def on_image_saved(callback: Callable[[Any], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` after a picture was saved; changing ``params`` then has no effect."""
    _registry.register("image_saved", callback, name)


def on_extra_noise(callback: Callable[[ExtraNoiseParams], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` before img2img / hires fix add extra noise; ``params`` (``noise``, ``x``, ``xi``)
    holds the seeded noise and the latents."""
    _registry.register("extra_noise", callback, name)


def on_cfg_denoiser(callback: Callable[[CFGDenoiserParams], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` at every sampling step once the CFG denoiser built the UNet inputs
    (``x``, ``image_cond``, ``sigma``, ``sampling_step``, ``total_sampling_steps``, ``text_cond``, ``text_uncond``,
    ``denoiser``); assigning them changes what the UNet gets."""
    _registry.register("cfg_denoiser", callback, name)


def on_cfg_denoised(callback: Callable[[CFGDenoisedParams], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` at every step with the UNet outputs (``x``, ``sampling_step``,
    ``total_sampling_steps``, ``inner_model``) before guidance combines them."""
    _registry.register("cfg_denoised", callback, name)


def on_cfg_after_cfg(callback: Callable[[AfterCFGCallbackParams], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` at every step after guidance was applied (``x``, ``sampling_step``,
    ``total_sampling_steps``); ``params.x`` may be replaced."""
    _registry.register("cfg_after_cfg", callback, name)


def on_before_component(callback: Callable[..., None], *, name: str | None = None) -> None:
    """Call ``callback(component, **kwargs)`` before any UI component is created; ``kwargs`` are its constructor
    arguments (find one by ``kwargs.get("elem_id")`` or ``label``) — a way to add components amid the built-in UI."""
    _registry.register("before_component", callback, name)


def on_after_component(callback: Callable[..., None], *, name: str | None = None) -> None:
    """Call ``callback(component, **kwargs)`` after any UI component is created (see :func:`on_before_component`)."""
    _registry.register("after_component", callback, name)


def on_image_grid(callback: Callable[[Any], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` before a grid is drawn; ``params.imgs``, ``cols`` and ``rows`` may be changed."""
    _registry.register("image_grid", callback, name)


def on_infotext_pasted(callback: Callable[[str, dict], None], *, name: str | None = None) -> None:
    """Call ``callback(infotext, params)`` before pasted infotext is applied: the raw text and the parsed
    ``{label: value}`` dict, which may be edited."""
    _registry.register("infotext_pasted", callback, name)


def on_script_unloaded(callback: Callable[[], None], *, name: str | None = None) -> None:
    """Call ``callback()`` before scripts are unloaded (UI reload); undo any patching the script did here."""
    _registry.register("script_unloaded", callback, name)


def on_before_ui(callback: Callable[[], None], *, name: str | None = None) -> None:
    """Call ``callback()`` before the UI is built."""
    _registry.register("before_ui", callback, name)


def on_list_optimizers(callback: Callable[[list], None], *, name: str | None = None) -> None:
    """Call ``callback(optimizers)`` when the cross-attention optimizations are listed; append
    ``SdOptimization`` objects to the list."""
    _registry.register("list_optimizers", callback, name)


def on_list_unets(callback: Callable[[list], None], *, name: str | None = None) -> None:
    """Call ``callback(unets)`` when alternative UNets are listed; append ``SdUnetOption`` objects to the list."""
    _registry.register("list_unets", callback, name)


def on_before_token_counter(callback: Callable[[BeforeTokenCounterParams], None], *, name: str | None = None) -> None:
    """Call ``callback(params)`` before the UI counts a prompt's tokens (``prompt``, ``steps``, ``styles``,
    ``is_positive``); change ``params.prompt`` to count something else."""
    _registry.register("before_token_counter", callback, name)


def callbacks_order_settings(services: Services | None = None) -> dict[str, Any]:
    """The ``prioritized_callbacks_*`` options of the Settings tab's "Callbacks" section (built after scripts loaded).

    The ``script_<hook>`` categories come from the txt2img and img2img runners of ``services`` (default: the
    installed ones).
    """
    services = services if services is not None else current_services()
    runners = [r for r in (services.scripts_txt2img, services.scripts_img2img) if r is not None]
    return _registry.callbacks_order_settings(runners)
