"""A1111's ``modules.restart``: the code lives in :mod:`modules.runtime.restart`."""
from modules.runtime.restart import is_restartable, mark_restart, restart_program, stop_program

__all__ = ["is_restartable", "mark_restart", "restart_program", "stop_program"]
