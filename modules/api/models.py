"""Request and response models of the ``/sdapi/v1`` routes, with A1111's field names and types."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field


class SDModelItem(BaseModel):
    title: str = Field(title="Title", description="Title of the model (name and short hash)")
    model_name: str = Field(title="Model Name", description="Model name")
    hash: Optional[str] = Field(title="Short hash", description="Short sha256 hash of the model")
    sha256: Optional[str] = Field(title="sha256 hash", description="Full sha256 hash of the model")
    filename: str = Field(title="Filename", description="Path to the model file")
    config: Optional[str] = Field(default=None, title="Config file", description="Config file next to the model")


class SDVaeItem(BaseModel):
    model_name: str = Field(title="Model Name")
    filename: str = Field(title="Filename")


class UpscalerItem(BaseModel):
    name: str = Field(title="Name")
    model_name: Optional[str] = Field(title="Model Name")
    model_path: Optional[str] = Field(title="Path")
    model_url: Optional[str] = Field(title="URL")
    scale: Optional[float] = Field(title="Scale")


class LatentUpscalerModeItem(BaseModel):
    name: str = Field(title="Name")


class RealesrganItem(BaseModel):
    name: str = Field(title="Name")
    path: Optional[str] = Field(title="Path")
    scale: Optional[int] = Field(title="Scale")


class FaceRestorerItem(BaseModel):
    name: str = Field(title="Name")
    cmd_dir: Optional[str] = Field(title="Path")


class ErrorDetail(BaseModel):
    """Our 4xx answers: a message naming what was wrong, and the offending key when there is one."""

    detail: str
    key: Optional[str] = None


OptionsModel = dict[str, Any]
"""``/sdapi/v1/options`` is a flat object of setting key to value (A1111 builds a model per key)."""

FlagsModel = dict[str, Any]
"""``/sdapi/v1/cmd-flags`` is a flat object of flag name to value."""
