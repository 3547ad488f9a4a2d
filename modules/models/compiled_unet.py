"""Compiled sampling: ``torch.compile`` of one model's UNet (setting ``compile_unet``, flag ``--compile-unet``).

Applied per model instance: :func:`apply_compile_setting` installs a :class:`CompiledUNet` as the
instance's ``forward`` (the class and every other model stay eager) and removes it when the setting
is turned off.  Shapes are static (``dynamic=False``): each new input shape (latent size, batch,
prompt length) compiles once, then its graph is reused; after :attr:`CompileConfig.max_shapes`
shapes, new ones run eager instead of compiling again.  On CUDA with the UNet resident, mode
``reduce-overhead`` replays each shape as a CUDA graph; under ``--medvram`` / ``--lowvram`` the
weights move between calls, so the graphs are compiled without CUDA graphs.  When compiling or
running the compiled graph fails and the eager call of the same input works, the model falls back
to eager for good with a one-line warning; when the eager call fails too, its error is the real one
and is raised.
"""
from __future__ import annotations

import logging
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

CUDA_GRAPHS_MODE = "reduce-overhead"
DEFAULT_BACKEND = "inductor"

Compiler = Callable[..., Callable[..., torch.Tensor]]
"""``torch.compile``'s signature: ``compiler(fn, backend=..., mode=..., dynamic=...)`` -> compiled callable."""


@dataclass(frozen=True)
class CompileConfig:
    """How one UNet is compiled."""

    backend: str = DEFAULT_BACKEND
    mode: str | None = None
    """``"reduce-overhead"`` replays CUDA graphs (CUDA only); None is inductor's default."""
    max_shapes: int = 8
    """Input shapes compiled per model; later new shapes run eager (dynamo's own recompile limit is 8)."""

    @property
    def cuda_graphs(self) -> bool:
        return self.mode == CUDA_GRAPHS_MODE


def choose_config(device: torch.device | str, weights_move: bool, backend: str = DEFAULT_BACKEND) -> CompileConfig:
    """CUDA graphs on CUDA when the UNet's weights stay where they are; plain compile otherwise.

    A CUDA graph records the addresses of the weights: a memory policy that moves them between calls
    (``--medvram``, ``--lowvram``, streaming) would make every replay re-record.
    """
    cuda_graphs = torch.device(device).type == "cuda" and not weights_move and backend == DEFAULT_BACKEND
    return CompileConfig(backend=backend, mode=CUDA_GRAPHS_MODE if cuda_graphs else None)


def _describe(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape), value.dtype, value.device
    return value


def shape_key(x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor | None,
              y: torch.Tensor | None) -> tuple:
    """What makes a compiled graph reusable: every input's shape, dtype and device, and the autograd mode."""
    return (tuple(_describe(v) for v in (x, timesteps, context, y)), torch.is_grad_enabled(),
            torch.is_inference_mode_enabled())


def _first_line(error: BaseException) -> str:
    """The root cause's type and first line (dynamo wraps a backend's error in ``BackendCompilerFailed``)."""
    error = getattr(error, "inner_exception", None) or error.__cause__ or error
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


