"""The HTML of one extra-networks page: a control row (search, sort, order, refresh) and one card per item.

Cards carry what the page script needs as ``data-`` attributes (text to insert,
sort keys, search terms); ``javascript/extra_networks.js`` filters, sorts and
inserts.  Card size and text settings are A1111's (``extra_networks_card_*``).
"""
from __future__ import annotations

import html
import json
import os
import urllib.parse
from typing import Any

from modules.core.errors import report
from modules.ui.components import opt
from modules.ui.extra_network_dirs import shown_cards, view_html
from modules.ui.extra_network_pages import Item, Page, page_roots

SORT_FIELDS = [("path", "Path"), ("name", "Name"), ("date_created", "Date Created"), ("date_modified", "Date Modified")]


def _attr(value: Any) -> str:
    return html.escape(str(value), quote=True)


def preview_url(filename: str) -> str:
    """The thumbnail route for a preview picture (``mtime`` added so a new preview is fetched again)."""
    try:
        mtime = int(os.path.getmtime(filename))
    except OSError:
        mtime = 0
    return f"./sd_extra_networks/thumb?filename={urllib.parse.quote(filename)}&mtime={mtime}"


def cover_image_url(page: Page, item: Item) -> str:
    """The route serving the first picture of the file's ``ssmd_cover_images`` metadata."""
    query = urllib.parse.urlencode({"page": page.id_page, "item": item.name, "index": 0})
    return f"./sd_extra_networks/cover-images?{query}"


def search_path(page: Page, item: Item) -> str:
    """The path the search box matches: the model folder's name, then the path inside it (``Lora/sub/x.pt``), so
    that a dir button's ``sub/`` or ``/sub/`` finds the cards of that folder (A1111's search terms)."""
    roots = page_roots(page.id_page)
    if not roots:
        return item.local_path
    path = os.path.abspath(item.filename)
    root = next((r for r in roots if path.startswith(r + os.sep)), roots[0])
    return f"{os.path.basename(root)}/{item.local_path}"


def card_html(tabname: str, page: Page, item: Item, search_only: bool = False) -> str:
    """One card: preview (or the name on a plain background), name, description, hidden search terms;
    ``search_only`` cards (hidden folders) appear only for a search of 4 characters or more."""
    width, height = opt("extra_networks_card_width", 0), opt("extra_networks_card_height", 0)
    style = []
    if width:
        style.append(f"width: {int(width)}px;")
    if height:
        style.append(f"height: {int(height)}px;")
    scale = opt("extra_networks_card_text_scale", 1.0)
    show_description = opt("extra_networks_card_show_desc", True)
    description = ""
    if show_description and item.description:
        text = item.description if opt("extra_networks_card_description_is_html", False) else html.escape(item.description)
        description = f"<span class='description'>{text}</span>"
    source = preview_url(item.preview) if item.preview else cover_image_url(page, item) if item.cover_image else ""
    preview = f"<img src='{_attr(source)}' class='preview' loading='lazy' alt=''>" if source else ""
    data = {
        "data-name": item.name,
        "data-prompt": json.dumps(item.prompt),
        "data-neg": json.dumps(item.negative_prompt),
        "data-allow-neg": "true" if page.allow_negative_prompt else "false",
        "data-checkpoint": item.checkpoint_title or "",
        "data-search": " ".join([item.name, search_path(page, item), *item.search_terms]).lower(),
        "data-dir": item.local_path.rpartition("/")[0],
        "data-search-only": "true" if search_only else "false",
        "data-sd-version": item.sd_version,
        **{f"data-sort-{key.replace('_', '-')}": value for key, value in item.sort_keys.items()},
    }
    attributes = " ".join(f"{k}='{_attr(v)}'" for k, v in data.items())
    metadata_button = ("<div class='card-button metadata-button' title='Show internal metadata'>&#x24d8;</div>"
                       if item.has_metadata else "")
    buttons = (f"<div class='button-row'>{metadata_button}<div class='card-button edit-button' title='Edit metadata'>"
               "&#x1f6e0;&#xfe0f;</div></div>")
    return (f"<div class='card' style='{' '.join(style)} font-size: {float(scale) * 100:.0f}%' {attributes} "
            f"title='{_attr(item.name)}'>{preview}{buttons}<div class='actions'><div class='name'>"
            f"{html.escape(item.name)}</div>{description}</div></div>")


def controls_html(tabname: str, page: Page) -> str:
    """Search box, sort field, ascending/descending and refresh, for one page."""
    prefix = f"{tabname}_{page.id_page}"
    current = opt("extra_networks_card_order_field", "Path")
    options = "".join(f"<option value='{key}'{' selected' if label == current else ''}>{label}</option>"
                      for key, label in SORT_FIELDS)
    descending = opt("extra_networks_card_order", "Ascending") == "Descending"
    return (f"<div class='extra-network-controls' id='{prefix}_controls'>"
            f"<input type='search' class='extra-network-search' id='{prefix}_extra_search' placeholder='Search...'>"
            f"<select class='extra-network-sort' id='{prefix}_extra_sort' title='Sort by'>{options}</select>"
            f"<button class='extra-network-order' id='{prefix}_extra_sort_dir' data-descending='{str(descending).lower()}'"
            f" title='Sort order'>{'&#x2193;' if descending else '&#x2191;'}</button>"
            f"<button class='extra-network-refresh' id='{prefix}_extra_refresh' title='Refresh page'>&#x1f504;</button>"
            f"<button class='extra-network-tree-toggle' id='{prefix}_extra_tree_view' title='Show or hide the "
            f"directory view'>&#x1f5c0;</button></div>")


def page_html(tabname: str, page: Page, *, empty: bool = False) -> str:
    """The whole page; ``empty`` gives the "Loading..." placeholder A1111 shows until the page is opened."""
    prefix = f"{tabname}_{page.id_page}"
    if empty:
        return f"<div class='extra-network-pane' id='{prefix}_pane' data-tabname='{tabname}'>Loading...</div>"
    try:
        items = page.items()
    except Exception as e:  # one page failing must not break the others
        report(f"Error listing {page.title}", exc_info=True)
        return f"<div class='extra-network-pane error'>Error listing {html.escape(page.title)}: {html.escape(str(e))}</div>"
    cards = "".join(card_html(tabname, page, item, search_only) for item, search_only in shown_cards(items))
    if not items:
        cards = (f"<div class='nocards'><h1>Nothing here. Add some content to the following directories:</h1>"
                 f"<ul>{_dirs_html(page)}</ul></div>")
    tree, dirs = view_html(prefix, page, items)
    return (f"<div class='extra-network-pane' id='{prefix}_pane' data-tabname='{tabname}' "
            f"data-page='{page.id_page}'>{controls_html(tabname, page)}{dirs}"
            f"<div class='extra-network-content'>{tree}"
            f"<div class='extra-network-cards' id='{prefix}_cards'>{cards}</div></div></div>")


def _dirs_html(page: Page) -> str:
    return "".join(f"<li>{html.escape(d)}</li>" for d in page_roots(page.id_page))
