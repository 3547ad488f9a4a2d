"""The built-in LDSR extension's upscaler: the latent-diffusion 4x model from ``models/LDSR`` (A1111's
``UpscalerLDSR``).

The files are A1111's: ``model.safetensors`` (preferred) or ``model.ckpt`` (an old ``model.pth`` is read as
the ``.ckpt``), with ``project.yaml``, in ``models/LDSR`` or ``--ldsr-models-path``.  Nothing is downloaded:
the "LDSR" entry is listed when both files are there, and running it without them is an error naming the
files and the folder.  Settings: ``ldsr_steps`` (DDIM steps), ``ldsr_cached`` (keep the model loaded).
The model and its sampling live in :mod:`modules.models.ldsr`.
"""
from __future__ import annotations

import os

from PIL import Image

from modules.core.services import current_services
from modules.postprocess.upscaler import Upscaler, UpscalerData, UpscalerUnavailable

MODEL_FILES = ("model.safetensors", "model.ckpt", "model.pth")
"""In A1111's order of preference (it renames ``model.pth`` to ``model.ckpt``; here it is read where it is)."""
YAML_FILE = "project.yaml"
MAX_YAML_BYTES = 10 * 1024 * 1024
"""A1111 deletes a ``project.yaml`` this large (a failed download); here it is refused, not deleted."""

_cached: tuple[tuple[str, float, str, float], object] | None = None


class UpscalerLDSR(Upscaler):
    """The "LDSR" entry (``--ldsr-models-path``); 4x, run at the requested scale as A1111 does."""

    name = "LDSR"

    def __init__(self, dirname: str | None = None) -> None:
        self.user_path = dirname
        super().__init__(False)
        self.scalers = [UpscalerData("LDSR", None, self)] if self._files(required=False) else []

    def _folders(self) -> list[str]:
        return [d for d in (self.user_path, self.model_path) if d]

    def _files(self, required: bool = True) -> tuple[str, str] | None:
        """``(model file, project.yaml)`` from the first folder holding both; None or an error when absent."""
        for folder in self._folders():
            model = next((os.path.join(folder, f) for f in MODEL_FILES if os.path.isfile(os.path.join(folder, f))),
                         None)
            yaml_path = os.path.join(folder, YAML_FILE)
            if model and os.path.isfile(yaml_path) and os.path.getsize(yaml_path) < MAX_YAML_BYTES:
                return model, yaml_path
        if not required:
            return None
        raise UpscalerUnavailable(
            f"LDSR: needs model.safetensors or model.ckpt and {YAML_FILE} in {self._folders()[0]}; "
            "nothing is downloaded")

    def load_model(self, path: str | None = None):
        """The LDSR model (kept between runs while the setting ``ldsr_cached`` is on)."""
        global _cached
        from modules.models.ldsr import load_ldsr  # torch on first use: the upscaler list is built at start-up
        from modules.postprocess.spandrel_loader import default_device  # same reason

        model_path, yaml_path = self._files()
        key = (model_path, os.path.getmtime(model_path), yaml_path, os.path.getmtime(yaml_path))
        keep = bool(self._opt("ldsr_cached", False))
        if keep and _cached is not None and _cached[0] == key:
            return _cached[1]
        _cached = None  # off, or another file: the old model is let go
        cmd_opts = current_services().cmd_opts
        model = load_ldsr(model_path, yaml_path, default_device("sd"),
                          allow_unsafe=bool(getattr(cmd_opts, "disable_safe_unpickle", False)))
        if keep:
            _cached = (key, model)
        return model

    def do_upscale(self, img: Image.Image, selected_model: str | None = None) -> Image.Image:
        from modules.models.ldsr import super_resolution  # torch on first use

        model = self.load_model(selected_model)
        state = current_services().state

        def on_step(done: int, total: int) -> bool:
            stop = getattr(state, "interrupted", False) or getattr(state, "skipped", False)
            return bool(state is not None and stop)

        return super_resolution(model, img, int(self._opt("ldsr_steps", 100)), self.scale, on_step=on_step)
