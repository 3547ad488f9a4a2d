"""The whole page: quicksettings row, start-up notices, the top-level tabs in A1111's order, the footer.

:func:`create_ui` is what ``modules.app_server`` mounts at ``/``.  Tabs, in
order: txt2img, img2img, Extras, PNG Info, Checkpoint Merger, Train, the tabs
extensions add (``on_ui_tabs``), Settings, Extensions; settings
``ui_tab_order`` and ``hidden_tabs`` reorder and hide them.  Every ``elem_id``
matches A1111's so user CSS, page scripts and extensions find their targets.
"""
from __future__ import annotations

from typing import Any, Callable

from modules.core.options import choice_providers
from modules.core.services import current_services
from modules.scripting import callbacks
from modules.ui import assets, components, paste, ui_config_defaults
from modules.ui.extensions_tab import create_extensions_tab
from modules.ui.extra_networks import create_checkpoint_selector
from modules.ui.extras_tab import create_extras_tab
from modules.ui.footer import footer_html
from modules.ui.img2img_tab import create_img2img_tab
from modules.ui.merger_tab import create_merger_tab
from modules.ui.pnginfo_tab import create_pnginfo_tab
from modules.ui.quicksettings import connect_quicksettings, create_quicksettings
from modules.ui.settings_components import current_value
from modules.ui.settings_tab import create_settings_tab
from modules.ui.train_tab import create_train_tab
from modules.ui.txt2img_tab import create_txt2img_tab

REFRESH_SYMBOL = "\U0001f504"  # 🔄, A1111's refresh button


def checkpoint_notice() -> str:
    """Markdown telling the user where to put a checkpoint, or an empty string when there is one."""
    services = current_services()
    if services.checkpoints is None or services.checkpoints.checkpoints_list:
        return ""
    paths = services.paths
    folders = [paths.sd_models_dir] + ([paths.ckpt_dir] if paths.ckpt_dir else [])
    where = " or ".join(f"`{f}`" for f in folders)
    return (f"**No checkpoint found.** Put a Stable Diffusion checkpoint (`.safetensors` or `.ckpt`) into {where}, "
            f"then press {REFRESH_SYMBOL} beside the checkpoint list.")


def _builtin_tabs() -> list[tuple[str, str, Callable[[], Any]]]:
    return [("txt2img", "txt2img", create_txt2img_tab), ("img2img", "img2img", create_img2img_tab),
            ("Extras", "extras", create_extras_tab), ("PNG Info", "pnginfo", create_pnginfo_tab),
            ("Checkpoint Merger", "modelmerger", create_merger_tab), ("Train", "train", create_train_tab)]


def _ordered(tabs: list[tuple[str, str, Any]]) -> list[tuple[str, str, Any]]:
    opts = current_services().opts
    order = {label: i for i, label in enumerate(opts.ui_tab_order or [])}
    hidden = set(opts.hidden_tabs or [])
    return [t for t in sorted(tabs, key=lambda t: order.get(t[0], 9999)) if t[0] not in hidden]


def create_ui() -> Any:
    """Build the gradio Blocks of the page (imports gradio: only called when the UI is served)."""
    import gradio as gr

    services = current_services()
    paste.reset()
    choice_providers.register(choice_providers.INFOTEXT_PASTE_FIELDS, paste.paste_field_names)
    components.tooltips.clear()
    tracker = ui_config_defaults.begin(services.ui_config)
    try:
        extension_tabs = [(title, elem_id, blocks) for blocks, title, elem_id in callbacks.ui_tabs_callback()]
        tabs_list: list[tuple[str, str, Any]] = list(_builtin_tabs()) + extension_tabs
        tabs_list += [("Settings", "settings", None), ("Extensions", "extensions", create_extensions_tab)]
        services.tab_names = [label for label, _, _ in tabs_list]
        with gr.Blocks(title="Stable Diffusion", analytics_enabled=False, fill_width=True) as demo:
            component_dict: dict[str, Any] = {}
            quick = create_quicksettings(component_dict)
            notice = gr.Markdown(checkpoint_notice(), elem_id="checkpoint_notice")
            settings_ui = None
            with gr.Tabs(elem_id="tabs") as tabs:
                for label, ifid, content in _ordered(tabs_list):
                    with gr.Tab(label, id=ifid, elem_id=f"tab_{ifid}") as tab_item:
                        if ifid == "settings":
                            settings_ui = create_settings_tab(gr.Textbox(visible=False))
                        elif callable(content) and not isinstance(content, gr.Blocks):
                            content()
                        else:
                            content.render()
                    if ifid not in ("extensions", "settings"):
                        tracker.add_block(tab_item, ifid)
                tracker.add_component(f"webui/Tabs@{tabs.elem_id}", tabs)
            gr.HTML(footer_html(), elem_id="footer")
            text_settings = settings_ui.text_settings if settings_ui is not None else gr.Textbox(visible=False)
            if settings_ui is not None:
                component_dict.update(settings_ui.component_dict)
            paste.connect_paste_params_buttons()
            tracker.setup_page()
            connect_quicksettings(quick, text_settings,
                                  after=dict(fn=checkpoint_notice, inputs=[], outputs=[notice], show_progress="hidden"))
            _connect_checkpoint_refresh(component_dict, notice)
            create_checkpoint_selector(component_dict.get("sd_model_checkpoint"))
            _refresh_settings_on_load(demo, component_dict)
            _connect_image_cfg_scale_visibility(demo, text_settings)
            demo.load(fn=None, js=assets.loader_js())
            _connect_options_json(demo, text_settings)
        tracker.save_if_changed()
    finally:
        ui_config_defaults.end()
    demo.queue(default_concurrency_limit=64)
    return demo


