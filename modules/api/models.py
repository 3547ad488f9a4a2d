"""Request and response models of the ``/sdapi/v1`` routes, with A1111's field names, types, order and defaults.

The txt2img/img2img request models (``StableDiffusionTxt2ImgProcessingAPI``,
``StableDiffusionImg2ImgProcessingAPI``) are derived from the processing classes by
:mod:`modules.api.request_models` when first asked for (building them imports torch).
"""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from modules.api.request_models import API_ONLY_FIELDS, img2img_request_model, txt2img_request_model

REQUEST_MODELS = {
    "StableDiffusionTxt2ImgProcessingAPI": txt2img_request_model,
    "StableDiffusionImg2ImgProcessingAPI": img2img_request_model,
}
"""The request models built on first access (A1111's names), and what builds each."""


def __getattr__(name: str) -> Any:
    build = REQUEST_MODELS.get(name)
    if build is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return build()


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(REQUEST_MODELS))


class TextToImageResponse(BaseModel):
    images: Optional[list[str]] = Field(default=None, title="Image", description="The generated image in base64 format.")
    parameters: dict
    info: str


class ImageToImageResponse(BaseModel):
    images: Optional[list[str]] = Field(default=None, title="Image", description="The generated image in base64 format.")
    parameters: dict
    info: str


# --- other requests and responses ----------------------------------------------------------------------------

class PNGInfoRequest(BaseModel):
    image: str = Field(title="Image", description="The base64 encoded PNG image")


class PNGInfoResponse(BaseModel):
    info: str = Field(title="Image info", description="A string with the parameters used to generate the image")
    items: dict = Field(title="Items", description="A dictionary containing all the other fields the image had")
    parameters: dict = Field(title="Parameters", description="A dictionary with parsed generation info fields")


class ProgressResponse(BaseModel):
    progress: float = Field(title="Progress", description="The progress with a range of 0 to 1")
    eta_relative: float = Field(title="ETA in secs")
    state: dict = Field(title="State", description="The current state snapshot")
    current_image: Optional[str] = Field(default=None, title="Current image",
                                         description="The current image in base64 format. "
                                                     "opts.show_progress_every_n_steps is required for this to work.")
    textinfo: Optional[str] = Field(default=None, title="Info text", description="Info text used by WebUI.")


class InterrogateRequest(BaseModel):
    image: str = Field(default="", title="Image", description="Image to work on, must be a Base64 string containing the image's data.")
    model: str = Field(default="clip", title="Model", description="The interrogate model used.")


class InterrogateResponse(BaseModel):
    caption: Optional[str] = Field(default=None, title="Caption", description="The generated caption for the image.")


class TrainResponse(BaseModel):
    info: str = Field(title="Train info", description="Response string from train embedding or hypernetwork task.")


class CreateResponse(BaseModel):
    info: str = Field(title="Create info", description="Response string from create embedding or hypernetwork task.")


class SamplerItem(BaseModel):
    name: str = Field(title="Name")
    aliases: list[str] = Field(title="Aliases")
    options: dict[str, Any] = Field(title="Options")


class SchedulerItem(BaseModel):
    name: str = Field(title="Name")
    label: str = Field(title="Label")
    aliases: Optional[list[str]] = Field(title="Aliases")
    default_rho: Optional[float] = Field(title="Default Rho")
    need_inner_model: Optional[bool] = Field(title="Needs Inner Model")


