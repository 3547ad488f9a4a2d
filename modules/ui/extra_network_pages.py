"""What the extra-networks pages list: embeddings, hypernetworks, checkpoints and LoRAs found on disk (SPEC 9.4).

Each page turns its files into :class:`Item` records (name, the text a click
inserts, preview picture, description, sort keys, search terms); the cards are
drawn from them by :mod:`modules.ui.extra_network_cards`.  No gradio here.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from modules.core.safetensors_header import SafetensorsHeaderError, read_metadata
from modules.core.services import current_services
from modules.networks.hypernetworks.setup import live_registry
from modules.ui.components import opt

PREVIEW_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif")


@dataclass
class Item:
    """One card."""

    name: str
    filename: str
    prompt: str = ""
    """Text a click adds to (or removes from) the prompt; empty for checkpoints."""
    negative_prompt: str = ""
    """Text a click adds to the negative prompt (a LoRA's "negative text")."""
    description: str = ""
    preview: str | None = None
    """A picture file next to the model, shown on the card."""
    search_terms: list[str] = field(default_factory=list)
    sort_keys: dict[str, Any] = field(default_factory=dict)
    checkpoint_title: str | None = None
    """For checkpoint cards: the title a click selects."""
    has_metadata: bool = False
    """The file carries safetensors metadata: the card shows the ⓘ button (A1111)."""
    cover_image: bool = False
    """The file's metadata holds pictures (``ssmd_cover_images``): without a preview file the card shows the first,
    through ``/sd_extra_networks/cover-images``."""
    sd_version: str = ""
    """For LoRA cards: the version the card is for (user metadata ``sd version``, else detected)."""
    local_path: str = ""
    """The file's path inside its page's folder, ``/``-separated (set by :meth:`Page.items`)."""


def find_preview(path: str) -> str | None:
    """``<stem>.<ext>`` or ``<stem>.preview.<ext>`` next to ``path`` (also in setting ``samples_format``)."""
    stem = os.path.splitext(path)[0]
    extensions = [*PREVIEW_EXTENSIONS, str(opt("samples_format", "png"))]
    for candidate in (f"{stem}.{ext}" for ext in extensions):
        if os.path.isfile(candidate):
            return candidate
    for candidate in (f"{stem}.preview.{ext}" for ext in extensions):
        if os.path.isfile(candidate):
            return candidate
    return None


def user_metadata(path: str) -> dict[str, Any]:
    """The user's notes for a model (``<stem>.json``: description, activation text, preferred weight...)."""
    filename = os.path.splitext(path)[0] + ".json"
    if not os.path.isfile(filename):
        return {}
    try:
        with open(filename, encoding="utf8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_description(path: str, metadata: dict[str, Any]) -> str:
    """User metadata ``description``, else ``<stem>.txt`` / ``<stem>.description.txt``."""
    if metadata.get("description"):
        return str(metadata["description"])
    stem = os.path.splitext(path)[0]
    for candidate in (f"{stem}.txt", f"{stem}.description.txt"):
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf8", errors="replace") as f:
                    return f.read()
            except OSError:
                continue
    return ""


def sort_keys(path: str, name: str) -> dict[str, Any]:
    """Values the page sorts by: Path, Name, Date Created, Date Modified."""
    try:
        stat = os.stat(path)
        created, modified = stat.st_ctime, stat.st_mtime
    except OSError:
        created = modified = 0
    return {"path": path.lower(), "name": name.lower(), "date_created": int(created), "date_modified": int(modified)}


def _item(name: str, path: str, prompt: str = "", **kwargs: Any) -> Item:
    metadata = user_metadata(path)
    return Item(name=name, filename=path, prompt=prompt, description=find_description(path, metadata),
                preview=find_preview(path), search_terms=[path], sort_keys=sort_keys(path, name), **kwargs)


def _multiplier() -> str:
    value = opt("extra_networks_default_multiplier", 1.0)
    return f"{value:g}" if isinstance(value, float) else str(value)


def textual_inversion_items(enable_filter: bool = True) -> list[Item]:
    """The embeddings; with a model loaded and ``enable_filter``, only those the model can use (A1111 lists the
    loaded ones: an embedding for another version, of another width, is "skipped")."""
    db = current_services().embeddings
    if db is None:
        return []
    embeddings = dict(getattr(db, "word_embeddings", {}))
    if not (enable_filter and current_services().sd_model is not None):
        embeddings.update(getattr(db, "skipped_embeddings", {}))
    items = []
    for name, embedding in embeddings.items():
        path = getattr(embedding, "filename", None) or name
        items.append(_item(name, path, prompt=name))
    return items


def hypernetwork_items(enable_filter: bool = True) -> list[Item]:
    registry = live_registry()
    registry.ensure_listed()
    return [_item(name, path, prompt=f"<hypernet:{name}:{_multiplier()}>") for name, path in registry.available.items()]


def checkpoint_items(enable_filter: bool = True) -> list[Item]:
    services = current_services()
    if services.checkpoints is None:
        return []
    items = []
    for info in list(services.checkpoints.checkpoints_list.values()):
        item = _item(info.name_for_extra, info.filename, checkpoint_title=info.title)
        item.search_terms.append(info.shorthash or "")
        item.has_metadata = bool(info.metadata)
        items.append(item)
    return items


def lora_items(enable_filter: bool = True) -> list[Item]:
    """LoRAs of the built-in Lora extension (none when it is disabled); with ``enable_filter``, those for another
    version of Stable Diffusion than the loaded model's are left out (:func:`lora_shown_for_model`)."""
    networks = sys.modules.get("networks")
    if networks is None or not hasattr(networks, "files"):
        return []
    networks.files.ensure_listed()
    forbidden = getattr(networks, "forbidden_network_aliases", {}) or {}
    use_alias = opt("lora_preferred_name", "Alias from file") == "Alias from file"
    items = []
    for name, lora in list(networks.available_networks.items()):
        alias = getattr(lora, "alias", name)
        shown = alias if use_alias and alias.lower() not in forbidden else name
        metadata = user_metadata(lora.filename)
        weight = metadata.get("preferred weight") or opt("extra_networks_default_multiplier", 1.0)
        prompt = f"<lora:{shown}:{weight:g}>" if isinstance(weight, float) else f"<lora:{shown}:{weight}>"
        if metadata.get("activation text"):
            prompt += f" {metadata['activation text']}"
        negative = f"({metadata['negative text']}:1)" if metadata.get("negative text") else ""
        version = lora_version(lora, metadata)
        if enable_filter and not lora_shown_for_model(version, current_services().sd_model):
            continue
        item = _item(name, lora.filename, prompt=prompt, negative_prompt=negative)
        item.search_terms += [alias, getattr(lora, "shorthash", "") or ""]
        file_meta = getattr(lora, "metadata", None) or {}
        item.has_metadata = bool(file_meta)
        item.cover_image = bool(cover_images(file_meta))
        item.sd_version = version
        items.append(item)
    return items


def lora_version(lora: Any, user: dict[str, Any]) -> str:
    """The user metadata's ``sd version`` when it names one, else the version detected from the file's metadata."""
    chosen = user.get("sd version")
    if isinstance(chosen, str) and chosen in SD_VERSIONS:
        return chosen
    detected = getattr(lora, "sd_version", None)
    return getattr(detected, "name", None) or "Unknown"


def model_version(model: Any) -> str:
    """``SD1``, ``SD2`` or ``SDXL`` for a loaded model (the versions LoRAs are filtered by)."""
    if getattr(model, "is_sdxl", False):
        return "SDXL"
    return "SD2" if getattr(model, "is_sd2", False) else "SD1"


def lora_shown_for_model(version: str, model: Any) -> bool:
    """A1111's filter of the Lora page: everything with ``lora_show_all`` or without a model; a LoRA of unknown
    version unless the model's version is in ``lora_hide_unknown_for_versions``; otherwise only the model's own
    version."""
    if opt("lora_show_all", False) or model is None:
        return True
    if version == "Unknown":
        return model_version(model) not in (opt("lora_hide_unknown_for_versions", []) or [])
    return version == model_version(model)


def cover_images(metadata: dict[str, Any]) -> list[str]:
    """The base64 pictures of metadata key ``ssmd_cover_images`` (a JSON list), [] when absent or malformed."""
    value = metadata.get("ssmd_cover_images")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [x for x in value if isinstance(x, str) and x] if isinstance(value, list) else []


def refresh_textual_inversion() -> None:
    services = current_services()
    if services.embeddings is not None:
        services.embeddings.load_textual_inversion_embeddings(force_reload=True)


def refresh_hypernetworks() -> None:
    live_registry().refresh()


def refresh_checkpoints() -> None:
    services = current_services()
    if services.checkpoints is not None:
        services.checkpoints.refresh()


def refresh_loras() -> None:
    networks = sys.modules.get("networks")
    if networks is not None and hasattr(networks, "list_available_networks"):
        networks.list_available_networks()


@dataclass
class Page:
    """One extra-networks page."""

    title: str
    list_items: Callable[..., list[Item]]
    """``list_items(enable_filter=True)``: the cards; without the filter also those hidden for the loaded model."""
    refresh: Callable[[], None]
    allow_negative_prompt: bool = False

    @property
    def name(self) -> str:
        return self.title.lower()

    @property
    def id_page(self) -> str:
        """``textual_inversion``, ``lora``... (part of the element ids)."""
        return self.name.replace(" ", "_")

    def roots(self) -> list[str]:
        """The folders this page lists files from (absolute, existing or not)."""
        return page_roots(self.id_page)

    def items(self, enable_filter: bool = True) -> list[Item]:
        """The cards with their :attr:`Item.local_path` inside this page's folders."""
        roots = self.roots()
        found = self.list_items(enable_filter=enable_filter)
        for item in found:
            item.local_path = local_path(item.filename, roots)
        return found


def page_roots(page_id: str) -> list[str]:
    """The folders of page ``page_id``: embeddings, hypernetworks, checkpoints (both folders), LoRA."""
    services = current_services()
    paths, cmd_opts = services.paths, services.cmd_opts
    dirs = {
        "textual_inversion": [getattr(paths, "embeddings_dir", None)],
        "hypernetworks": [getattr(cmd_opts, "hypernetwork_dir", None)],
        "checkpoints": [getattr(paths, "sd_models_dir", None), getattr(paths, "ckpt_dir", None)],
        "lora": [getattr(cmd_opts, "lora_dir", None), getattr(cmd_opts, "lyco_dir_backcompat", None)],
    }.get(page_id, [])
    return list(dict.fromkeys(os.path.abspath(d) for d in dirs if d))


def local_path(filename: str, roots: list[str]) -> str:
    """``filename`` relative to the first of ``roots`` holding it, ``/``-separated (its base name elsewhere)."""
    path = os.path.abspath(filename)
    for root in roots:
        if os.path.commonpath([root, path]) == root and path != root:
            return os.path.relpath(path, root).replace(os.sep, "/")
    return os.path.basename(filename)


def builtin_pages() -> list[Page]:
    """The pages in A1111's registration order, then setting ``ui_extra_networks_tab_reorder`` applied."""
    pages = [
        Page("Textual Inversion", textual_inversion_items, refresh_textual_inversion, allow_negative_prompt=True),
        Page("Hypernetworks", hypernetwork_items, refresh_hypernetworks),
        Page("Checkpoints", checkpoint_items, refresh_checkpoints),
    ]
    if sys.modules.get("networks") is not None or _lora_extension_enabled():
        pages.append(Page("Lora", lora_items, refresh_loras, allow_negative_prompt=True))
    order = [x.strip().lower() for x in str(opt("ui_extra_networks_tab_reorder", "") or "").split(",") if x.strip()]

    def rank(indexed: tuple[int, Page]) -> tuple[int, int]:
        index, page = indexed
        matches = [i for i, fragment in enumerate(order) if fragment in page.name]
        return (matches[0] if matches else len(order), index)

    return [page for _, page in sorted(enumerate(pages), key=rank)]


def _lora_extension_enabled() -> bool:
    extensions = current_services().extensions or []
    return any(getattr(ext, "name", "") == "Lora" and getattr(ext, "enabled", False) for ext in extensions)


def allowed_preview_dirs() -> list[str]:
    """Folders whose pictures ``/sd_extra_networks/thumb`` may serve (the model folders)."""
    services = current_services()
    dirs: list[str] = []
    paths = services.paths
    cmd_opts = services.cmd_opts
    for value in (getattr(paths, "sd_models_dir", None), getattr(paths, "ckpt_dir", None),
                  getattr(paths, "embeddings_dir", None), getattr(cmd_opts, "lora_dir", None),
                  getattr(cmd_opts, "lyco_dir_backcompat", None), getattr(cmd_opts, "hypernetwork_dir", None)):
        if value:
            dirs.append(os.path.abspath(value))
    return dirs


USER_METADATA_FIELDS = {
    "textual_inversion": ["description", "notes"],
    "hypernetworks": ["description", "notes"],
    "checkpoints": ["description", "notes", "vae"],
    "lora": ["description", "notes", "sd version", "activation text", "preferred weight", "negative text"],
}
"""The keys of ``<stem>.json`` each page's user metadata editor shows (A1111's names)."""

SD_VERSIONS = ["Unknown", "SD1", "SD2", "SDXL"]


def vae_choices() -> list[str]:
    """The checkpoint editor's "Preferred VAE": Automatic (the usual rules), None (the checkpoint's own), a file."""
    files = getattr(current_services().vae_files, "vae_dict", None) or {}
    return ["Automatic", "None", *files]


class UserMetadataError(ValueError):
    """A request to read or save user metadata names nothing known, or carries a bad value."""


def find_item(page_id: str, name: str) -> tuple[Page, Item]:
    """The page with id ``page_id`` and its card named ``name`` (only listed items: no path comes from a request)."""
    for page in builtin_pages():
        if page.id_page == page_id:
            for item in page.items(enable_filter=False):
                if item.name == name:
                    return page, item
            raise UserMetadataError(f"{page.title} has no item named {name!r}")
    raise UserMetadataError(f"No extra networks page {page_id!r}")


def file_metadata(path: str) -> dict[str, Any]:
    """The ``__metadata__`` of a safetensors file (values that hold JSON decoded), else {} (also for a broken
    file: the card still works, only its metadata is missing)."""
    if not path.lower().endswith(".safetensors") or not os.path.isfile(path):
        return {}
    try:
        return read_metadata(path)
    except (OSError, SafetensorsHeaderError):
        return {}


def user_metadata_view(page: Page, item: Item) -> dict[str, Any]:
    """What the user metadata editor shows: the file's facts and the editable fields with their values."""
    import datetime

    stored = user_metadata(item.filename)
    try:
        stat = os.stat(item.filename)
        size, modified = stat.st_size, datetime.datetime.fromtimestamp(stat.st_mtime).strftime("%Y-%m-%d %H:%M")
    except OSError:
        size, modified = 0, ""
    fields = USER_METADATA_FIELDS.get(page.id_page, ["description", "notes"])
    values = {key: stored.get(key, "") for key in fields}
    values["description"] = stored.get("description") or item.description
    if "vae" in fields:
        values["vae"] = stored.get("vae") or "Automatic"
    return {"name": item.name, "filename": os.path.basename(item.filename), "size": size, "modified": modified,
            "fields": fields, "values": values, "sd_versions": SD_VERSIONS,
            "vae_choices": vae_choices() if "vae" in fields else [],
            "tags": training_tags(file_metadata(item.filename)) if page.id_page == "lora" else []}


def training_tags(metadata: dict[str, Any]) -> list[tuple[str, int]]:
    """A LoRA's training-set tags with their counts, most frequent first (kohya's ``ss_tag_frequency``, summed
    over its datasets): the LoRA editor's "Training dataset tags"."""
    frequency = metadata.get("ss_tag_frequency")
    if not isinstance(frequency, dict):
        return []
    counts: dict[str, int] = {}
    for dataset in frequency.values():
        if not isinstance(dataset, dict):
            continue
        for tag, count in dataset.items():
            tag = str(tag).strip()
            if tag and isinstance(count, (int, float)):
                counts[tag] = counts.get(tag, 0) + int(count)
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def save_user_metadata(page: Page, item: Item, values: Any) -> dict[str, Any]:
    """Write the editor's ``values`` into ``<stem>.json`` (other keys kept); returns what was stored."""
    if not isinstance(values, dict):
        raise UserMetadataError("Send the fields as a JSON object")
    fields = USER_METADATA_FIELDS.get(page.id_page, ["description", "notes"])
    stored = user_metadata(item.filename)
    for key, value in values.items():
        if key not in fields:
            raise UserMetadataError(f"Unknown field {key!r}")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise UserMetadataError(f"{key}: expected text or a number")
        if key == "preferred weight":
            try:
                value = float(value or 0)
            except ValueError:
                raise UserMetadataError("preferred weight: expected a number from 0 to 2") from None
            if not 0 <= value <= 2:
                raise UserMetadataError("preferred weight: expected a number from 0 to 2")
        elif key == "sd version" and value not in SD_VERSIONS:
            raise UserMetadataError(f"sd version: one of {', '.join(SD_VERSIONS)}")
        elif key == "vae" and value not in vae_choices():
            raise UserMetadataError(f"vae: {value!r} is not a VAE of this install")
        stored[key] = value if key == "preferred weight" else str(value)
    filename = os.path.splitext(item.filename)[0] + ".json"
    with open(filename, "w", encoding="utf8") as f:
        json.dump(stored, f, indent=4, ensure_ascii=False)
    return stored


MAX_PREVIEW_BYTES = 32 * 1024 * 1024
"""A preview sent by the editor's "Replace preview" larger than this is refused."""


def replace_preview(item: Item, data_url: Any) -> str:
    """"Replace preview": save the picture in ``data_url`` (``data:image/...;base64,...`` or plain base64) as
    ``<stem>.png`` beside the card's file, with its infotext; returns the written path.  Only pictures are
    accepted, and only for a listed card: no path comes from the request."""
    import base64
    import binascii
    import io

    from PIL import Image, PngImagePlugin, UnidentifiedImageError

    if not isinstance(data_url, str) or not data_url.strip():
        raise UserMetadataError("Send the picture as a data URL")
    encoded = data_url.strip().partition(",")[2] if data_url.startswith("data:") else data_url.strip()
    if len(encoded) > MAX_PREVIEW_BYTES * 4 // 3 + 4:
        raise UserMetadataError("The picture is too large for a preview")
    try:
        image = Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))
        image.load()
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise UserMetadataError(f"Not a picture: {e}") from None
    info = PngImagePlugin.PngInfo()
    for key, value in (image.info or {}).items():
        if isinstance(key, str) and isinstance(value, str):
            info.add_text(key, value)
    target = os.path.splitext(item.filename)[0] + ".png"
    image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(target, format="PNG", pnginfo=info)
    return target
