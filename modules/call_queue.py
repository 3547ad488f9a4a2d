"""A1111's ``modules.call_queue``: the code lives in :mod:`modules.runtime.call_queue`.

Importing this module does not import gradio.
"""
from modules.runtime.call_queue import (queue_lock, wrap_gradio_call, wrap_gradio_call_no_job, wrap_gradio_gpu_call,
                                        wrap_queued_call)
from modules.runtime.queue_lock import FIFOLock  # noqa: F401  (imported here before the move)

__all__ = ["queue_lock", "wrap_gradio_call", "wrap_gradio_call_no_job", "wrap_gradio_gpu_call", "wrap_queued_call"]