class SDModelItem(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    title: str = Field(title="Title", description="Title of the model (name and short hash)")
    model_name: str = Field(title="Model Name", description="Model name")
    hash: Optional[str] = Field(title="Short hash", description="Short sha256 hash of the model")
    sha256: Optional[str] = Field(title="sha256 hash", description="Full sha256 hash of the model")
    filename: str = Field(title="Filename", description="Path to the model file")
    config: Optional[str] = Field(default=None, title="Config file", description="Config file next to the model")


class SDVaeItem(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str = Field(title="Model Name")
    filename: str = Field(title="Filename")


class UpscalerItem(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

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


class HypernetworkItem(BaseModel):
    name: str = Field(title="Name")
    path: Optional[str] = Field(title="Path")


class PromptStyleItem(BaseModel):
    name: str = Field(title="Name")
    prompt: Optional[str] = Field(title="Prompt")
    negative_prompt: Optional[str] = Field(title="Negative Prompt")


class EmbeddingItem(BaseModel):
    step: Optional[int] = Field(title="Step", description="The number of steps that were used to train this embedding, if available")
    sd_checkpoint: Optional[str] = Field(title="SD Checkpoint", description="The hash of the checkpoint this embedding was trained on, if available")
    sd_checkpoint_name: Optional[str] = Field(title="SD Checkpoint Name", description="The name of the checkpoint this embedding was trained on, if available")
    shape: int = Field(title="Shape", description="The length of each individual vector in the embedding")
    vectors: int = Field(title="Vectors", description="The number of vectors in the embedding")


class EmbeddingsResponse(BaseModel):
    loaded: dict[str, EmbeddingItem] = Field(title="Loaded", description="Embeddings loaded for the current model")
    skipped: dict[str, EmbeddingItem] = Field(title="Skipped", description="Embeddings skipped for the current model (likely due to architecture incompatibility)")


class MemoryResponse(BaseModel):
    ram: dict = Field(title="RAM", description="System memory stats")
    cuda: dict = Field(title="CUDA", description="nVidia CUDA memory stats")
    placement: dict = Field(default_factory=dict, title="Placement", description="Where each loaded model's weights live (memory policy, units, bytes)")


class ScriptsList(BaseModel):
    txt2img: Optional[list] = Field(default=None, title="Txt2img", description="Titles of scripts (txt2img)")
    img2img: Optional[list] = Field(default=None, title="Img2img", description="Titles of scripts (img2img)")


class ScriptArg(BaseModel):
    label: Optional[str] = Field(default=None, title="Label", description="Name of the argument in UI")
    value: Optional[Any] = Field(default=None, title="Value", description="Default value of the argument")
    minimum: Optional[Any] = Field(default=None, title="Minimum", description="Minimum allowed value for the argument in UI")
    maximum: Optional[Any] = Field(default=None, title="Maximum", description="Maximum allowed value for the argument in UI")
    step: Optional[Any] = Field(default=None, title="Step", description="Step for changing value of the argument in UI")
    choices: Optional[list[str]] = Field(default=None, title="Choices", description="Possible values for the argument")


class ScriptInfo(BaseModel):
    name: Optional[str] = Field(default=None, title="Name", description="Script name")
    is_alwayson: Optional[bool] = Field(default=None, title="IsAlwayson", description="Flag specifying whether this script is an alwayson script")
    is_img2img: Optional[bool] = Field(default=None, title="IsImg2img", description="Flag specifying whether this script is an img2img script")
    args: list[ScriptArg] = Field(title="Arguments", description="List of script's arguments")


class ExtensionItem(BaseModel):
    name: str = Field(title="Name", description="Extension name")
    remote: str = Field(title="Remote", description="Extension Repository URL")
    branch: str = Field(title="Branch", description="Extension Repository Branch")
    commit_hash: str = Field(title="Commit Hash", description="Extension Repository Commit Hash")
    version: str = Field(title="Version", description="Extension Version")
    commit_date: str = Field(title="Commit Date", description="Extension Repository Commit Date")
    enabled: bool = Field(title="Enabled", description="Flag specifying whether this extension is enabled")


class ErrorDetail(BaseModel):
    """Our 4xx answers: a message naming what was wrong, and the offending key when there is one."""

    detail: str
    key: Optional[str] = None


OptionsModel = dict[str, Any]
"""``/sdapi/v1/options`` is a flat object of setting key to value (A1111 builds a model per key)."""

FlagsModel = dict[str, Any]
"""``/sdapi/v1/cmd-flags`` is a flat object of flag name to value."""


# --- UI progress (``/internal``) ------------------------------------------------------------------------------

class InternalProgressRequest(BaseModel):
    id_task: Optional[str] = Field(default=None, title="Task ID", description="id of the task to get progress for")
    id_live_preview: int = Field(default=-1, title="Live preview image ID", description="id of last received last preview image")
    live_preview: bool = Field(default=True, title="Include live preview", description="boolean flag indicating whether to include the live preview image")


class InternalProgressResponse(BaseModel):
    active: bool = Field(title="Whether the task is being worked on right now")
    queued: bool = Field(title="Whether the task is in queue")
    completed: bool = Field(title="Whether the task has already finished")
    progress: Optional[float] = Field(default=None, title="Progress", description="The progress with a range of 0 to 1")
    eta: Optional[float] = Field(default=None, title="ETA in secs")
    live_preview: Optional[str] = Field(default=None, title="Live preview image", description="Current live preview; a data: uri")
    id_live_preview: Optional[int] = Field(default=None, title="Live preview image ID", description="Send this together with next request to prevent receiving same image")
    textinfo: Optional[str] = Field(default=None, title="Info text", description="Info text used by WebUI.")


class PendingTasksResponse(BaseModel):
    size: int = Field(title="Number of queued tasks")
    tasks: list[str] = Field(title="Task ids, in the order they will run")


# --- the asynchronous job API (ours) -------------------------------------------------------------------------

class AsyncJobAccepted(BaseModel):
    task_id: str = Field(title="Task ID", description="Use it with /sdapi/v1/async/jobs/{task_id}")
    status: str = Field(title="Status", description="queued, running, done, failed or cancelled")
    queue_position: Optional[int] = Field(default=None, title="Queue position",
                                          description="0 while running, n while n-th in line, null once finished")


class AsyncJobError(BaseModel):
    status_code: int = Field(title="HTTP status the synchronous route would have answered")
    error: str = Field(title="Error class")
    detail: str = Field(title="What went wrong")


class AsyncJobInfo(BaseModel):
    task_id: str = Field(title="Task ID")
    kind: str = Field(title="Kind", description="txt2img, img2img, ...")
    status: str = Field(title="Status", description="queued, running, done, failed or cancelled")
    queue_position: Optional[int] = Field(default=None, title="Queue position",
                                          description="0 while running, n while n-th in line, null once finished")
    progress: float = Field(title="Progress", description="0 to 1")
    eta_relative: Optional[float] = Field(default=None, title="ETA in secs", description="while running")
    sampling_step: Optional[int] = Field(default=None, title="Sampling step", description="while running")
    sampling_steps: Optional[int] = Field(default=None, title="Sampling steps", description="while running")
    job_no: Optional[int] = Field(default=None, title="Batch being made", description="while running")
    job_count: Optional[int] = Field(default=None, title="Batches in all", description="while running")
    created: float = Field(title="Submitted at (Unix time)")
    started: Optional[float] = Field(default=None, title="Started at (Unix time)")
    finished: Optional[float] = Field(default=None, title="Finished at (Unix time)")
    result_available: bool = Field(title="Whether GET .../result answers the images now")
    error: Optional[AsyncJobError] = Field(default=None, title="Why the job failed")
    live_preview: Optional[str] = Field(default=None, title="Live preview", description="data: URI of this job's latest preview, when newer than id_live_preview")
    id_live_preview: int = Field(default=-1, title="Live preview ID", description="send it back as id_live_preview to get only newer previews")
    workers: Optional[list[str]] = Field(default=None, title="Ray workers", description="with --ray: the workers running this job now")


# ``from modules.api.models import *`` (extensions) gets every public name, the request models too
__all__ = sorted({name for name in globals() if not name.startswith("_")} | set(REQUEST_MODELS))
