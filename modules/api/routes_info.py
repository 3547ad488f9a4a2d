"""Listing and inspection routes: samplers, schedulers, hypernetworks, styles, embeddings, scripts,
extensions, memory, png-info, interrogate.

Each reads the live objects of the running web UI (:func:`modules.core.services.current_services`)
and answers A1111's shapes; none waits for the job queue, and none imports torch unless a model is already loaded.
"""
from __future__ import annotations

import math
import numbers
import os
import sys
from typing import Any

from modules.api import models
from modules.api.errors import ApiError
from modules.api.images import decode_base64_to_image
from modules.core.services import current_services
from modules.processing.image_saving_info import read_info_from_image
from modules.processing.infotext_parse import parse_generation_parameters
from modules.runtime.extension_details import git_details
from modules.runtime.interrogation import INTERROGATION_MODELS, interrogate_with
from modules.runtime.queue_lock import queue_lock
from modules.sampling.registry import samplers_api_list
from modules.sampling.schedulers import schedulers_api_list
from modules.scripting import callbacks


def get_samplers() -> list[dict]:
    return samplers_api_list()


def get_schedulers() -> list[dict]:
    return schedulers_api_list()


def list_hypernetworks() -> dict[str, str]:
    """Hypernetwork name -> file (``--hypernetwork-dir``, recursively; ``.pt``/``.ckpt``/``.safetensors``)."""
    services = current_services()
    listed = services.hypernetworks
    if isinstance(listed, dict):
        return listed
    folder = getattr(services.cmd_opts, "hypernetwork_dir", None) if services.cmd_opts is not None else None
    found: dict[str, str] = {}
    if not folder or not os.path.isdir(folder):
        return found
    for root, _dirs, files in sorted(os.walk(folder, followlinks=True)):
        for name in sorted(files):
            stem, ext = os.path.splitext(name)
            if ext.lower() in (".pt", ".ckpt", ".safetensors"):
                found.setdefault(stem, os.path.join(root, name))
    return found


def get_hypernetworks() -> list[dict]:
    return [{"name": name, "path": path} for name, path in list_hypernetworks().items()]


def get_prompt_styles() -> list[dict]:
    styles = current_services().prompt_styles
    return styles.api_items() if styles is not None else []


def get_embeddings() -> dict:
    db = current_services().embeddings
    if db is None:
        return {"loaded": {}, "skipped": {}}
    return db.api_answer()


def get_scripts_list() -> dict:
    services = current_services()

    def names(runner: Any) -> list[str]:
        return [s.name for s in (runner.scripts if runner is not None else []) if s.name is not None]

    return {"txt2img": names(services.scripts_txt2img), "img2img": names(services.scripts_img2img)}


def get_script_info() -> list[dict]:
    services = current_services()
    result = []
    for runner in (services.scripts_txt2img, services.scripts_img2img):
        if runner is None or not runner.scripts:
            continue
        if any(s.api_info is None for s in runner.scripts):
            runner.ensure_args_layout()  # builds the scripts' components (imports gradio once)
        for script in runner.scripts:
            info = script.api_info
            if info is None:
                continue
            args = [{"label": a.label, "value": a.value, "minimum": a.minimum, "maximum": a.maximum, "step": a.step,
                     "choices": a.choices} for a in info.args]
            result.append({"name": info.name, "is_alwayson": info.is_alwayson, "is_img2img": info.is_img2img,
                           "args": args})
    return result


def get_extensions_list() -> list[dict]:
    """Every installed extension (A1111 lists git clones only); git details when it is a clone."""
    listed = []
    for ext in current_services().extensions or []:
        if getattr(ext, "is_builtin", False):
            continue
        details = git_details(ext.path)
        listed.append({"name": ext.name, "remote": details.remote, "branch": details.branch,
                       "commit_hash": details.commit_hash, "version": details.commit_hash[:8],
                       "commit_date": details.commit_date, "enabled": bool(ext.enabled)})
    return listed


