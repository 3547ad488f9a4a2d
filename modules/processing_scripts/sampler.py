"""Built-in always-on script "Sampler" (A1111's ``modules/processing_scripts/sampler.py``): draws the Sampling
method / Schedule type / Sampling steps row, so those controls are script arguments as in A1111
(``/sdapi/v1/script-info``, ``p.scripts.script("sampler")``, the flat ``script_args``)."""
from __future__ import annotations

from typing import Any

from modules import scripts


class ScriptSampler(scripts.ScriptBuiltinUI):
    section = "sampler"
    create_group = False

    def __init__(self) -> None:
        self.builtin_controls: Any = None
        """The row's controls (``modules.ui.generation_controls.SamplerControls``) once drawn."""

    def title(self) -> str:
        return "Sampler"

    def ui(self, is_img2img: bool) -> list:
        # gradio on first use: API-only runs load this script without building its UI
        from modules.ui.generation_controls import create_sampler_row

        self.builtin_controls = create_sampler_row("img2img" if is_img2img else "txt2img")
        c = self.builtin_controls
        return [c.steps, c.sampler_name, c.scheduler]

    def setup(self, p: Any, steps: int, sampler_name: str, scheduler: str) -> None:
        """UI jobs only (``setup_for_ui_only``): the row's values go to the job."""
        p.steps = steps
        p.sampler_name = sampler_name
        p.scheduler = scheduler
