"""A1111's ``modules.codeformer_model`` import path (``codeformer_model.codeformer`` is the live restorer)."""
from __future__ import annotations

from typing import Any

from modules.core.services import current_services
from modules.postprocess.face_restoration import FaceRestorerRegistry
from modules.postprocess.face_restoration import CodeFormerRestorer as FaceRestorerCodeFormer  # noqa: F401

model_url = "https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth"
model_download_name = "codeformer-v0.1.0.pth"


def __getattr__(name: str) -> Any:
    if name == "codeformer":
        restorers = current_services().face_restorers
        return restorers.find("CodeFormer") if restorers is not None else None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup_model(dirname: str) -> None:
    """Register CodeFormer with weights from ``dirname``."""
    services = current_services()
    if services.face_restorers is None:
        services.face_restorers = FaceRestorerRegistry()
    services.face_restorers.register(FaceRestorerCodeFormer([dirname], [dirname]))
