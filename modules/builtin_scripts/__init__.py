"""Helpers of the built-in selectable scripts in ``scripts/`` (X/Y/Z plot, prompt matrix, ...)."""
