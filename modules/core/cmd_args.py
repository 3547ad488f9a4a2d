"""Every command-line flag of A1111 v1.10.1, in A1111's order.

Nothing is parsed here: :func:`build_parser` returns a fresh parser, and the
bootstrap (or the launcher) parses ``sys.argv`` with it.  Extensions add their
own flags through ``preload(parser)`` before parsing, exactly as in A1111.

Path flags whose A1111 default depends on the data dir default to ``None`` here
and are filled in by :func:`modules.core.paths.resolve_path_flags` once the
data dir is known, so that ``--data-dir`` moves all of them.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from typing import Sequence

from modules.core.install_dir import INSTALL_DIR

DEFAULT_PORT_UI = 7860
DEFAULT_PORT_API_ONLY = 7861


class FlagError(Exception):
    """An argument on the command line is unknown or malformed."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and calling ``sys.exit``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise FlagError(message)


def build_parser() -> argparse.ArgumentParser:
    """Return a parser holding the full A1111 1.10.1 flag set."""
    p = _Parser(prog="webui", add_help=True, allow_abbrev=False)
    a = p.add_argument

    # --- launcher (SPEC 2.1) ---
    a("-f", action="store_true", help=argparse.SUPPRESS)  # allow root; consumed by webui.sh
    a("--update-all-extensions", action="store_true", help="launch.py: download updates for all extensions when starting")
    a("--skip-python-version-check", action="store_true", help="launch.py: do not check the python version")
    a("--skip-torch-cuda-test", action="store_true", help="launch.py: do not check that torch can use the GPU")
    a("--reinstall-xformers", action="store_true", help="launch.py: install the xformers package again")
    a("--reinstall-torch", action="store_true", help="launch.py: install torch again (TORCH_COMMAND)")
    a("--update-check", action="store_true", help="launch.py: tell whether a newer version is available")
    a("--test-server", action="store_true", help="launch.py: configure the server for tests")
    a("--log-startup", action="store_true", help="launch.py: print a detailed start-up profile")
    a("--skip-prepare-environment", action="store_true", help="launch.py: skip every environment preparation step")
    a("--skip-install", action="store_true", help="launch.py: skip installing packages")
    a("--dump-sysinfo", action="store_true", help="launch.py: write a sysinfo file and exit")
    a("--loglevel", type=str, default=None, choices=["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"], help="log level")
    a("--do-not-download-clip", action="store_true", help="do not download CLIP when building a model (nothing is downloaded anyway)")

    # --- paths (SPEC 2.2) ---
    a("--data-dir", type=str, default=None, help="base folder for user data: config.json, models, embeddings, extensions, outputs")
    a("--models-dir", type=str, default=None, help="base folder for models (default: DATA_DIR/models)")
    a("--config", type=str, default=os.path.join(INSTALL_DIR, "configs", "v1-inference.yaml"), help="nominal default model config (detection decides)")
    a("--ckpt", type=str, default=None, help="checkpoint to add to the list and load")
    a("--ckpt-dir", type=str, default=None, help="extra folder with Stable Diffusion checkpoints")
    a("--vae-dir", type=str, default=None, help="extra folder with VAE files")
    a("--gfpgan-dir", type=str, default=os.path.join(INSTALL_DIR, "GFPGAN"), help="legacy GFPGAN folder")
    a("--gfpgan-model", type=str, default=None, help="legacy GFPGAN model file name")
    a("--no-half", action="store_true", help="keep the model in full precision (fp32)")
    a("--no-half-vae", action="store_true", help="keep the VAE in full precision (fp32)")
    a("--no-progressbar-hiding", action="store_true", help="keep gradio's own progress overlay visible")
    a("--max-batch-count", type=int, default=16, help="no-op, kept for compatibility")
    a("--embeddings-dir", type=str, default=None, help="textual inversion embeddings folder (default: DATA_DIR/embeddings)")
    a("--textual-inversion-templates-dir", type=str, default=os.path.join(INSTALL_DIR, "textual_inversion_templates"), help="textual inversion templates folder")
    a("--hypernetwork-dir", type=str, default=None, help="hypernetworks folder (default: MODELS_DIR/hypernetworks)")
    a("--localizations-dir", type=str, default=os.path.join(INSTALL_DIR, "localizations"), help="localizations folder")
    a("--allow-code", action="store_true", help="allow the 'Custom code' script to run Python from the UI")
    a("--medvram", action="store_true", help="split the model in parts and keep one on the GPU at a time")
    a("--medvram-sdxl", action="store_true", help="--medvram, only for SDXL models")
    a("--lowvram", action="store_true", help="keep only the running sub-module on the GPU")
    a("--lowram", action="store_true", help="load checkpoint weights straight to VRAM")
    a("--always-batch-cond-uncond", action="store_true", help="no-op, kept for compatibility")
    a("--unload-gfpgan", action="store_true", help="no-op, kept for compatibility")
    a("--precision", type=str, default="autocast", choices=["full", "half", "autocast"], help="evaluate at this precision")
    a("--upcast-sampling", action="store_true", help="fp16 weights, sampling upcast to fp32")
    a("--share", action="store_true", help="create a public gradio share link (needs the internet)")
    a("--ngrok", type=str, default=None, help="ngrok auth token (token or token:user:pass); needs the internet")
    a("--ngrok-region", type=str, default="", help="no-op, kept for compatibility")
    a("--ngrok-options", type=json.loads, default={}, help="ngrok options as a JSON object")
    a("--enable-insecure-extension-access", action="store_true", help="allow extension installs even when listening publicly")
    a("--codeformer-models-path", type=str, default=None, help="CodeFormer models folder")
    a("--gfpgan-models-path", type=str, default=None, help="GFPGAN models folder")
    a("--esrgan-models-path", type=str, default=None, help="ESRGAN models folder")
    a("--bsrgan-models-path", type=str, default=None, help="BSRGAN models folder (unused)")
    a("--realesrgan-models-path", type=str, default=None, help="Real-ESRGAN models folder")
    a("--dat-models-path", type=str, default=None, help="DAT models folder")
    a("--clip-models-path", type=str, default=None, help="CLIP models folder")
    a("--xformers", action="store_true", help="prefer xformers attention (CUDA, when installed)")
    a("--force-enable-xformers", action="store_true", help="use xformers even when the check fails")
    a("--xformers-flash-attention", action="store_true", help="xformers with flash attention")
    a("--deepdanbooru", action="store_true", help="no-op, kept for compatibility")
    a("--opt-split-attention", action="store_true", help="prefer split (Doggettx) attention")
    a("--opt-sub-quad-attention", action="store_true", help="prefer sub-quadratic attention")
    a("--sub-quad-q-chunk-size", type=int, default=1024, help="sub-quadratic attention query chunk size")
    a("--sub-quad-kv-chunk-size", type=int, default=None, help="sub-quadratic attention key/value chunk size")
    a("--sub-quad-chunk-threshold", type=int, default=None, help="VRAM percentage above which chunking is used")
    a("--opt-split-attention-invokeai", action="store_true", help="prefer InvokeAI split attention")
    a("--opt-split-attention-v1", action="store_true", help="prefer the older split attention")
    a("--opt-sdp-attention", action="store_true", help="prefer torch scaled-dot-product attention")
    a("--opt-sdp-no-mem-attention", action="store_true", help="prefer SDP attention without the memory-efficient kernel")
    a("--disable-opt-split-attention", action="store_true", help="prefer no attention optimization")
    a("--disable-nan-check", action="store_true", help="do not check latents and images for NaNs")
    a("--use-cpu", nargs="+", default=[], type=str.lower, help="run these modules on the CPU: all, sd, interrogate, gfpgan, esrgan, codeformer")
    a("--use-ipex", action="store_true", help="use Intel XPU")
    a("--disable-model-loading-ram-optimization", action="store_true", help="disable the meta-device loading path")
    a("--listen", action="store_true", help="listen on 0.0.0.0 (reachable from the network)")
    a("--port", type=int, default=None, help="port (default 7860, or 7861 with --nowebui)")
    a("--show-negative-prompt", action="store_true", help="no-op, kept for compatibility")
    a("--ui-config-file", type=str, default=None, help="ui-config.json path (default: DATA_DIR/ui-config.json)")
    a("--hide-ui-dir-config", action="store_true", help="hide directory settings in the UI")
    a("--freeze-settings", action="store_true", help="forbid changing any setting")
    a("--freeze-settings-in-sections", type=str, default=None, help="forbid changing settings in these sections (comma separated)")
    a("--freeze-specific-settings", type=str, default=None, help="forbid changing these settings (comma separated)")
    a("--ui-settings-file", type=str, default=None, help="config.json path (default: DATA_DIR/config.json)")
    a("--gradio-debug", action="store_true", help="launch gradio in debug mode")
    a("--gradio-auth", type=str, default=None, help="UI login: username:password[,username2:password2]")
    a("--gradio-auth-path", type=str, default=None, help="file with UI logins in the --gradio-auth format")
    a("--gradio-img2img-tool", type=str, default=None, help="no-op, kept for compatibility")
    a("--gradio-inpaint-tool", type=str, default=None, help="no-op, kept for compatibility")
    a("--gradio-allowed-path", action="append", default=None, help="extra folder the UI may serve files from")
    a("--opt-channelslast", action="store_true", help="channels-last memory format for the UNet")
    a("--styles-file", type=str, action="append", default=None, help="styles CSV file (repeatable, glob allowed)")
    a("--autolaunch", action="store_true", help="open the UI in the system's browser on start")
    a("--theme", type=str, default=None, help="UI theme: light or dark")
    a("--use-textbox-seed", action="store_true", help="seed as a textbox in the UI")
    a("--disable-console-progressbars", action="store_true", help="no progress bars in the console")
    a("--enable-console-prompts", action="store_true", help="no-op, kept for compatibility (now a setting)")
    a("--vae-path", type=str, default=None, help="always use this VAE file")
    a("--disable-safe-unpickle", action="store_true", help="load .ckpt/.pt pickles without the allow-list (unsafe)")
    a("--api", action="store_true", help="serve the API beside the UI")
    a("--api-auth", type=str, default=None, help="API login (HTTP Basic): username:password[,username2:password2]")
    a("--api-log", action="store_true", help="log every API request")
    a("--nowebui", action="store_true", help="serve the API only (port 7861 by default)")
    a("--ui-debug-mode", action="store_true", help="start without loading a model")
    a("--device-id", type=str, default=None, help="CUDA device index to use")
    a("--administrator", action="store_true", help="administrator rights")
    a("--cors-allow-origins", type=str, default=None, help="allowed CORS origins, comma separated")
    a("--cors-allow-origins-regex", type=str, default=None, help="allowed CORS origins as a regular expression")
    a("--tls-keyfile", type=str, default=None, help="TLS key file")
    a("--tls-certfile", type=str, default=None, help="TLS certificate file")
    a("--disable-tls-verify", action="store_false", default=None, help="accept self-signed certificates")
    a("--server-name", type=str, default=None, help="host name or address to listen on")
    a("--gradio-queue", action="store_true", default=True, help="no-op, kept for compatibility")
    a("--no-gradio-queue", action="store_true", help="disable the gradio queue")
    a("--skip-version-check", action="store_true", help="do not check torch and xformers versions")
    a("--no-hashing", action="store_true", help="never compute sha256 of checkpoints")
    a("--no-download-sd-model", action="store_true", help="do not download the default model when none is found")
    a("--subpath", type=str, default=None, help="serve under this URL prefix")
    a("--add-stop-route", action="store_true", help="no-op, kept for compatibility")
    a("--api-server-stop", action="store_true", help="enable the server-kill/restart/stop API routes")
    a("--timeout-keep-alive", type=int, default=30, help="uvicorn keep-alive timeout (API only)")
    a("--disable-all-extensions", action="store_true", help="load no extension, built-in or not")
    a("--disable-extra-extensions", action="store_true", help="load only built-in extensions")
    a("--skip-load-model-at-start", action="store_true", help="do not load a model at start")
    a("--unix-filenames-sanitization", action="store_true", help="replace only / in file names")
    a("--filenames-max-length", type=int, default=128, help="longest file name written")
    a("--no-prompt-history", action="store_true", help="do not write params.txt")
    # flags of this project, after A1111's
    a("--compile-unet", action="store_true", help="compile the UNet with torch.compile (CUDA graphs on CUDA); same as setting compile_unet")
    a("--ray", type=str, default=None, metavar="auto|ADDRESS", help="run jobs on Ray worker actors: 'auto' starts a local head (loopback only), an address joins that cluster (needs requirements-ray.txt)")
    a("--ray-workers", type=int, default=None, help="with --ray: worker actors per node (default: one per visible GPU, 1 on a CPU-only node)")
    return p


