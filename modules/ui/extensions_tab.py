"""The Extensions tab (SPEC 11.4): Installed, Available, Install from URL, Backup/Restore.

A1111's ``modules/ui_extensions.py`` in gradio 6, with its handler names,
labels and elem_ids.  The Installed table is HTML whose checkboxes
(``enable_<name>``, ``update_<name>``) are read by ``javascript/extensions.js``
(``extensions_apply``, ``extensions_check``) and handed to the handlers as JSON
lists.  The work itself is in :mod:`modules.runtime.extensions_install` and
:mod:`modules.runtime.config_states`; each handler refuses when extension access is off,
and then the buttons are drawn disabled too.

Handlers never raise to gradio: a refusal or a failure becomes a message in the
tab's result box (the last output).
"""
from __future__ import annotations

import datetime
import functools
import html
import json
import os
import time
from typing import Any, Callable

from modules.core.errors import report
from modules.core.extensions import disable_mode
from modules.core.services import current_services
from modules.runtime import config_states, extensions_install
from modules.runtime.extension_details import git_details
from modules.ui.components import refresh_button

DEFAULT_INDEX_URL = "https://raw.githubusercontent.com/AUTOMATIC1111/stable-diffusion-webui-extensions/master/index.json"
STYLE_PRIMARY = ' style="color: var(--primary-400)"'
SORT_ORDERS = ["newest first", "oldest first", "a-z", "z-a", "internal order", "update time", "create time", "stars"]
TAG_CHOICES = ["script", "ads", "localization", "installed"]
DEFAULT_HIDDEN_TAGS = ["ads", "localization", "installed"]
ACCESS_DISABLED_NOTE = ("Extension access is disabled because of command line flags (the web UI listens publicly "
                        "without --enable-insecure-extension-access): this tab is read-only.")

available_extensions: dict[str, Any] = {"extensions": []}
"""The last index loaded with "Load from:" (A1111's module global)."""


def _update() -> dict:
    return {"__type__": "update"}  # gr.update() without importing gradio


def _error_html(e: BaseException) -> str:
    return f"<div class='error'>{html.escape(str(e))}</div>"


