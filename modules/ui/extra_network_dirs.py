"""The directory view of an extra-networks page: the folders inside the page's model folders, drawn as a row of
"Dirs" buttons or as a "Tree" of folders and files beside the cards (setting ``extra_networks_tree_view_style``).

Hidden folders (a name starting with ``.``) are left out of the view unless
``extra_networks_show_hidden_directories``; the cards of models inside them follow
``extra_networks_hidden_models`` (Always / When searched / Never).  Dir buttons
are ``sub/``, or ``/sub/`` with ``extra_networks_dir_button_function`` (A1111's
spelling; in the page such a button shows that folder's own cards instead of
searching).  No gradio here: the page script (``javascript/extra_networks.js``)
filters the cards when a folder is chosen.
"""
from __future__ import annotations

import html
import os
import re
from typing import Any

from modules.ui.components import opt
from modules.ui.extra_network_pages import Item, Page


def natural_key(text: str) -> list[Any]:
    """Sort key that puts ``v2`` before ``v10`` (A1111's ``natural_sort_key``)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def is_hidden(local_path: str) -> bool:
    """Whether a ``/``-separated path goes through a hidden folder (a name starting with ``.``)."""
    return any(part.startswith(".") for part in local_path.split("/")[:-1])


def hidden_rule() -> str:
    """Setting ``extra_networks_hidden_models``: ``Always``, ``When searched`` or ``Never``."""
    return str(opt("extra_networks_hidden_models", "When searched"))


def directories(page: Page) -> list[str]:
    """The folders under the page's folders, ``/``-separated and relative to their model folder, natural order."""
    show_hidden = bool(opt("extra_networks_show_hidden_directories", True))
    found: set[str] = set()
    for root in page.roots():
        if not os.path.isdir(root):
            continue
        for current, dirs, _files in os.walk(root, followlinks=True):
            for name in dirs:
                relative = os.path.relpath(os.path.join(current, name), root).replace(os.sep, "/")
                if show_hidden or not any(part.startswith(".") for part in relative.split("/")):
                    found.add(relative)
    return sorted(found, key=natural_key)


def button_text(directory: str) -> str:
    """What a dir button shows and searches for: ``sub/``, or ``/sub/`` with ``extra_networks_dir_button_function``."""
    return ("/" if opt("extra_networks_dir_button_function", False) else "") + directory + "/"


def view_enabled() -> bool:
    """Whether the directory view is open when the page is first shown."""
    return bool(opt("extra_networks_tree_view_default_enabled", True))


def dirs_html(prefix: str, page: Page, folders: list[str]) -> str:
    """A1111's "Dirs" view: an "all" button, then one button per folder."""
    if not folders:
        return ""
    exact = "true" if opt("extra_networks_dir_button_function", False) else "false"
    buttons = "".join(
        f"<button class='extra-network-dir-button' data-dir='{html.escape(d, quote=True)}'>"
        f"{html.escape(button_text(d))}</button>" for d in folders)
    hidden = "" if view_enabled() else " hidden"
    return (f"<div class='extra-network-dirs{hidden}' id='{prefix}_dirs' data-exact='{exact}'>"
            f"<button class='extra-network-dir-button search-all' data-dir=''>all</button>{buttons}</div>")


def tree_html(prefix: str, page: Page, folders: list[str], items: list[Item]) -> str:
    """A1111's "Tree" view: the folders, each holding its subfolders and the names of its files, as nested lists
    (``extra_networks_tree_view_default_width`` pixels wide)."""
    children: dict[str, list[str]] = {}
    for folder in folders:
        children.setdefault(folder.rpartition("/")[0], []).append(folder)
    files: dict[str, list[Item]] = {}
    for item in items:
        files.setdefault(item.local_path.rpartition("/")[0], []).append(item)

    def branch(parent: str) -> str:
        rows = []
        for folder in children.get(parent, []):
            name = folder.rpartition("/")[2]
            rows.append(f"<li class='tree-dir' data-dir='{html.escape(folder, quote=True)}'>"
                        f"<span class='tree-label'>&#x1f4c1; {html.escape(name)}</span>"
                        f"<ul class='tree-children'>{branch(folder)}</ul></li>")
        for item in sorted(files.get(parent, []), key=lambda i: natural_key(i.local_path)):
            rows.append(f"<li class='tree-file' data-name='{html.escape(item.name, quote=True)}'>"
                        f"<span class='tree-label'>&#x1f4c4; {html.escape(item.name)}</span></li>")
        return "".join(rows)

    width = int(opt("extra_networks_tree_view_default_width", 180) or 180)
    hidden = "" if view_enabled() else " hidden"
    return (f"<div class='extra-network-tree{hidden}' id='{prefix}_tree' style='width: {width}px;'>"
            f"<ul class='tree-root'>{branch('')}</ul></div>")


def view_html(prefix: str, page: Page, items: list[Item]) -> tuple[str, str]:
    """The directory view for the page's style: (HTML beside the cards for "Tree", HTML above them for "Dirs")."""
    folders = directories(page)
    if opt("extra_networks_tree_view_style", "Dirs") == "Tree":
        return tree_html(prefix, page, folders, items), ""
    return "", dirs_html(prefix, page, folders)


def shown_cards(items: list[Item]) -> list[tuple[Item, bool]]:
    """The cards to draw and whether each appears only for a search of 4 characters or more (a model inside a hidden
    folder with ``extra_networks_hidden_models`` = When searched; Never leaves it out, Always shows it)."""
    rule = hidden_rule()
    result = []
    for item in items:
        hidden = is_hidden(item.local_path)
        if hidden and rule == "Never":
            continue
        result.append((item, hidden and rule != "Always"))
    return result
