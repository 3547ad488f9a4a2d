"""The page frame of the web UI: the quicksettings row (checkpoint dropdown with refresh) and start-up notices.

The generation tabs are built on top of this frame by the UI layer; every
``elem_id`` matches A1111's so user CSS and extensions find their targets.
"""
from __future__ import annotations

from typing import Any

from modules import shared

REFRESH_SYMBOL = "\U0001f504"  # 🔄, A1111's refresh button


def checkpoint_notice() -> str:
    """Markdown telling the user where to put a checkpoint, or an empty string when there is one."""
    if shared.checkpoints is None or shared.checkpoints.checkpoints_list:
        return ""
    folders = [shared.paths.sd_models_dir] + ([shared.paths.ckpt_dir] if shared.paths.ckpt_dir else [])
    where = " or ".join(f"`{f}`" for f in folders)
    return (f"**No checkpoint found.** Put a Stable Diffusion checkpoint (`.safetensors` or `.ckpt`) into {where}, "
            f"then press {REFRESH_SYMBOL} beside the checkpoint list.")


def _checkpoint_choices() -> list[str]:
    return shared.checkpoints.titles() if shared.checkpoints is not None else []


def create_ui() -> Any:
    """Build the gradio Blocks of the page (imports gradio: only called when the UI is served)."""
    import gradio as gr

    def refresh_checkpoints() -> tuple[Any, str]:
        shared.checkpoints.refresh()
        choices = _checkpoint_choices()
        value = shared.opts.sd_model_checkpoint if shared.opts.sd_model_checkpoint in choices else (choices[0] if choices else None)
        return gr.update(choices=choices, value=value), checkpoint_notice()

    def change_checkpoint(title: str | None) -> str:
        if title:
            shared.opts.set("sd_model_checkpoint", title)
            shared.opts.save()
        return checkpoint_notice()

    with gr.Blocks(title="Stable Diffusion", analytics_enabled=False) as demo:
        with gr.Row(elem_id="quicksettings"):
            choices = _checkpoint_choices()
            current = shared.opts.sd_model_checkpoint if shared.opts.sd_model_checkpoint in choices else (choices[0] if choices else None)
            checkpoint = gr.Dropdown(label="Stable Diffusion checkpoint", choices=choices, value=current,
                                     elem_id="setting_sd_model_checkpoint", interactive=True)
            refresh = gr.Button(value=REFRESH_SYMBOL, elem_id="refresh_sd_model_checkpoint", elem_classes=["tool"])
        notice = gr.Markdown(checkpoint_notice(), elem_id="checkpoint_notice")
        refresh.click(fn=refresh_checkpoints, inputs=[], outputs=[checkpoint, notice])
        checkpoint.change(fn=change_checkpoint, inputs=[checkpoint], outputs=[notice])
    return demo
