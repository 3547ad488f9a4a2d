"""Network files a job uses travel to the workers that lack them, through Ray's object store, by hash.

On one machine the workers read the orchestrator's models folders and nothing travels.  A worker on another node
has its own folders: the LoRA, hypernetwork, textual-inversion embedding and VAE files a job names may be missing
there.  Before dispatching, the orchestrator lists the files the job uses (:func:`job_files`: the prompts'
``<lora:...>``/``<lyco:...>``/``<hypernet:...>`` tags, the embeddings whose names the prompts contain, the
job's VAE) with their sha256, when some worker runs on another node; each file's bytes are put in the object
store once per content (:class:`FileStore`).  A worker checks each file at the same place in its
own folder for that role (:func:`ensure_files`): the same content is used as it is, a missing file is written
from the object store and the role's list refreshed, and a different file of the same name is an error naming
the node and the file (a worker never overwrites a user's file).  Checkpoints do not travel (gigabytes per
job): each node needs its own copy, and a worker without it is skipped with the reason
(``CheckpointMissingError``).
"""
from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from modules.core.hashing import calculate_sha256
from modules.distributed.job_spec import network_tags

LORA_EXTENSION_MODULE = "networks"
"""The built-in Lora extension's module (its name in ``sys.modules``, as A1111 names it)."""
ROLES = ("lora", "hypernetwork", "embedding", "vae")



class NetworkFileError(RuntimeError):
    """A job's network file cannot be put in place on a worker: its folder holds another file of that name, its
    path leaves the folder, or its bytes arrived damaged."""


@dataclass(frozen=True)
class ShippedFile:
    """One file a job uses, as the workers receive it."""

    role: str
    """Which folder it belongs in: one of :data:`ROLES`."""
    relative: str
    """Its path inside that folder, ``/``-separated (sub-folders kept: names in prompts may rely on them)."""
    sha256: str
    size: int
    data: Any = None
    """The object-store reference of its bytes."""


# --- both sides: where a role's files live, with a hash cache ---------------------------------------------------

_HASHES: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def file_sha256(path: str) -> str:
    """The file's sha256, cached by path, size and modification time (a job names the same files again)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    with _HASH_LOCK:
        known = _HASHES.get(key)
    if known is None:
        known = calculate_sha256(path)
        with _HASH_LOCK:
            _HASHES[key] = known
    return known


def role_folders(services: Any) -> dict[str, list[str]]:
    """This process's folders of each role, the first being where a received file goes."""
    cmd_opts, paths = services.cmd_opts, services.paths
    embeddings = getattr(services, "embeddings", None)
    embedding_dirs = list(getattr(embeddings, "embedding_dirs", None) or [])
    vae_files = getattr(services, "vae_files", None)
    vae_places = [folder for folder, _ in vae_files.search_places()] if vae_files is not None else []
    return {
        "lora": [d for d in (getattr(cmd_opts, "lora_dir", None), getattr(cmd_opts, "lyco_dir_backcompat", None)) if d],
        "hypernetwork": [d for d in (getattr(cmd_opts, "hypernetwork_dir", None),) if d],
        "embedding": [paths.embeddings_dir] + [d for d in embedding_dirs if d != paths.embeddings_dir],
        "vae": ([vae_files.vae_path] if vae_files is not None else []) + vae_places,
    }


def _relative_in(path: str, folders: Iterable[str]) -> str:
    """``path`` inside the first of ``folders`` that holds it (its file name when none does)."""
    path = os.path.abspath(path)
    for folder in folders:
        folder = os.path.abspath(folder)
        if path.startswith(folder + os.sep):
            return os.path.relpath(path, folder).replace(os.sep, "/")
    return os.path.basename(path)


# --- the orchestrator: what a job uses ---------------------------------------------------------------------------