def _connect_checkpoint_refresh(component_dict: dict[str, Any], notice: Any) -> None:
    checkpoint = component_dict.get("sd_model_checkpoint")
    button = getattr(checkpoint, "webui_refresh_button", None)
    if button is not None:
        button.click(fn=checkpoint_notice, inputs=[], outputs=[notice], show_progress="hidden")


def image_cfg_scale_visible() -> Any:
    """img2img's Image CFG Scale is shown only while an InstructPix2Pix model is loaded (A1111)."""
    import gradio as gr

    # the loaded model only: reading services.sd_model never starts a load
    return gr.update(visible=getattr(current_services().sd_model, "cond_stage_key", None) == "edit")


def distilled_cfg_scale_visible() -> Any:
    """The Distilled CFG Scale sliders are shown only while a guidance-distilled model (Flux dev) is loaded."""
    import gradio as gr

    visible = bool(getattr(current_services().sd_model, "use_distilled_cfg_scale", False))
    return gr.update(visible=visible), gr.update(visible=visible)


def _connect_image_cfg_scale_visibility(demo: Any, text_settings: Any) -> None:
    def find(elem_id: str) -> Any:
        return next((b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id), None)

    # on page load and after any settings change (a checkpoint switch goes through the settings)
    slider = find("img2img_image_cfg_scale")
    if slider is not None:
        demo.load(fn=image_cfg_scale_visible, inputs=[], outputs=[slider], show_progress="hidden")
        text_settings.change(fn=image_cfg_scale_visible, inputs=[], outputs=[slider], show_progress="hidden")
    distilled = [find("txt2img_distilled_cfg_scale"), find("img2img_distilled_cfg_scale")]
    if all(d is not None for d in distilled):
        demo.load(fn=distilled_cfg_scale_visible, inputs=[], outputs=distilled, show_progress="hidden")
        text_settings.change(fn=distilled_cfg_scale_visible, inputs=[], outputs=distilled, show_progress="hidden")


OPTIONS_TO_PAGE_JS = ("(json) => { window.webuiPendingOptions = json; "
                      "if (window.webuiSetOptions) { webuiSetOptions(json); } return []; }")


def _connect_options_json(demo: Any, text_settings: Any) -> None:
    """The page's ``opts`` object (A1111's, read by extensions' scripts): the current options on every page load
    and after Apply settings."""
    demo.load(fn=lambda: current_services().opts.dumpjson(), inputs=[], outputs=[text_settings], queue=False,
              show_progress="hidden").then(fn=None, inputs=[text_settings], js=OPTIONS_TO_PAGE_JS)
    text_settings.change(fn=None, inputs=[text_settings], js=OPTIONS_TO_PAGE_JS)


def _refresh_settings_on_load(demo: Any, component_dict: dict[str, Any]) -> None:
    """A reloaded page shows the settings as they are now (the API or another tab may have changed them)."""
    import gradio as gr

    keys = [k for k, c in component_dict.items() if type(c).__name__ != "HTML"]

    def values() -> list:
        return [gr.update(value=current_value(k)) for k in keys]

    if keys:
        demo.load(fn=values, inputs=[], outputs=[component_dict[k] for k in keys], queue=False,
                  show_progress="hidden")
