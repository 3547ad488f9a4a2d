"""The system report: a JSON description of this install, for bug reports (``--dump-sysinfo`` writes it to a
file, the running UI serves it at ``/internal/sysinfo`` and ``/internal/sysinfo-download``).

Nothing heavy is imported: package versions come from ``importlib.metadata``.
Secrets are redacted before anything is written: environment variables whose
name contains ``TOKEN``, ``KEY``, ``SECRET``, ``PASSWORD`` or ``AUTH``, passwords
inside URLs, the values of ``--api-auth``, ``--gradio-auth``, ``--ngrok`` and
``--ngrok-options`` (also inside ``COMMANDLINE_ARGS``), and settings whose name
has one of those words as a part.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shlex
import sys
from typing import Any, Mapping, Sequence

from modules.core.extensions import list_extensions
from modules.core.git import commit_hash, git_tag
from modules.core.paths import DataPaths

REDACTED = "<redacted>"
SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "AUTH")
SECRET_FLAGS = ("--api-auth", "--gradio-auth", "--ngrok", "--ngrok-options")
KEY_PACKAGES = (
    "torch", "torchvision", "xformers", "gradio", "fastapi", "uvicorn", "pydantic", "transformers", "open-clip-torch",
    "safetensors", "spandrel", "spandrel-extra-arches", "facexlib", "omegaconf", "numpy", "pillow", "piexif", "tqdm",
    "pyngrok", "accelerate",
)
_URL_PASSWORD = re.compile(r"(\w+://[^/\s:@]+:)[^@\s/]+@")


def is_secret_name(name: str) -> bool:
    """Whether an environment variable called ``name`` may hold a secret."""
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def is_secret_setting(key: str) -> bool:
    """Whether a setting key has a secret word as one of its ``_``/``-`` separated parts."""
    parts = {p.upper() for p in re.split(r"[_\-.]+", key)}
    return bool(parts & {"TOKEN", "KEY", "SECRET", "PASSWORD", "AUTH", "APIKEY", "PASSWD"})


def redact_url_passwords(text: str) -> str:
    """``https://user:pass@host`` -> ``https://user:<redacted>@host``."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """The arguments with the values of secret-carrying flags replaced."""
    result: list[str] = []
    redact_next = False
    for arg in argv:
        if redact_next:
            result.append(REDACTED)
            redact_next = False
            continue
        flag, eq, _value = arg.partition("=")
        if flag in SECRET_FLAGS:
            if eq:
                result.append(f"{flag}={REDACTED}")
            else:
                result.append(arg)
                redact_next = True
            continue
        result.append(redact_url_passwords(arg))
    return result


def redact_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment with secret-named variables, URL passwords and secret flags in ``COMMANDLINE_ARGS`` redacted."""
    result = {}
    for name in sorted(environ):
        value = environ[name]
        if is_secret_name(name):
            value = REDACTED
        elif name == "COMMANDLINE_ARGS":
            try:
                value = shlex.join(redact_argv(shlex.split(value)))
            except ValueError:  # unbalanced quotes: keep nothing rather than a secret
                value = REDACTED
        else:
            value = redact_url_passwords(value)
        result[name] = value
    return result


def redact_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config.json`` with secret-named settings redacted."""
    return {k: (REDACTED if is_secret_setting(k) else v) for k, v in config.items()}


def read_config(path: str) -> dict[str, Any]:
    """The settings in ``path`` as a dict; ``{}`` when the file is missing, unreadable or not a JSON object."""
    try:
        with open(path, encoding="utf8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def installed_version(name: str) -> str | None:
    """The installed version of distribution ``name`` (``-``, ``_`` and ``.`` spellings tried), or None."""
    normal = re.sub(r"[-_.]+", "-", name).lower()
    for candidate in dict.fromkeys((name, normal, normal.replace("-", "_"))):
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def package_versions(names: Sequence[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` when missing), without importing them."""
    return {name: installed_version(name) for name in names}


def installed_packages() -> list[str]:
    """Every installed distribution as ``name==version``, sorted."""
    found = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.add(f"{name}=={dist.version}")
    return sorted(found, key=str.lower)


def cpu_info() -> dict[str, Any]:
    """Processor model, architecture and core count."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf8") as file:
            for line in file:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"model": model, "machine": platform.machine(), "count logical": os.cpu_count()}


def ram_info() -> dict[str, Any]:
    """Total and available memory in bytes, where the OS tells."""
    info: dict[str, Any] = {}
    try:
        info["total"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    try:
        with open("/proc/meminfo", encoding="utf8") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    info["available"] = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return info


def collect_sysinfo(
    argv: Sequence[str],
    paths: DataPaths,
    cmd_opts: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    exceptions: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """Everything the sysinfo file holds, already redacted.  ``config`` defaults to ``config.json`` on disk (the
    running UI passes its live settings); ``exceptions`` (the errors reported since start) are added when given."""
    environ = os.environ if environ is None else environ
    config = read_config(paths.config_file) if config is None else dict(config)
    extensions = list_extensions(paths, config, cmd_opts)
    describe = [{"name": e.name, "path": e.path, "builtin": e.is_builtin} for e in extensions]
    info = {
        "Platform": platform.platform(),
        "Python": platform.python_version(),
        "Version": git_tag(paths.install_dir),
        "Commit": commit_hash(paths.install_dir),
        "Script path": paths.install_dir,
        "Data path": paths.data_dir,
        "Extensions dir": paths.extensions_dir,
        "Commandline": redact_argv([sys.argv[0] if sys.argv else "launch.py", *argv]),
        "CPU": cpu_info(),
        "RAM": ram_info(),
        "Versions": package_versions(),
        "Extensions": [d for d, e in zip(describe, extensions) if e.enabled],
        "Inactive extensions": [d for d, e in zip(describe, extensions) if not e.enabled],
        "Environment": redact_environ(environ),
        "Config": redact_config(config),
        "Packages": installed_packages(),
    }
    if exceptions is not None:
        info["Exceptions"] = [{k: redact_url_passwords(str(v)) for k, v in e.items()} for e in exceptions]
    return info


def sysinfo_text(info: Mapping[str, Any]) -> str:
    """The JSON text, with a ``Checksum`` (sha256 of the text without it) so edits can be spotted."""
    body = json.dumps(dict(info), indent=4, ensure_ascii=False, default=str)
    checksum = hashlib.sha256(body.encode("utf8")).hexdigest()
    return json.dumps({"Checksum": checksum, **info}, indent=4, ensure_ascii=False, default=str)


def sysinfo_filename(now: datetime.datetime | None = None) -> str:
    """``sysinfo-YYYY-MM-DD-HH-MM.json`` for ``now`` (UTC by default), A1111's name for the report."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return f"sysinfo-{now.strftime('%Y-%m-%d-%H-%M')}.json"


def write_sysinfo(
    argv: Sequence[str],
    paths: DataPaths,
    cmd_opts: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime.datetime | None = None,
) -> str:
    """Write ``sysinfo-YYYY-MM-DD-HH-MM.json`` (UTC) in the data dir; returns its path."""
    os.makedirs(paths.data_dir, exist_ok=True)
    path = os.path.join(paths.data_dir, sysinfo_filename(now))
    text = sysinfo_text(collect_sysinfo(argv, paths, cmd_opts, environ))
    with open(path, "w", encoding="utf8") as file:
        file.write(text)
    return path