class CompiledUNet:
    """The callable installed as one UNet instance's ``forward``: compiled per shape, eager as the fallback.

    It is a plain object, not a module, so the UNet's ``state_dict`` and submodules are unchanged.
    """

    def __init__(self, unet: torch.nn.Module, config: CompileConfig, compiler: Compiler = torch.compile) -> None:
        self.config = config
        self.replaced = vars(unet).get("forward")
        """An instance ``forward`` another feature had installed (put back by :func:`disable`), or None."""
        self.eager = self.replaced if self.replaced is not None else types.MethodType(type(unet).forward, unet)
        """What runs without compiling: that instance forward, else the class's forward bound to this instance."""
        self.compiled = compiler(self.eager, backend=config.backend, mode=config.mode, dynamic=False)
        self.shapes: list[tuple] = []
        """The shape keys compiled so far, in order."""
        self.failure: str | None = None
        """The first line of the error that made this model fall back to eager, if one did."""
        self._warned_limit = False

    def __call__(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor | None = None,
                 y: torch.Tensor | None = None) -> torch.Tensor:
        if self.failure is not None:
            return self.eager(x, timesteps, context, y)
        key = shape_key(x, timesteps, context, y)
        if key not in self.shapes:
            if len(self.shapes) >= self.config.max_shapes:
                self._warn_limit()
                return self.eager(x, timesteps, context, y)
            log.info("compiling the UNet for input %s (once per shape)", tuple(x.shape))
        try:
            out = self._run_compiled(x, timesteps, context, y)
        except Exception as error:  # noqa: BLE001 - any compile/runtime failure of the graph; eager decides below
            out = self.eager(x, timesteps, context, y)  # a bad input fails here too, with its own error
            self._fall_back(error)
            return out
        if key not in self.shapes:
            self.shapes.append(key)
        return out

    def _run_compiled(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor | None,
                      y: torch.Tensor | None) -> torch.Tensor:
        if not self.config.cuda_graphs:
            return self.compiled(x, timesteps, context, y)
        # a new replay starts: the previous one's outputs may be overwritten, so the output is copied out
        # of the graph's memory pool (the sampler keeps the last prediction across steps)
        torch.compiler.cudagraph_mark_step_begin()
        return self.compiled(x, timesteps, context, y).clone()

    def _fall_back(self, error: BaseException) -> None:
        self.failure = _first_line(error)
        message = f"compiling the UNet failed, running it uncompiled ({self.failure})"
        log.warning(message)
        print(f"Warning: {message}", flush=True)

    def _warn_limit(self) -> None:
        if not self._warned_limit:
            self._warned_limit = True
            message = (f"the compiled UNet has graphs for {self.config.max_shapes} input shapes; "
                       "new sizes run uncompiled")
            log.warning(message)
            print(f"Warning: {message}", flush=True)


def unet_of(model: Any) -> torch.nn.Module:
    """The UNet module of a loaded model (``model.model.diffusion_model``)."""
    return model.model.diffusion_model


def compiled_unet(model: Any) -> CompiledUNet | None:
    """The :class:`CompiledUNet` installed on this model, or None."""
    forward = vars(unet_of(model)).get("forward")
    return forward if isinstance(forward, CompiledUNet) else None


def enable(model: Any, config: CompileConfig, compiler: Compiler = torch.compile) -> CompiledUNet:
    """Compile this model's UNet (nothing compiles before the first call); a different config replaces it."""
    current = compiled_unet(model)
    if current is not None and current.config == config:
        return current
    unet = unet_of(model)
    if current is not None:
        disable(model)
    wrapper = CompiledUNet(unet, config, compiler)
    # an instance attribute: nn.Module.__call__ finds it before the class's forward, for this model only
    object.__setattr__(unet, "forward", wrapper)
    return wrapper


def disable(model: Any, release: bool = False) -> bool:
    """Remove the compiled forward (the UNet runs eager again); True when one was installed.

    ``release`` also drops the compiled graphs (and CUDA graph memory) of this UNet class: graphs are
    shared by every instance of the class, so another model still compiled compiles its shapes again.
    """
    current = compiled_unet(model)
    if current is None:
        return False
    unet = unet_of(model)
    if current.replaced is not None:
        object.__setattr__(unet, "forward", current.replaced)
    else:
        del unet.__dict__["forward"]
    if release:
        torch._dynamo.reset_code(type(unet).forward.__code__)
    return True


def compile_wanted(opts: Any, cmd_opts: Any) -> bool:
    """Setting ``compile_unet`` or flag ``--compile-unet``."""
    return bool(getattr(cmd_opts, "compile_unet", False)) or bool(getattr(opts, "compile_unet", False))


def weights_move(model: Any, cmd_opts: Any) -> bool:
    """Whether a memory policy moves the UNet's weights between calls (no CUDA graphs then)."""
    if getattr(model, "lowvram", False) or getattr(cmd_opts, "lowvram", False) or getattr(cmd_opts, "medvram", False):
        return True
    return bool(getattr(cmd_opts, "medvram_sdxl", False) and getattr(model, "is_sdxl", False))


def apply_compile_setting(model: Any, opts: Any, cmd_opts: Any, compiler: Compiler | None = None) -> None:
    """Make ``model``'s UNet compiled or eager as the setting and flag say (cheap when nothing changes).

    ``compiler`` None is ``torch.compile``, looked up at the call.
    """
    if model is None or not hasattr(getattr(model, "model", None), "diffusion_model"):
        return
    if not compile_wanted(opts, cmd_opts):
        disable(model, release=True)
        return
    unet = unet_of(model)
    device = next(unet.parameters()).device
    enable(model, choose_config(device, weights_move(model, cmd_opts)), compiler or torch.compile)
