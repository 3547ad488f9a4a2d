"""Built-in always-on script "Refiner" (A1111's ``modules/processing_scripts/refiner.py``): draws the Refiner
accordion (checkpoint, switch at) as script arguments; the switch itself happens in the sampler
(``modules.processing.refiner``)."""
from __future__ import annotations

from typing import Any

from modules import scripts


class ScriptRefiner(scripts.ScriptBuiltinUI):
    section = "accordions"
    create_group = False

    def __init__(self) -> None:
        self.builtin_controls: Any = None
        """The accordion's controls (``modules.ui.generation_controls.RefinerControls``) once drawn."""

    def title(self) -> str:
        return "Refiner"

    def ui(self, is_img2img: bool) -> list:
        # gradio on first use: API-only runs load this script without building its UI
        from modules.ui.generation_controls import create_refiner

        self.builtin_controls = create_refiner("img2img" if is_img2img else "txt2img")
        c = self.builtin_controls
        return [c.enable, c.checkpoint, c.switch_at]

    def setup(self, p: Any, enable_refiner: bool, refiner_checkpoint: str | None, refiner_switch_at: float) -> None:
        """UI jobs only: no refiner unless the accordion is on and names a checkpoint."""
        # the UI package sits above the scripts; only UI jobs reach setup()
        from modules.ui.generation_controls import refiner_values

        for key, value in refiner_values(enable_refiner, refiner_checkpoint, refiner_switch_at).items():
            setattr(p, key, value)