def _handled(outputs_before_message: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a refusal or a failure of the handler into an error message in its last output; the outputs before it
    stay as they are."""
    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def handler(*args: Any) -> Any:
            expected = (extensions_install.ExtensionAccessError, extensions_install.ExtensionInstallError,
                        ValueError, OSError, KeyError)
            try:
                return func(*args)
            except expected as e:
                message = _error_html(e)
            except Exception as e:  # noqa: BLE001 - the page gets the message, the console the traceback

                report(f"Error in the Extensions tab ({func.__name__})", exc_info=True)
                message = _error_html(e)
            if outputs_before_message == 0:
                return message
            return (*[_update() for _ in range(outputs_before_message)], message)

        return handler

    return wrap


def _json_list(text: str, what: str) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError as e:
        raise ValueError(f"wrong {what} data: {text!r}") from e
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"wrong {what} data: {text!r}")
    return value


# --- Installed ----------------------------------------------------------------------------------------------------

def make_commit_link(commit_hash: str, remote: str, text: str | None = None) -> str:
    """A link to the commit on GitHub, else the text (the short hash by default)."""
    if text is None:
        text = commit_hash if commit_hash.startswith("<") else commit_hash[:8]  # "<unknown>" stays whole
    text = html.escape(text)
    if remote.startswith("https://github.com/"):
        href = remote[:-4] if remote.endswith(".git") else remote
        return f'<a href="{html.escape(href)}/commit/{html.escape(commit_hash)}" target="_blank">{text}</a>'
    return text


def _disabled_globally(ext: Any) -> bool:
    services = current_services()
    mode = disable_mode(services.opts.data, services.cmd_opts)
    return mode == "all" or (mode == "extra" and not ext.is_builtin)


def extension_table() -> str:
    """The Installed table (A1111's columns and checkbox names)."""
    services = current_services()
    read_only = "" if extensions_install.access_allowed() else " disabled"
    rows = []
    for ext in services.extensions or []:
        details = git_details(ext.path) if extensions_install.is_git_clone(ext.path) else None
        remote = details.remote if details else ""
        name = html.escape(ext.name)
        remote_html = (f'<a href="{html.escape(remote)}" target="_blank">'
                       f'{html.escape("built-in" if ext.is_builtin else remote)}</a>')
        status = extensions_install.last_statuses.get(ext.name)
        if status is not None and status.can_update:
            status_html = (f'<label><input class="gr-check-radio gr-checkbox" name="update_{name}" checked="checked" '
                           f'type="checkbox"{read_only}>{html.escape(status.status)}</label>')
        else:
            status_html = html.escape(status.status if status is not None else "unknown")
        version = details.commit_hash[:8] if details else ""
        version_html = make_commit_link(details.commit_hash, remote, version) if details and remote else version
        date = ""
        if details and details.commit_date.isdigit():
            date = str(datetime.datetime.fromtimestamp(int(details.commit_date)))
        style = STYLE_PRIMARY if _disabled_globally(ext) else ""
        checked = ' checked="checked"' if ext.enabled else ""
        status_class = ' class="extension_status"' if details else ""
        toggle = (f'<input class="gr-check-radio gr-checkbox extension_toggle" name="enable_{name}" type="checkbox"'
                  f'{checked}{read_only}>')
        rows.append(f"""
            <tr>
                <td><label{style}>{toggle}{name}</label></td>
                <td>{remote_html}</td>
                <td>{html.escape(details.branch if details else "")}</td>
                <td>{version_html}</td>
                <td>{html.escape(date)}</td>
                <td{status_class}>{status_html}</td>
            </tr>""")
    all_enabled = ' checked="checked"' if all(ext.enabled for ext in services.extensions or []) else ""
    toggle_all = f'<input class="gr-check-radio gr-checkbox all_extensions_toggle" type="checkbox"{all_enabled}{read_only}>'
    enable_tip = "Use checkbox to enable the extension; it will be enabled or disabled when you click apply button"
    update_tip = "Use checkbox to mark the extension for update; it will be updated when you click apply button"
    return f"""<!-- {time.time()} -->
    <table id="extensions">
        <thead>
            <tr>
                <th>{toggle_all}<abbr title="{enable_tip}">Extension</abbr></th>
                <th>URL</th>
                <th>Branch</th>
                <th>Version</th>
                <th>Date</th>
                <th><abbr title="{update_tip}">Update</abbr></th>
            </tr>
        </thead>
        <tbody>{"".join(rows)}
        </tbody>
    </table>
    """


installed_html = extension_table
"""The earlier name of :func:`extension_table`."""


def installed_info() -> str:
    """The note above the table: access disabled, or extensions disabled globally."""
    services = current_services()
    notes = []
    if not extensions_install.access_allowed():
        notes.append(ACCESS_DISABLED_NOTE)
    if getattr(services.cmd_opts, "disable_all_extensions", False):
        notes.append('"--disable-all-extensions" was used, remove it to load all extensions again')
    elif services.opts.data.get("disable_all_extensions", "none") != "none":
        notes.append('"Disable all extensions" was set, change it to "none" to load all extensions again')
    elif getattr(services.cmd_opts, "disable_extra_extensions", False):
        notes.append('"--disable-extra-extensions" was used, remove it to load all extensions again')
    return "".join(f'<p><span style="color: var(--primary-400);">{html.escape(n)}</span></p>' for n in notes)


def apply_label() -> str:
    """A1111's label: "Apply and quit" only when the web UI can neither restart nor reload itself."""
    return "Apply and quit" if extensions_install.restart_mode() == "quit" else "Apply and restart UI"


@_handled(0)
def apply_and_restart(disable_list: str, update_list: str, disable_all: str) -> str:
    """Apply: back up, update the marked extensions, save the disabled list, then restart (or quit)."""
    extensions_install.check_access()
    disabled = _json_list(disable_list, "disable_list")
    update = _json_list(update_list, "update_list")
    result = extensions_install.apply_changes(disabled, update, disable_all)
    failed = "".join(f"<div class='error'>Error updating {html.escape(k)}: {html.escape(v)}</div>"
                     for k, v in result.failed.items())
    how = extensions_install.restart_or_quit()
    text = "Restarting..." if how != "quit" else "The web UI stops now; start it again to load the extensions."
    return f"{failed}<span class='extensions-restarting' data-how='{how}'>{html.escape(text)}</span>"


@_handled(1)
def check_updates(disable_list: str) -> tuple[str, str]:
    """Check for updates: every git-clone extension not unticked gets its status in the table."""
    extensions_install.check_access()
    disabled = _json_list(disable_list, "disable_list")
    extensions_install.check_updates(disabled)
    return extension_table(), ""


# --- Install from URL ---------------------------------------------------------------------------------------------

@_handled(2)
def install_extension_from_url(dirname: str, url: str, branch_name: str | None = None) -> tuple[Any, str, str]:
    """Install: clone ``url`` into ``extensions/<dirname>``, run its ``install.py``, redraw the Installed table."""
    target = extensions_install.install_extension_from_url(url, branch_name, dirname)
    message = html.escape(f"Installed into {target}. Use Installed tab to restart.")
    return _update(), extension_table(), message


# --- Available ----------------------------------------------------------------------------------------------------

def index_url() -> str:
    """The default index: ``WEBUI_EXTENSIONS_INDEX`` or A1111's."""
    return os.environ.get("WEBUI_EXTENSIONS_INDEX", DEFAULT_INDEX_URL)


def _read_index(url: str) -> dict[str, Any]:
    import urllib.error
    import urllib.parse
    import urllib.request

    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"The extension index URL must be http(s):// or file://: {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            text = response.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise OSError(f"Could not load the extension index from {url}: {getattr(e, 'reason', e)}") from e
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"The extension index at {url} is not JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("extensions"), list):
        raise ValueError(f"The extension index at {url} has no \"extensions\" list")
    return data


def _sort_key(order: int) -> tuple[bool, Callable[[dict], Any]]:
    orders: list[tuple[bool, Callable[[dict], Any]]] = [
        (True, lambda x: str(x.get("added", "z"))),
        (False, lambda x: str(x.get("added", "z"))),
        (False, lambda x: str(x.get("name", "z"))),
        (True, lambda x: str(x.get("name", "z"))),
        (False, lambda x: "z"),
        (True, lambda x: str(x.get("commit_time", ""))),
        (True, lambda x: str(x.get("created_at", ""))),
        (True, lambda x: _int(x.get("stars", 0))),
    ]
    return orders[order if isinstance(order, int) and 0 <= order < len(orders) else 0]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _date(info: dict, key: str) -> str:
    try:
        parsed = datetime.datetime.strptime(str(info.get(key)), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return ""
    return parsed.replace(tzinfo=datetime.timezone.utc).astimezone().strftime("%Y-%m-%d")


def refresh_available_extensions_from_data(hide_tags: list[str], sort_column: int,
                                           filter_text: str = "") -> tuple[str, list[str]]:
    """The Available table for the loaded index, and every tag seen (for the tag checkboxes)."""
    installed_names = {ext.name for ext in current_services().extensions or []}
    installed_urls = set(extensions_install.installed_remotes())
    read_only = not extensions_install.access_allowed()
    tags = dict(available_extensions.get("tags") or {})
    to_hide = set(hide_tags or [])
    query = (filter_text or "").strip().lower()
    reverse, key = _sort_key(sort_column)
    hidden = 0
    rows = []
    for ext in sorted([e for e in available_extensions["extensions"] if isinstance(e, dict)], key=key,
                      reverse=reverse):
        url = ext.get("url")
        if not url or not isinstance(url, str):
            continue
        name = str(ext.get("name", "noname"))
        description = str(ext.get("description", ""))
        ext_tags = [str(t) for t in ext.get("tags") or []]
        existing = (extensions_install.normalize_git_url(url) in installed_urls
                    or extensions_install.normalize_git_url(url).rstrip("/").split("/")[-1] in installed_names)
        if existing:
            ext_tags.append("installed")
        for tag in ext_tags:
            tags.setdefault(tag, tag)
        if any(t in to_hide for t in ext_tags) or (query and query not in name.lower()
                                                   and query not in description.lower()):
            hidden += 1
            continue
        disabled = " disabled=disabled" if existing or read_only else ""
        button = (f'<button data-url="{html.escape(url)}"{disabled} '
                  f'class="lg secondary gradio-button custom-button extension-install-button">'
                  f'{"Installed" if existing else "Install"}</button>')
        tags_html = ", ".join(f"<span class='extension-tag' title='{html.escape(str(tags.get(t, '')))}'>"
                              f"{html.escape(t)}</span>" for t in ext_tags)
        dates = (f"Update: {html.escape(_date(ext, 'commit_time'))}  "
                 f"Added: {html.escape(str(ext.get('added', 'unknown')))}  Created: {html.escape(_date(ext, 'created_at'))}")
        info = (f'<p class="info"><span class="date_added">{dates}</span>'
                f'<span class="star_count">stars: <b>{_int(ext.get("stars", 0))}</b></span></p>')
        rows.append(f"""
            <tr>
                <td><a href="{html.escape(url)}" target="_blank">{html.escape(name)}</a><br />{tags_html}</td>
                <td>{html.escape(description)}{info}</td>
                <td>{button}</td>
            </tr>""")
    code = f"""<!-- {time.time()} -->
    <table id="available_extensions">
        <thead><tr><th>Extension</th><th>Description</th><th>Action</th></tr></thead>
        <tbody>{"".join(rows)}
        </tbody>
    </table>
    """
    if hidden > 0:
        code += f"<p>Extension hidden: {hidden}</p>"
    return code, list(tags)


@_handled(4)
def refresh_available_extensions(url: str, hide_tags: list[str], sort_column: int) -> tuple[Any, ...]:
    """"Load from:": read the index at ``url`` (http(s) or file), show it; the tag choices become its tags."""
    global available_extensions
    extensions_install.check_access()
    available_extensions = _read_index((url or "").strip())
    code, tags = refresh_available_extensions_from_data(hide_tags, sort_column)
    # gradio 6 refuses a ticked value missing from the choices: A1111's four tags stay choices
    choices = TAG_CHOICES + [t for t in tags if t not in TAG_CHOICES]
    return url, code, {"__type__": "update", "choices": choices}, "", ""


@_handled(1)
def refresh_available_extensions_for_tags(hide_tags: list[str], sort_column: int, filter_text: str) -> tuple[str, str]:
    """The tag checkboxes or the order changed."""
    code, _ = refresh_available_extensions_from_data(hide_tags, sort_column, filter_text)
    return code, ""


@_handled(1)
def search_extensions(filter_text: str, hide_tags: list[str], sort_column: int) -> tuple[str, str]:
    """The search text changed."""
    code, _ = refresh_available_extensions_from_data(hide_tags, sort_column, filter_text)
    return code, ""


@_handled(2)
def install_extension_from_index(url: str, hide_tags: list[str], sort_column: int,
                                 filter_text: str) -> tuple[str, str, str]:
    """A row's Install button: install from its URL, then redraw both tables."""
    target = extensions_install.install_extension_from_url(url)
    code, _ = refresh_available_extensions_from_data(hide_tags, sort_column, filter_text)
    return code, extension_table(), html.escape(f"Installed into {target}. Use Installed tab to restart.")


# --- Backup/Restore -----------------------------------------------------------------------------------------------

def config_state_choices() -> list[str]:
    """"Current", then the saved states, newest first."""
    return ["Current"] + list(config_states.list_config_states().keys())


@_handled(1)
def save_config_state(name: str) -> tuple[Any, str]:
    """"Save Current Config": a new file in ``config_states/``, selected in the list."""
    extensions_install.check_access()
    filename = config_states.save_config_state(name)
    choices = ["Current"] + list(config_states.all_config_states.keys())
    value = next(iter(config_states.all_config_states.keys()), "Current")
    return ({"__type__": "update", "choices": choices, "value": value},
            f"<span>Saved current webui/extension state to \"{html.escape(filename)}\"</span>")


@_handled(0)
def restore_config_state(confirmed: bool, config_state_name: str, restore_type: str) -> str:
    """"Restore Selected Config": ``extensions``, ``webui`` or ``both``; then the UI reloads (when it can)."""
    if config_state_name == "Current":
        return "<span>Select a config to restore from.</span>"
    if not confirmed:
        return "<span>Cancelled.</span>"
    extensions_install.check_access()
    if restore_type not in ("extensions", "webui", "both"):
        raise ValueError(f"unknown state to restore: {restore_type!r}")
    state = config_states.all_config_states.get(config_state_name) or config_states.list_config_states().get(
        config_state_name)
    if state is None:
        raise ValueError(f"no saved config named {config_state_name!r}")
    print(f"*** Restoring webui state from backup: {restore_type} ***")
    lines = []
    if restore_type in ("extensions", "both"):
        for r in config_states.restore_extension_config(state):
            lines.append(f"{r.name}: {r.previous} -> {r.result}" if r.success else f"{r.name}: FAILURE ({r.result})")
        extensions_install.refresh_extensions()
    if restore_type in ("webui", "both"):
        lines.append(config_states.restore_webui_config(state))
    request_restart = getattr(current_services().state, "request_restart", None)
    if callable(request_restart):
        request_restart()
        lines.append("Reloading the UI...")
    else:
        lines.append("Restart the web UI to load the restored versions.")
    return "".join(f"<div>{html.escape(line)}</div>" for line in lines)


def update_config_states_table(state_name: str) -> str:
    """The selected state ("Current": the state now): web UI and extension versions, differences highlighted."""
    try:
        if state_name == "Current":
            state = config_states.get_config()
        else:
            state = config_states.all_config_states.get(state_name) or config_states.list_config_states()[state_name]
        return _config_state_html(state, config_states.get_webui_config(),
                                  {ext.name: ext for ext in current_services().extensions or []})
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return f"<h2>This config state cannot be shown</h2>{_error_html(e)}"


def _asctime(value: Any) -> str:
    return time.asctime(time.gmtime(value)) if isinstance(value, (int, float)) and value else "<unknown>"


def _styled_row(cells: list[tuple[str, bool]]) -> str:
    """A table row of HTML cells, each in a label coloured when it differs from what is installed now."""
    tds = "".join(f"<td><label{STYLE_PRIMARY if differs else ''}>{text}</label></td>" for text, differs in cells)
    return f"        <tr>{tds}</tr>\n"


def _link(url: str) -> str:
    return f'<a href="{html.escape(url)}" target="_blank">{html.escape(url)}</a>'


def _config_state_html(state: dict, current_webui: dict, installed: dict) -> str:
    webui = state["webui"]
    remote = webui.get("remote") or ""
    commit = webui.get("commit_hash") or "<unknown>"
    commit_differs = current_webui["commit_hash"] != webui.get("commit_hash")
    webui_row = _styled_row([
        (_link(remote), current_webui["remote"] != (remote or None)),
        (html.escape(str(webui.get("branch"))), current_webui["branch"] != webui.get("branch")),
        (make_commit_link(commit, remote), commit_differs),
        (make_commit_link(commit, remote, _asctime(webui.get("commit_date"))), commit_differs),
    ])
    extension_rows = []
    for name, conf in state["extensions"].items():
        ext_remote = conf.get("remote") or ""
        ext_commit = conf.get("commit_hash") or "<unknown>"
        enabled = bool(conf.get("enabled"))
        current = installed.get(name)
        now = config_states.repo_info(current.path) if current is not None else None
        checked = ' checked="checked"' if enabled else ""
        ext_commit_differs = now is not None and now["commit_hash"] != conf.get("commit_hash")
        extension_rows.append(_styled_row([
            (f'<input class="gr-check-radio gr-checkbox" type="checkbox" disabled="true"{checked}>{html.escape(name)}',
             current is not None and current.enabled != enabled),
            (_link(ext_remote), now is not None and now["remote"] != conf.get("remote")),
            (html.escape(str(conf.get("branch") or "<unknown>")), now is not None and now["branch"] != conf.get("branch")),
            (make_commit_link(ext_commit, ext_remote), ext_commit_differs),
            (make_commit_link(ext_commit, ext_remote, _asctime(conf.get("commit_date"))), ext_commit_differs),
        ]))
    return f"""<!-- {time.time()} -->
<h2>Config Backup: {html.escape(str(state.get("name", "Config")))}</h2>
<div><b>Filepath:</b> {html.escape(str(state.get("filepath", "<unknown>")))}</div>
<div><b>Created at:</b> {html.escape(_asctime(state.get("created_at")))}</div>
<h2>WebUI State</h2>
<table id="config_state_webui">
    <thead><tr><th>URL</th><th>Branch</th><th>Commit</th><th>Date</th></tr></thead>
    <tbody>
{webui_row}    </tbody>
</table>
<h2>Extension State</h2>
<table id="config_state_extensions">
    <thead><tr><th>Extension</th><th>URL</th><th>Branch</th><th>Commit</th><th>Date</th></tr></thead>
    <tbody>
{"".join(extension_rows)}    </tbody>
</table>"""


# --- the tab ------------------------------------------------------------------------------------------------------

def create_extensions_tab() -> None:
    """Build the tab in the current gradio context."""
    import gradio as gr

    services = current_services()
    allowed = extensions_install.access_allowed()
    config_states.list_config_states()
    with gr.Tabs(elem_id="tabs_extensions"):
        with gr.Tab("Installed", id="installed"):
            with gr.Row(elem_id="extensions_installed_top"):
                apply = gr.Button(value=apply_label(), variant="primary", elem_id="extensions_apply_button",
                                  interactive=allowed)
                check = gr.Button(value="Check for updates", elem_id="extensions_check_button", interactive=allowed)
                disable_all = gr.Radio(label="Disable all extensions", choices=["none", "extra", "all"],
                                       value=lambda: current_services().opts.data.get("disable_all_extensions", "none"),
                                       elem_id="extensions_disable_all", interactive=allowed)
                disabled_list = gr.Textbox(elem_id="extensions_disabled_list", visible="hidden", container=False)
                update_list = gr.Textbox(elem_id="extensions_update_list", visible="hidden", container=False)
            info = gr.HTML(value=installed_info, elem_id="extensions_installed_info")
            table = gr.HTML(value=extension_table, elem_id="extensions_installed_html")
            refresh = gr.Button(value="Refresh list", elem_id="extensions_refresh_list")
        with gr.Tab("Available", id="available"):
            with gr.Row():
                load = gr.Button(value="Load from:", variant="primary", elem_id="extensions_load_available",
                                 interactive=allowed)
                index = gr.Textbox(value=index_url, label="Extension index URL", container=False,
                                   elem_id="extensions_index_url")
                to_install = gr.Textbox(elem_id="extension_to_install", visible="hidden")
                install_from_index = gr.Button(elem_id="install_extension_button", visible="hidden")
            with gr.Row():
                hide_tags = gr.CheckboxGroup(value=list(DEFAULT_HIDDEN_TAGS), label="Hide extensions with tags",
                                             choices=list(TAG_CHOICES),
                                             elem_id="extensions_hide_tags")
                sort_column = gr.Radio(value="newest first", label="Order", choices=SORT_ORDERS, type="index",
                                       elem_id="extensions_sort_order")
            with gr.Row():
                search = gr.Textbox(label="Search", placeholder="Search", container=False, elem_id="extensions_search")
            available_result = gr.HTML(elem_id="extensions_available_result")
            available_table = gr.HTML(elem_id="extensions_available_html")
        with gr.Tab("Install from URL", id="install_from_url"):
            install_url = gr.Textbox(label="URL for extension's git repository", elem_id="extensions_install_url")
            install_branch = gr.Textbox(label="Specific branch name", placeholder="Leave empty for default main branch",
                                        elem_id="extensions_install_branch")
            install_dirname = gr.Textbox(label="Local directory name", placeholder="Leave empty for auto",
                                         elem_id="extensions_install_dirname")
            install = gr.Button(value="Install", variant="primary", elem_id="extensions_install_button",
                                interactive=allowed)
            install_result = gr.HTML(elem_id="extension_install_result")
        with gr.Tab("Backup/Restore", id="backup_restore"):
            with gr.Row(elem_id="extensions_backup_top_row"):
                states = gr.Dropdown(label="Saved Configs", elem_id="extension_backup_saved_configs", value="Current",
                                     choices=["Current"] + list(config_states.all_config_states.keys()))
                refresh_button(states, config_states.list_config_states,
                               lambda: {"choices": ["Current"] + list(config_states.all_config_states.keys())},
                               "refresh_config_states")
                restore_type = gr.Radio(label="State to restore", choices=["extensions", "webui", "both"],
                                        value="extensions", elem_id="extension_backup_restore_type")
                restore = gr.Button(value="Restore Selected Config", variant="primary",
                                    elem_id="extension_backup_restore", interactive=allowed)
            with gr.Row(elem_id="extensions_backup_top_row2"):
                save_name = gr.Textbox("", placeholder="Config Name", show_label=False,
                                       elem_id="extension_backup_config_name")
                save = gr.Button(value="Save Current Config", elem_id="extension_backup_save", interactive=allowed)
            states_info = gr.HTML("", elem_id="extension_backup_info")
            states_table = gr.HTML(value=lambda: update_config_states_table("Current"),
                                   elem_id="extension_backup_table")
            confirmed = gr.Checkbox(visible="hidden", elem_id="extension_backup_confirmed")

    apply.click(fn=apply_and_restart, js="(...args) => extensions_apply(...args)",
                inputs=[disabled_list, update_list, disable_all], outputs=[info]
                ).then(fn=None, js="(info) => webuiExtensionsAfterApply(info)", inputs=[info])
    check.click(fn=check_updates, js="(...args) => extensions_check(...args)", inputs=[disabled_list],
                outputs=[table, info])
    refresh.click(fn=extension_table, outputs=[table], show_progress="hidden")
    install.click(fn=install_extension_from_url, inputs=[install_dirname, install_url, install_branch],
                  outputs=[install_url, table, install_result])
    load.click(fn=refresh_available_extensions, inputs=[index, hide_tags, sort_column],
               outputs=[index, available_table, hide_tags, search, available_result])
    install_from_index.click(fn=install_extension_from_index, inputs=[to_install, hide_tags, sort_column, search],
                             outputs=[available_table, table, available_result])
    search.change(fn=search_extensions, inputs=[search, hide_tags, sort_column],
                  outputs=[available_table, available_result], show_progress="hidden")
    for control in (hide_tags, sort_column):
        control.change(fn=refresh_available_extensions_for_tags, inputs=[hide_tags, sort_column, search],
                       outputs=[available_table, available_result], show_progress="hidden")
    save.click(fn=save_config_state, inputs=[save_name], outputs=[states, states_info])
    restore.click(fn=restore_config_state, js="(...args) => config_state_confirm_restore(...args)",
                  inputs=[confirmed, states, restore_type], outputs=[states_info])
    states.change(fn=update_config_states_table, inputs=[states], outputs=[states_table], show_progress="hidden")