def get_memory() -> dict:
    """RAM of this process and CUDA memory (when torch is loaded and sees a GPU)."""
    try:
        import psutil

        process = psutil.Process(os.getpid())
        rss = process.memory_info().rss
        total = psutil.virtual_memory().total
        ram: dict[str, Any] = {"free": total - rss, "used": rss, "total": total}
    except Exception as e:  # psutil missing or the platform refuses
        ram = {"error": f"{e}"}
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_available():
            cuda: dict[str, Any] = {"error": "unavailable"}
        else:
            free, total = torch.cuda.mem_get_info()
            s = dict(torch.cuda.memory_stats())
            cuda = {
                "system": {"free": free, "used": total - free, "total": total},
                "active": {"current": s["active_bytes.all.current"], "peak": s["active_bytes.all.peak"]},
                "allocated": {"current": s["allocated_bytes.all.current"], "peak": s["allocated_bytes.all.peak"]},
                "reserved": {"current": s["reserved_bytes.all.current"], "peak": s["reserved_bytes.all.peak"]},
                "inactive": {"current": s["inactive_split_bytes.all.current"], "peak": s["inactive_split_bytes.all.peak"]},
                "events": {"retries": s["num_alloc_retries"], "oom": s["num_ooms"]},
            }
    except Exception as e:  # a driver error is reported, not raised
        cuda = {"error": f"{e}"}
    manager = getattr(current_services(), "model_manager", None)
    placement = manager.memory.report() if getattr(manager, "memory", None) is not None else {}
    return {"ram": ram, "cuda": cuda, "placement": placement}


_SKIP = object()


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, (tuple, list)):
        converted = [_json_value(v) for v in value]
        return _SKIP if any(c is _SKIP for c in converted) else converted
    return _SKIP  # bytes (ICC profiles, raw EXIF) and other objects are left out


def _json_safe(items: dict) -> dict:
    """Picture info items as JSON values."""
    safe = {str(key): _json_value(value) for key, value in items.items()}
    return {key: value for key, value in safe.items() if value is not _SKIP}


def pnginfoapi(req: models.PNGInfoRequest) -> Any:
    """The infotext of a picture, its other text items, and the infotext parsed as the paste button does."""
    if not req.image.strip():
        return {"info": "", "items": {}, "parameters": {}}
    image = decode_base64_to_image(req.image, "image")
    geninfo, items = read_info_from_image(image)
    geninfo = geninfo or ""
    services = current_services()
    params = parse_generation_parameters(geninfo, settings=services.opts, styles=services.prompt_styles)
    callbacks.infotext_pasted_callback(geninfo, params)
    return {"info": geninfo, "items": _json_safe(items), "parameters": params}


def interrogateapi(req: models.InterrogateRequest) -> Any:
    """A caption for a picture: BLIP + CLIP matches (``clip``) or DeepDanbooru tags (``deepdanbooru``).

    Queued behind generations (A1111 holds the queue lock); a model file that is not in its folder is a 404
    naming the file and the folder (:class:`~modules.models.model_files.ModelFileMissingError`).
    """
    if not req.image:
        raise ApiError(404, "Image not found", key="image")
    image = decode_base64_to_image(req.image, "image").convert("RGB")
    if req.model not in INTERROGATION_MODELS:
        raise ApiError(404, "Model not found", key="model")
    with queue_lock:
        caption = interrogate_with(current_services(), req.model, image)
    return {"caption": caption}


def register(api: Any) -> None:
    """Add the listing routes to ``api`` (the :class:`modules.api.api.Api`)."""
    route = api.add_api_route
    route("/sdapi/v1/png-info", pnginfoapi, methods=["POST"], response_model=models.PNGInfoResponse)
    route("/sdapi/v1/interrogate", interrogateapi, methods=["POST"], response_model=models.InterrogateResponse)
    route("/sdapi/v1/samplers", get_samplers, methods=["GET"], response_model=list[models.SamplerItem])
    route("/sdapi/v1/schedulers", get_schedulers, methods=["GET"], response_model=list[models.SchedulerItem])
    route("/sdapi/v1/hypernetworks", get_hypernetworks, methods=["GET"], response_model=list[models.HypernetworkItem])
    route("/sdapi/v1/prompt-styles", get_prompt_styles, methods=["GET"], response_model=list[models.PromptStyleItem])
    route("/sdapi/v1/embeddings", get_embeddings, methods=["GET"], response_model=models.EmbeddingsResponse)
    route("/sdapi/v1/memory", get_memory, methods=["GET"], response_model=models.MemoryResponse)
    route("/sdapi/v1/scripts", get_scripts_list, methods=["GET"], response_model=models.ScriptsList)
    route("/sdapi/v1/script-info", get_script_info, methods=["GET"], response_model=list[models.ScriptInfo])
    route("/sdapi/v1/extensions", get_extensions_list, methods=["GET"], response_model=list[models.ExtensionItem])
