"""The Settings tab: one page per settings section (grouped by category), Apply settings, Reload UI,
and the Defaults, Sysinfo, Actions and Licenses pages (SPEC 13.7).

Apply validates every value first and changes nothing when one is wrong (the
message names it); otherwise it stores the changed values with ``opts.set``
(their ``onchange`` handlers run: a new checkpoint is loaded) and writes
``config.json``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from modules.core import hashing
from modules.core.options.store import OptionFrozenError, OptionValueError
from modules.core.services import current_services
from modules.runtime.queue_lock import queue_lock
from modules.runtime.script_loading import reload_script_body_only
from modules.ui import form_components as forms
from modules.ui import ui_config_defaults
from modules.ui.settings_components import create_setting_component, ordered_settings, section_categories, \
    ui_value_to_setting

LICENSES_HTML = ("<p>This web UI is a from-scratch reimplementation of AUTOMATIC1111's stable-diffusion-webui. "
                 "It uses gradio, PyTorch, transformers, open_clip, safetensors, spandrel and Pillow under their own "
                 "licenses; see each package's metadata.</p>")


@dataclass
class SettingsUi:
    """The Settings tab's parts other parts of the page connect to."""

    keys: list[str] = field(default_factory=list)
    components: list = field(default_factory=list)
    component_dict: dict[str, Any] = field(default_factory=dict)
    submit: Any = None
    result: Any = None
    text_settings: Any = None
    quicksettings_names: dict[str, int] = field(default_factory=dict)


def run_settings(keys: list[str], *values: Any) -> tuple[str, str]:
    """Apply: validate all, then set the changed ones and save; returns (settings JSON, message HTML)."""
    opts = current_services().opts
    wanted = {key: ui_value_to_setting(key, value) for key, value in zip(keys, values)}
    changed_keys = [k for k, v in wanted.items() if opts.data.get(k, opts.get_default(k)) != v]
    problems = []
    for key in changed_keys:
        try:
            opts.validate(key, wanted[key])
        except (OptionValueError, OptionFrozenError) as e:
            problems.append(str(e))
    if problems:
        return opts.dumpjson(), _error("Nothing was changed. " + "; ".join(problems))
    changed = []
    for key in changed_keys:
        try:
            if opts.set(key, wanted[key]):
                changed.append(key)
        except Exception as e:  # an onchange handler failed (a checkpoint that does not load...): report, go on
            problems.append(f"{key}: {e}")
    try:
        opts.save()
    except (OSError, ValueError) as e:
        return opts.dumpjson(), _error(f"{len(changed)} settings changed without save: {', '.join(changed)}. ({e})")
    message = f"{len(changed)} settings changed{': ' if changed else ''}{', '.join(changed)}."
    if problems:
        return opts.dumpjson(), html.escape(message) + _error("; ".join(problems))
    return opts.dumpjson(), html.escape(message)


def _error(message: str) -> str:
    return f"<div class='error'>{html.escape(message)}</div>"


def create_settings_tab(dummy_component: Any) -> SettingsUi:
    """Build the tab in the current gradio context."""
    import gradio as gr

    services = current_services()
    ui = SettingsUi()
    opts = services.opts
    frozen = bool(getattr(services.cmd_opts, "freeze_settings", False))
    ui.quicksettings_names = {x: i for i, x in enumerate(opts.quicksettings_list or []) if x != "quicksettings"}
    with gr.Row():
        with gr.Column(scale=6):
            ui.submit = gr.Button(value="Apply settings", variant="primary", elem_id="settings_submit")
        with gr.Column():
            restart = gr.Button(value="Reload UI", variant="primary", elem_id="settings_restart_gradio")
    ui.result = gr.HTML(elem_id="settings_result")
    with forms.FormRow():
        gr.Textbox(label="Search", show_label=False, placeholder="Search...", elem_id="settings_search",
                   elem_classes=["search"])
    pages = [tuple(info.section) for _key, info in ordered_settings() if info.section and info.section[0] is not None]
    with gr.Row(elem_id="settings", equal_height=False):
        with gr.Column(scale=1, min_width=200, elem_id="settings_nav_column"):
            gr.HTML(navigation_html(list(dict.fromkeys(pages))), elem_id="settings_nav")
        with gr.Column(scale=5, elem_id="settings_pages"):
            _create_pages(ui, frozen)
    gr.Button(value="Show all pages", elem_id="settings_show_all_pages")
    ui.text_settings = gr.Textbox(elem_id="settings_json", value=lambda: current_services().opts.dumpjson(),
                                  visible=False)

    keys = list(ui.keys)
    ui.submit.click(fn=lambda *values: run_settings(keys, *values), inputs=ui.components,
                    outputs=[ui.text_settings, ui.result], show_progress="hidden")
    # the page waits for the server to go down and come back, then loads again (A1111's restart_reload)
    restart.click(fn=request_reload_ui, js="() => { webuiReloadUi(); return []; }", show_progress="hidden")
    return ui


def request_reload_ui() -> None:
    """Reload UI: the serving loop imports the scripts again and builds the page again, in this process."""
    current_services().state.request_restart()


EXTRA_PAGES = [("tab_defaults", "Defaults"), ("tab_sysinfo", "Sysinfo"), ("tab_actions", "Actions"),
               ("tab_licenses", "Licenses")]


