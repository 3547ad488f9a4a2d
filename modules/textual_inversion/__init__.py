"""A1111's ``modules.textual_inversion`` package (import paths extensions use)."""
