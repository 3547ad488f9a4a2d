"""Pasting infotext that names LoRAs (``infotext_pasted`` callbacks).

- ``Lora hashes: "alias: 0123456789ab, ..."``: each ``<lora:alias:`` of the prompt is
  rewritten to the local file with that short hash (by its alias or name, as the
  UI would insert it), so a picture made with a renamed file still finds it.
- ``AddNet Model N`` / ``AddNet Weight A N`` (kohya's Additional Networks extension)
  become ``<lora:name:weight>`` tags, unless that extension is installed to read them.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from modules.networks.lora.network_files import NetworkFiles

re_lora = re.compile(r"<lora:([^:]+):")
re_network_name = re.compile(r"(.*)\s*\([0-9a-fA-F]+\)")


def parse_lora_hashes(text: str) -> dict[str, str]:
    """``"a: 0123, b: 4567"`` -> ``{"a": "0123", "b": "4567"}`` (entries without a colon are skipped)."""
    result = {}
    for entry in text.split(","):
        name, sep, shorthash = entry.strip().partition(":")
        if sep:
            result[name.strip()] = shorthash.strip()
    return result


def rewrite_by_hashes(prompt: str, hashes: dict[str, str], files: NetworkFiles) -> str:
    """Point each ``<lora:alias:`` of ``prompt`` at the local file whose short hash the infotext recorded."""
    def replacement(m: re.Match) -> str:
        shorthash = hashes.get(m.group(1))
        on_disk = files.hash_lookup.get(shorthash) if shorthash else None
        return m.group(0) if on_disk is None else f"<lora:{on_disk.get_alias()}:"

    return re_lora.sub(replacement, prompt)


def make_hashes_handler(files: NetworkFiles) -> Callable[[str, dict[str, Any]], None]:
    """The ``infotext_pasted`` callback for ``Lora hashes``."""
    def infotext_pasted(infotext: str, params: dict[str, Any]) -> None:
        text = params.get("Lora hashes")
        if not text or "Prompt" not in params:
            return
        files.ensure_listed()
        params["Prompt"] = rewrite_by_hashes(params["Prompt"], parse_lora_hashes(str(text)), files)

    return infotext_pasted


def addnet_tags(params: dict[str, Any]) -> list[str]:
    """``<lora:name:weight>`` for each ``AddNet Model N`` of module ``LoRA`` (the hash in ``name(hash)`` dropped)."""
    tags = []
    for key in list(params):
        if not key.startswith("AddNet Model "):
            continue
        num = key[len("AddNet Model "):]
        if params.get(f"AddNet Module {num}") != "LoRA":
            continue
        name = params.get(key)
        if name is None:
            continue
        m = re_network_name.match(str(name))
        if m:
            name = m.group(1)
        tags.append(f"<lora:{name}:{params.get(f'AddNet Weight A {num}', '1.0')}>")
    return tags


def make_addnet_handler(paste_labels: Callable[[], Iterable[str]]) -> Callable[[str, dict[str, Any]], None]:
    """The ``infotext_pasted`` callback for Additional Networks fields; ``paste_labels`` gives the labels
    txt2img scripts paste, to leave the fields to that extension when it is installed."""
    def infotext_pasted(infotext: str, params: dict[str, Any]) -> None:
        if "AddNet Module 1" in set(paste_labels()):
            return
        tags = addnet_tags(params)
        if tags:
            params["Prompt"] = params.get("Prompt", "") + "\n" + "".join(tags)

    return infotext_pasted