PROJECT_FLAGS = ("compile_unet", "ray", "ray_workers")
"""This project's flags (after A1111's in ``--help`` and ``/sdapi/v1/cmd-flags``); every other flag is A1111's."""


def commandline_args_from_env(environ: "os._Environ[str] | dict[str, str] | None" = None) -> list[str]:
    """Shell-split ``COMMANDLINE_ARGS`` from the environment, as A1111 appends it."""
    environ = os.environ if environ is None else environ
    return shlex.split(environ.get("COMMANDLINE_ARGS", ""))


def full_argv(argv: Sequence[str] | None = None, environ: "dict[str, str] | None" = None) -> list[str]:
    """The argument list A1111 sees: real arguments first, then ``COMMANDLINE_ARGS``.

    ``launch.py`` builds this list once and hands it to ``webui.main``, so the
    environment's arguments are appended exactly once.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return args + commandline_args_from_env(environ)


def parse_flags(
    args: Sequence[str],
    parser: argparse.ArgumentParser | None = None,
    environ: "dict[str, str] | None" = None,
) -> argparse.Namespace:
    """Parse a complete argument list; unknown flags raise :class:`FlagError` unless ``IGNORE_CMD_ARGS_ERRORS`` is set."""
    environ = dict(os.environ) if environ is None else environ
    parser = parser or build_parser()
    if environ.get("IGNORE_CMD_ARGS_ERRORS"):
        namespace, _unknown = parser.parse_known_args(list(args))
        return namespace
    namespace = parser.parse_args(list(args))
    check_memory_flags(namespace)
    return namespace


def check_memory_flags(cmd_opts: argparse.Namespace) -> None:
    """A memory flag combination that cannot work is a one-line error at start."""
    split = [flag for flag, name in (("--lowvram", "lowvram"), ("--medvram", "medvram"), ("--medvram-sdxl", "medvram_sdxl"))
             if getattr(cmd_opts, name, False)]
    if getattr(cmd_opts, "lowram", False) and split:
        raise FlagError(f"--lowram loads every weight straight to the GPU, which {split[0]} keeps off it: use one of them")


def is_listening_publicly(cmd_opts: argparse.Namespace) -> bool:
    """A1111's ``webui_is_non_local``: any of ``--share``, ``--listen``, ``--ngrok``, ``--server-name``."""
    return bool(cmd_opts.share or cmd_opts.listen or cmd_opts.ngrok or cmd_opts.server_name)


def extension_access_allowed(cmd_opts: argparse.Namespace) -> bool:
    """Installing/updating extensions is refused when listening publicly, unless explicitly allowed."""
    return bool(cmd_opts.enable_insecure_extension_access or not is_listening_publicly(cmd_opts))
