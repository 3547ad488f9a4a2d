"""Moved to :mod:`modules.runtime.extension_details` (the UI's Extensions tab reads it too)."""
from modules.runtime.extension_details import GitDetails, git_details  # noqa: F401