def navigation_html(sections: list[tuple]) -> str:
    """The list of pages on the left, with a heading above the first page of each category (A1111's layout)."""
    headings = {title: category for title, category in section_categories()}
    items = []
    for section_id, title in [*sections, *EXTRA_PAGES]:
        if title in headings:
            items.append(f"<div class='settings-category'>{html.escape(headings[title])}</div>")
        elif section_id == "tab_defaults":
            items.append("<div class='settings-category'>Other</div>")
        items.append(f"<button class='settings-nav-item' data-page='settings_{html.escape(section_id)}'>"
                     f"{html.escape(title)}</button>")
    return f"<nav class='settings-nav'>{''.join(items)}</nav>"


def _create_pages(ui: SettingsUi, frozen: bool) -> None:
    """One column per section (shown one at a time by the page script), then the extra pages."""
    previous = None
    page = None
    for key, info in ordered_settings():
        section = tuple(info.section or (None, None))
        if section[0] is None or (key in ui.quicksettings_names and not frozen):
            continue
        if section != previous:
            if page is not None:
                page.__exit__(None, None, None)
            page = _Page(section)
            page.__enter__()
            previous = section
        component = create_setting_component(key)
        ui.component_dict[key] = component
        if type(component).__name__ != "HTML":
            ui.keys.append(key)
            ui.components.append(component)
    if page is not None:
        page.__exit__(None, None, None)
    _extra_pages()


def _page(elem_id: str) -> Any:
    import gradio as gr

    return gr.Column(variant="compact", elem_id=elem_id, elem_classes=["settings-page"])


class _Page:
    """One settings section: a compact column the navigation shows or hides."""

    def __init__(self, section: tuple) -> None:
        self.column = _page(f"settings_{section[0]}")

    def __enter__(self) -> "_Page":
        self.column.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.column.__exit__(*exc)


def _extra_pages() -> None:
    """Defaults, Sysinfo, Actions and Licenses."""
    import gradio as gr

    with _page("settings_tab_defaults"):
        ui_config_defaults.create_defaults_page()
    with _page("settings_tab_sysinfo"):
        gr.HTML('<a href="./internal/sysinfo-download" class="sysinfo_big_link" download>Download system info</a><br />'
                '<a href="./internal/sysinfo">(or open as text in a new page)</a>', elem_id="sysinfo_download")
    with _page("settings_tab_actions"):
        _actions()
    with _page("settings_tab_licenses"):
        gr.HTML(LICENSES_HTML, elem_id="licenses")


def calculate_all_checkpoint_hashes(threads: float | None = 1) -> str:
    """Settings > Actions: the sha256 of every listed checkpoint (cached; ``threads`` files at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    registry = current_services().checkpoints
    infos = list(registry.checkpoints_list.values()) if registry is not None else []
    workers = max(1, min(int(threads or 1), 16))

    def digest(info: Any) -> None:
        hashing.sha256(registry.cache, info.filename, info.hash_title, no_hashing=registry.no_hashing)

    # the file reads in parallel; retitling the list (from the cache, at once) one by one
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(digest, infos))
    hashes = [info.calculate_shorthash() for info in infos]
    done = sum(1 for h in hashes if h)
    return f"Calculated hashes for {done} of {len(infos)} checkpoints."


def _actions() -> None:
    import gradio as gr

    request_notifications = gr.Button(value="Request browser notifications", elem_id="request_notifications")
    download_localization = gr.Button(value="Download localization template", elem_id="download_localization")
    reload_bodies = gr.Button(value="Reload custom script bodies (No ui updates, No restart)", variant="secondary",
                              elem_id="settings_reload_script_bodies")
    with gr.Row():
        unload = gr.Button(value="Unload SD checkpoint to RAM", elem_id="sett_unload_sd_model")
        reload = gr.Button(value="Load SD checkpoint to VRAM from RAM", elem_id="sett_reload_sd_model")
    with gr.Row():
        calculate_hashes = gr.Button(value="Calculate hash for all checkpoint", elem_id="calculate_all_checkpoint_hash")
        hash_threads = gr.Number(value=1, label="Number of parallel calculations", precision=0, minimum=1,
                                 elem_id="calculate_all_checkpoint_hash_threads")
    message = gr.HTML(elem_id="settings_actions_result")
    download_localization.click(fn=None, js="() => { download_localization(); }")
    request_notifications.click(fn=None, js="() => { if (window.Notification) Notification.requestPermission(); }")

    def reload_scripts() -> str:
        reload_script_body_only()
        return "Script bodies reloaded."

    def model_action(name: str) -> str:
        services = current_services()
        manager = services.model_manager
        if manager is None or services.sd_model is None and name == "unload":
            return "No checkpoint is loaded."
        with queue_lock:
            getattr(manager, name)()
        return "Done."

    reload_bodies.click(fn=reload_scripts, outputs=[message], show_progress="hidden")
    calculate_hashes.click(fn=calculate_all_checkpoint_hashes, inputs=[hash_threads], outputs=[message])
    unload.click(fn=lambda: model_action("unload"), outputs=[message])
    reload.click(fn=lambda: model_action("reload"), outputs=[message])
