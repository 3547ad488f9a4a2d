"""The "Custom code" script: runs the Python code typed in the UI with the job ``p`` in scope.

Shown (and so selectable, in the UI and through the API) only when the web UI was started with ``--allow-code``;
without it the script is not in the Script dropdown nor in ``/sdapi/v1/scripts``, and ``run`` refuses anyway.
"""
from __future__ import annotations

from typing import Any

from modules import scripts

EXAMPLE = """from modules.processing import process_images

p.width = 768
p.height = 768
p.batch_size = 2
p.steps = 10

return process_images(p)
"""
"""The code the editor starts with (A1111's example)."""


def code_allowed() -> bool:
    """True when the web UI runs with ``--allow-code``."""
    from modules import shared

    return bool(getattr(shared.cmd_opts, "allow_code", False))


class Script(scripts.Script):
    """Custom code."""

    def title(self) -> str:
        return "Custom code"

    def show(self, is_img2img: bool) -> bool:
        return code_allowed()

    def ui(self, is_img2img: bool) -> list:
        import gradio as gr

        code = gr.Code(value=EXAMPLE, language="python", label="Python code", elem_id=self.elem_id("code"))
        indent_level = gr.Number(label="Indent level", value=2, precision=0, elem_id=self.elem_id("indent_level"))
        return [code, indent_level]

    def run(self, p: Any, code: Any = EXAMPLE, indent_level: Any = 2) -> Any:
        from modules import shared
        from modules.builtin_scripts.user_code import UserCodeError, run_user_code
        from modules.processing import Processed
        from modules.processing.processing_base import GenerationError

        if not code_allowed():
            raise GenerationError("--allow-code option must be enabled")
        if not isinstance(code, str):
            raise GenerationError(f"Custom code: the code must be text, got {type(code).__name__}")
        try:
            indent = int(indent_level)
        except (TypeError, ValueError):
            raise GenerationError(f"Custom code: indent level must be a whole number, got {indent_level!r}") from None
        if not 0 <= indent <= 64:
            raise GenerationError(f"Custom code: indent level must be between 0 and 64, got {indent}")

        # what display(images, seed, info) in the code sets: the answer when the code returns no Processed
        display_result_data: list = [[], -1, ""]

        def display(imgs: list, s: int = display_result_data[1], i: str = display_result_data[2]) -> None:
            display_result_data[0] = imgs
            display_result_data[1] = s
            display_result_data[2] = i

        namespace = {"p": p, "display": display, "Processed": Processed, "cmd_opts": shared.cmd_opts,
                     "scripts": scripts}
        try:
            result = run_user_code(code, indent, namespace)
        except UserCodeError as e:
            raise GenerationError(f"Custom code failed: {e}") from e
        if isinstance(result, Processed):
            return result
        return Processed(p, *display_result_data)
