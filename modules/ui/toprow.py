"""The row above a generation tab: prompt boxes, Generate / Interrupt / Skip, the tool buttons and styles.

Element ids are A1111's (``txt2img_prompt``, ``txt2img_generate``, ``paste``...).
Interrupt and Skip act on this tab's own task (the id the page made when
Generate was pressed), so a second browser tab never stops someone else's job.
"""
from __future__ import annotations

from typing import Any

from modules.ui import symbols
from modules.ui.components import make, opt, tool_button

PROMPT_PLACEHOLDER = "Prompt\n(Press Ctrl+Enter to generate, Alt+Enter to skip, Esc to interrupt)"
NEGATIVE_PLACEHOLDER = "Negative prompt\n(Press Ctrl+Enter to generate, Alt+Enter to skip, Esc to interrupt)"


def _style_names() -> list[str]:
    from modules import shared

    return list(shared.prompt_styles.styles) if shared.prompt_styles is not None else []


def interrupt_task(task_id: str | None) -> None:
    """Stop ``task_id`` (cancel it while queued); A1111's "stop after this image" rule for multi-image jobs."""
    from modules import shared
    from modules.runtime.jobs import job_queue

    queue = job_queue()
    job = queue.get(task_id) if task_id else None
    state = shared.state
    if job is None:
        return
    if job.status == "running" and state is not None and state.job_count > 1 and opt("interrupt_after_current", True) \
            and not state.stopping_generation:
        state.stop_generating()
        return
    queue.cancel(job.task_id)


def skip_task(task_id: str | None) -> None:
    """End the current batch of ``task_id`` when it is the one running."""
    from modules import shared
    from modules.runtime.jobs import job_queue

    job = job_queue().get(task_id) if task_id else None
    if job is not None and job.status == "running" and shared.state is not None:
        shared.state.skip()


def apply_styles(prompt: str, negative_prompt: str, styles: list[str]) -> tuple[str, str, list[str]]:
    """📋: write the selected styles into the prompts and clear the selection."""
    from modules import shared

    if shared.prompt_styles is None:
        return prompt, negative_prompt, styles
    prompt = shared.prompt_styles.apply_styles_to_prompt(prompt, styles)
    negative_prompt = shared.prompt_styles.apply_negative_styles_to_prompt(negative_prompt, styles)
    return prompt, negative_prompt, []


def prompt_from_dropped_image(data_url: str) -> str | None:
    """The infotext of a picture dropped on a prompt box (a ``data:`` URL), or ``None`` when it has none."""
    import base64
    import io

    from PIL import Image

    from modules import images

    if not data_url or "," not in data_url:
        return None
    try:
        image = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
        parameters, _ = images.read_info_from_image(image)
    except (ValueError, OSError):
        return None
    return parameters or None


