"""Built-in always-on script "Seed" (A1111's ``modules/processing_scripts/seed.py``): draws Seed, the Extra
checkbox and the variation controls as script arguments, as in A1111."""
from __future__ import annotations

from typing import Any

from modules import scripts


class ScriptSeed(scripts.ScriptBuiltinUI):
    section = "seed"
    create_group = False

    def __init__(self) -> None:
        self.builtin_controls: Any = None
        """The seed controls (``modules.ui.generation_controls.SeedControls``) once drawn."""

    def title(self) -> str:
        return "Seed"

    def ui(self, is_img2img: bool) -> list:
        # gradio on first use: API-only runs load this script without building its UI
        from modules.ui.generation_controls import create_seed_controls

        self.builtin_controls = create_seed_controls("img2img" if is_img2img else "txt2img")
        c = self.builtin_controls
        return [c.seed, c.seed_checkbox, c.subseed, c.subseed_strength, c.seed_resize_from_w, c.seed_resize_from_h]

    def setup(self, p: Any, seed: Any, seed_checkbox: bool, subseed: Any, subseed_strength: float,
              seed_resize_from_w: int, seed_resize_from_h: int) -> None:
        """UI jobs only: the seed, and the variation values only while "Extra" is ticked (A1111's rule)."""
        # the UI package sits above the scripts; only UI jobs reach setup()
        from modules.ui.generation_controls import seed_values

        for key, value in seed_values(seed, seed_checkbox, subseed, subseed_strength, seed_resize_from_w,
                                      seed_resize_from_h).items():
            setattr(p, key, value)