def job_files(services: Any, prompts: Iterable[str], vae_name: str | None) -> list[tuple[str, str, str]]:
    """(role, absolute path, path inside the role's folder) of every network file the job's prompts and VAE name."""
    texts = [text for text in prompts if text]
    folders = role_folders(services)
    found: dict[str, tuple[str, str]] = {}

    def add(role: str, path: str | None) -> None:
        if path and os.path.isfile(path):
            found.setdefault(os.path.abspath(path), (role, _relative_in(path, folders[role])))

    lora = sys.modules.get(LORA_EXTENSION_MODULE)
    hypernetworks = getattr(services, "hypernetworks_registry", None)
    for kind, name in network_tags(texts):
        if kind in ("lora", "lyco") and lora is not None:
            entry = lora.available_network_aliases.get(name) or lora.available_networks.get(name)
            add("lora", getattr(entry, "filename", None))
        elif kind == "hypernet" and hypernetworks is not None:
            add("hypernetwork", getattr(hypernetworks, "available", {}).get(name))
    embeddings = getattr(services, "embeddings", None)
    for name, embedding in list(getattr(embeddings, "word_embeddings", {}).items()):
        if any(name in text for text in texts):
            add("embedding", getattr(embedding, "filename", None))
    vae_files = getattr(services, "vae_files", None)
    if vae_name and vae_files is not None:
        add("vae", vae_files.vae_dict.get(vae_name))
    return [(role, path, relative) for path, (role, relative) in found.items()]


class FileStore:
    """The orchestrator's object-store copies of the files jobs used, one per content (kept for the session)."""

    def __init__(self, put: Callable[[bytes], Any]) -> None:
        self._put = put
        self._refs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def manifest(self, files: list[tuple[str, str, str]]) -> list[ShippedFile]:
        """The :class:`ShippedFile` of each (role, path, relative), its bytes put in the store the first time."""
        shipped = []
        for role, path, relative in files:
            sha = file_sha256(path)
            with self._lock:
                ref = self._refs.get(sha)
                if ref is None:
                    with open(path, "rb") as f:
                        ref = self._refs[sha] = self._put(f.read())
            shipped.append(ShippedFile(role, relative, sha, os.path.getsize(path), ref))
        return shipped


# --- the worker: make sure it has them ---------------------------------------------------------------------------

def ensure_files(services: Any, files: list[ShippedFile], fetch: Callable[[Any], bytes],
                 worker: str = "") -> list[str]:
    """Put every file of ``files`` this worker lacks into its folder for the role and refresh that role's list;
    returns the paths written.  Raises :class:`NetworkFileError` where its folder has another file of that name."""
    folders = role_folders(services)
    written: list[str] = []
    for item in files:
        places = folders.get(item.role) or []
        if not places:
            raise NetworkFileError(f"worker {worker} on node {socket.gethostname()} has no folder for {item.role} "
                                    f"files ({item.relative})")
        if os.path.isabs(item.relative) or ".." in item.relative.split("/"):
            raise NetworkFileError(f"{item.relative!r} is not a path inside the {item.role} folder")
        existing = next((os.path.join(folder, item.relative) for folder in places
                         if os.path.isfile(os.path.join(folder, item.relative))), None)
        if existing is not None:
            if file_sha256(existing) != item.sha256:
                raise NetworkFileError(
                    f"{existing} on node {socket.gethostname()} (worker {worker}) is not the orchestrator's "
                    f"{item.relative} (sha256 {file_sha256(existing)[:10]} here, {item.sha256[:10]} there): rename "
                    "one of them")
            continue
        target = os.path.join(places[0], item.relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        data = fetch(item.data)
        if hashlib.sha256(data).hexdigest() != item.sha256:
            raise NetworkFileError(f"the bytes received for {item.relative} do not have its sha256")
        partial = f"{target}.{os.getpid()}.partial"
        with open(partial, "wb") as f:
            f.write(data)
        os.replace(partial, target)
        written.append(target)
    if written:
        refresh_roles(services, {item.role for item in files})
    return written


def refresh_roles(services: Any, roles: set[str]) -> None:
    """List the files of these roles again, so the job finds what was just written."""
    if "lora" in roles:
        lora = sys.modules.get(LORA_EXTENSION_MODULE)
        if lora is not None:
            lora.list_available_networks()
    if "hypernetwork" in roles and getattr(services, "hypernetworks_registry", None) is not None:
        services.hypernetworks_registry.refresh()
    if "embedding" in roles and getattr(services, "embeddings", None) is not None:
        services.embeddings.load_textual_inversion_embeddings(force_reload=True)
    if "vae" in roles and getattr(services, "vae_files", None) is not None:
        services.vae_files.refresh()