class Toprow:
    """The prompts and buttons of one tab (A1111's ``ui_toprow.Toprow``)."""

    def __init__(self, is_img2img: bool, id_part: str | None = None) -> None:
        import gradio as gr

        self.id_part = id_part or ("img2img" if is_img2img else "txt2img")
        self.is_img2img = is_img2img
        self.button_interrogate = self.button_deepbooru = None
        with gr.Row(elem_id=f"{self.id_part}_toprow", variant="compact"):
            self._create_prompts()
            with gr.Column(scale=1, elem_id=f"{self.id_part}_actions_column"):
                self._create_submit_box()
                self._create_tools_row()
                self._create_styles_ui()

    # --- building ---
    def _create_prompts(self) -> None:
        import gradio as gr

        p = self.id_part
        with gr.Column(elem_id=f"{p}_prompt_container", scale=6):
            with gr.Row(elem_id=f"{p}_prompt_row", elem_classes=["prompt-row"]):
                self.prompt = make(gr.Textbox, label="Prompt", elem_id=f"{p}_prompt", show_label=False, lines=3,
                                   placeholder=PROMPT_PLACEHOLDER, elem_classes=["prompt"])
            with gr.Row(elem_id=f"{p}_neg_prompt_row", elem_classes=["prompt-row"]):
                self.negative_prompt = make(gr.Textbox, label="Negative prompt", elem_id=f"{p}_neg_prompt",
                                            show_label=False, lines=3, placeholder=NEGATIVE_PLACEHOLDER,
                                            elem_classes=["prompt"])
            # a picture dropped on a prompt box arrives here as a data: URL (see javascript/dragdrop.js)
            self.prompt_image_data = gr.Textbox(visible="hidden", elem_id=f"{p}_prompt_image")
            self.prompt_image_button = gr.Button(visible="hidden", elem_id=f"{p}_prompt_image_button")
        self.prompt_image_button.click(fn=lambda data, old: prompt_from_dropped_image(data) or old,
                                       inputs=[self.prompt_image_data, self.prompt], outputs=[self.prompt],
                                       show_progress="hidden")

    def _create_submit_box(self) -> None:
        import gradio as gr

        p = self.id_part
        with gr.Row(elem_id=f"{p}_generate_box", elem_classes=["generate-box"]):
            self.interrupt = make(gr.Button, value="Interrupt", elem_id=f"{p}_interrupt",
                                  elem_classes=["generate-box-interrupt"])
            self.skip = make(gr.Button, value="Skip", elem_id=f"{p}_skip", elem_classes=["generate-box-skip"])
            self.submit = make(gr.Button, value="Generate", elem_id=f"{p}_generate", variant="primary")
        # the page keeps this tab's running task id; these buttons send it along
        self.task_id_box = gr.Textbox(visible=False, elem_id=f"{p}_current_task")
        self.interrupt.click(fn=interrupt_task, js=f"() => [webuiCurrentTask('{p}')]", inputs=[self.task_id_box],
                             outputs=[], show_progress="hidden", queue=False)
        self.skip.click(fn=skip_task, js=f"() => [webuiCurrentTask('{p}')]", inputs=[self.task_id_box], outputs=[],
                        show_progress="hidden", queue=False)

    def _create_tools_row(self) -> None:
        import gradio as gr

        p = self.id_part
        with gr.Row(elem_id=f"{p}_tools"):
            self.paste = tool_button(symbols.paste_symbol, elem_id="paste",
                                     tooltip="Read generation parameters from prompt or last generation if prompt is "
                                             "empty into user interface.")
            self.clear_prompt_button = tool_button(symbols.clear_prompt_symbol, elem_id=f"{p}_clear_prompt",
                                                   tooltip="Clear prompt")
            self.apply_styles = tool_button(symbols.apply_style_symbol, elem_id=f"{p}_style_apply",
                                            tooltip="Apply all selected styles to prompts.")
            if self.is_img2img:
                self.button_interrogate = tool_button(symbols.interrogate_symbol, elem_id="interrogate",
                                                      tooltip="Interrogate CLIP - use CLIP neural network to create a "
                                                              "text describing the image, and put it into the prompt field")
                self.button_deepbooru = tool_button(symbols.deepbooru_symbol, elem_id="deepbooru",
                                                    tooltip="Interrogate DeepBooru - use DeepBooru neural network to "
                                                            "create a text describing the image, and put it into the "
                                                            "prompt field")
            # shown by the page when it was reloaded while this tab's task ran (javascript/progressbar.js)
            self.restore_progress_button = tool_button(symbols.restore_progress_symbol, elem_id=f"{p}_restore_progress",
                                                       visible="hidden", tooltip="Restore progress")
            self.token_counter = gr.HTML(value="<span>0/75</span>", elem_id=f"{p}_token_counter",
                                         elem_classes=["token-counter"])
            self.negative_token_counter = gr.HTML(value="<span>0/75</span>", elem_id=f"{p}_negative_token_counter",
                                                  elem_classes=["token-counter"])
        self.clear_prompt_button.click(fn=None, js="(p, n) => confirmClearPrompt(p, n)",
                                       inputs=[self.prompt, self.negative_prompt],
                                       outputs=[self.prompt, self.negative_prompt])

    def _create_styles_ui(self) -> None:
        import gradio as gr

        p = self.id_part
        with gr.Row(elem_id=f"{p}_styles_row"):
            self.styles = make(gr.Dropdown, label="Styles", show_label=False, elem_id=f"{p}_styles",
                               choices=_style_names(), value=[], multiselect=True, tooltip="Styles")
            self.edit_styles = tool_button(symbols.edit_style_symbol, elem_id=f"{p}_styles_edit_button",
                                           tooltip="Edit styles")
        with gr.Group(visible=False, elem_id=f"{p}_styles_dialog", elem_classes=["styles-dialog"]) as dialog:
            with gr.Row():
                style_name = gr.Dropdown(label="Style", elem_id=f"{p}_edit_style_name", choices=_style_names(),
                                         value=None, allow_custom_value=True)
            style_prompt = gr.Textbox(label="Prompt", elem_id=f"{p}_edit_style_prompt", lines=3)
            style_negative = gr.Textbox(label="Negative prompt", elem_id=f"{p}_edit_style_neg_prompt", lines=3)
            with gr.Row():
                save = gr.Button("Save", elem_id=f"{p}_edit_style_save", variant="primary")
                delete = gr.Button("Delete", elem_id=f"{p}_edit_style_delete")
                close = gr.Button("Close", elem_id=f"{p}_edit_style_close")
        self.apply_styles.click(fn=apply_styles, inputs=[self.prompt, self.negative_prompt, self.styles],
                                outputs=[self.prompt, self.negative_prompt, self.styles], show_progress="hidden")
        self.edit_styles.click(fn=lambda: gr.update(visible=True), outputs=[dialog], show_progress="hidden")
        close.click(fn=lambda: gr.update(visible=False), outputs=[dialog], show_progress="hidden")

        def load_style(name: str | None) -> tuple[Any, Any]:
            from modules import shared

            style = shared.prompt_styles.styles.get(name or "") if shared.prompt_styles is not None else None
            if style is None:
                return gr.update(), gr.update()
            return style.prompt or "", style.negative_prompt or ""

        def save_style(name: str | None, prompt: str, negative: str) -> tuple[Any, Any]:
            from modules import shared

            if name and shared.prompt_styles is not None:
                shared.prompt_styles.save_style(name, prompt, negative)
            names = _style_names()
            return gr.update(choices=names), gr.update(choices=names)

        def delete_style(name: str | None) -> tuple[Any, Any, str, str]:
            from modules import shared

            if name and shared.prompt_styles is not None:
                shared.prompt_styles.delete_style(name)
            names = _style_names()
            return gr.update(choices=names, value=None), gr.update(choices=names), "", ""

        style_name.change(fn=load_style, inputs=[style_name], outputs=[style_prompt, style_negative],
                          show_progress="hidden")
        save.click(fn=save_style, inputs=[style_name, style_prompt, style_negative],
                   outputs=[style_name, self.styles], show_progress="hidden")
        delete.click(fn=delete_style, inputs=[style_name],
                     outputs=[style_name, self.styles, style_prompt, style_negative], show_progress="hidden")

    # --- wiring done once the tab's other controls exist ---
    def connect_restore_progress(self, outputs: list) -> None:
        """🌀: follow the task the page ran before it was reloaded and show its result when it ends."""
        import gradio as gr

        def restore(task_id: str) -> Any:
            from modules import progress

            result = progress.restore_progress(task_id) if task_id else None
            return result if result is not None else [gr.update() for _ in outputs]

        self.restore_progress_button.click(fn=restore, js=f"() => [webuiRestoreProgress('{self.id_part}')]",
                                           inputs=[self.task_id_box], outputs=outputs, show_progress="hidden",
                                           concurrency_limit=None
                                           ).then(fn=None, js=f"() => webuiSubmitDone('{self.id_part}')")

    def connect_token_counters(self, steps: Any) -> None:
        """Recount on every change of a prompt box, the styles or the step count (schedules depend on it)."""
        from modules.ui.token_counter import counter_html

        if opt("disable_token_counters", False):
            return

        def positive(text: str, steps_value: float, styles: list[str]) -> str:
            return counter_html(text, int(steps_value or 1), styles, is_positive=True)

        def negative(text: str, steps_value: float, styles: list[str]) -> str:
            return counter_html(text, int(steps_value or 1), styles, is_positive=False)

        for source in (self.prompt, self.styles):
            source.change(fn=positive, inputs=[self.prompt, steps, self.styles], outputs=[self.token_counter],
                          show_progress="hidden", trigger_mode="always_last", queue=False)
        for source in (self.negative_prompt, self.styles):
            source.change(fn=negative, inputs=[self.negative_prompt, steps, self.styles],
                          outputs=[self.negative_token_counter], show_progress="hidden",
                          trigger_mode="always_last", queue=False)
