"""A1111's ``modules.codeformer_model`` import path (``codeformer_model.codeformer`` is the live restorer)."""
from __future__ import annotations

from typing import Any

from modules.postprocess.face_restoration import CodeFormerRestorer as FaceRestorerCodeFormer  # noqa: F401

model_url = "https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth"
model_download_name = "codeformer-v0.1.0.pth"


def __getattr__(name: str) -> Any:
    if name == "codeformer":
        from modules import shared

        return shared.face_restorers.find("CodeFormer") if shared.face_restorers is not None else None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup_model(dirname: str) -> None:
    """Register CodeFormer with weights from ``dirname``."""
    from modules import shared
    from modules.postprocess.face_restoration import FaceRestorerRegistry

    if shared.face_restorers is None:
        shared.face_restorers = FaceRestorerRegistry()
    shared.face_restorers.register(FaceRestorerCodeFormer([dirname], [dirname]))
