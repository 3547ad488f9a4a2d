"""The Extensions tab: the Installed list, read-only for now (SPEC 11.4).

Installing, updating and disabling need the launcher's git and restart
machinery; until the UI has it, the table shows what is installed (name, URL,
branch, version, date) and the other sub-tabs say where to do it by hand.
"""
from __future__ import annotations

import datetime
import html

READ_ONLY_NOTE = ("Extensions are listed read-only in this version: install one by cloning it into the "
                  "<code>extensions</code> folder, disable one with the <code>disabled_extensions</code> setting, "
                  "then restart the web UI.")


def _version_cells(path: str) -> tuple[str, str, str, str]:
    from modules.api.extension_info import git_details

    details = git_details(path)
    date = ""
    if details.commit_date.isdigit():
        date = datetime.datetime.fromtimestamp(int(details.commit_date)).strftime("%Y-%m-%d %H:%M:%S")
    return details.remote, details.branch, details.commit_hash[:8], date


def installed_html() -> str:
    """The Installed table (A1111's columns, without the update checks)."""
    from modules import shared

    rows = []
    for ext in shared.extensions or []:
        remote, branch, version, date = _version_cells(ext.path)
        remote_html = f"<a href='{html.escape(remote)}' target='_blank'>{html.escape(remote)}</a>" if remote else ""
        checked = " checked='checked'" if ext.enabled else ""
        style = " class='extension_status builtin'" if ext.is_builtin else " class='extension_status'"
        rows.append(f"<tr><td><label><input type='checkbox' disabled{checked} name='enable_{html.escape(ext.name)}'>"
                    f"{html.escape(ext.name)}</label></td><td>{remote_html}</td><td>{html.escape(branch)}</td>"
                    f"<td>{html.escape(version)}</td><td>{html.escape(date)}</td>"
                    f"<td{style}>{'built-in' if ext.is_builtin else 'unknown'}</td></tr>")
    body = "".join(rows) or "<tr><td colspan='6'>No extensions found.</td></tr>"
    return ("<table id='extensions'><thead><tr><th>Extension</th><th>URL</th><th>Branch</th><th>Version</th>"
            f"<th>Date</th><th><abbr title='Use checkbox to mark the extension for update'>Update</abbr></th></tr>"
            f"</thead><tbody>{body}</tbody></table>")


def create_extensions_tab() -> None:
    """Build the tab in the current gradio context."""
    import gradio as gr

    with gr.Tabs(elem_id="tabs_extensions"):
        with gr.Tab("Installed", id="installed"):
            gr.HTML(f"<p class='extensions-note'>{READ_ONLY_NOTE}</p>", elem_id="extensions_read_only_note")
            with gr.Row(elem_id="extensions_installed_top"):
                # shown disabled: what the tab will do once extensions can be managed from the page
                gr.Button(value="Check for updates", elem_id="check_for_updates", interactive=False)
                gr.Button(value="Apply and restart UI", elem_id="extensions_apply", variant="primary",
                                  interactive=False)
            table = gr.HTML(value=installed_html, elem_id="extensions_installed_html")
            reload = gr.Button(value="Refresh list", elem_id="extensions_refresh_list")
        with gr.Tab("Available", id="available"):
            gr.HTML(f"<p>{READ_ONLY_NOTE}</p>", elem_id="extensions_available_note")
        with gr.Tab("Install from URL", id="install_from_url"):
            gr.HTML(f"<p>{READ_ONLY_NOTE}</p>", elem_id="extensions_install_note")
        with gr.Tab("Backup/Restore", id="backup_restore"):
            gr.HTML("<p>Config states are not available in this version.</p>", elem_id="extensions_backup_note")
    reload.click(fn=installed_html, outputs=[table], show_progress="hidden")
