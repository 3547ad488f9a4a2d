"""The row above a generation tab: prompt boxes, Generate / Interrupt / Skip, the tool buttons and styles.

Element ids are A1111's (``txt2img_prompt``, ``txt2img_generate``, ``paste``...).
Interrupt and Skip act on this tab's own task (the id the page made when
Generate was pressed), so a second browser tab never stops someone else's job.
"""
from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from modules.core.services import current_services
from modules.processing.image_saving_info import read_info_from_image
from modules.runtime import progress
from modules.runtime.jobs import job_queue
from modules.ui import symbols
from modules.ui.components import make, opt, refresh_button, tool_button
from modules.ui.token_counter import counter_html

PROMPT_PLACEHOLDER = "Prompt\n(Press Ctrl+Enter to generate, Alt+Enter to skip, Esc to interrupt)"
NEGATIVE_PLACEHOLDER = "Negative prompt\n(Press Ctrl+Enter to generate, Alt+Enter to skip, Esc to interrupt)"


def _style_names() -> list[str]:
    services = current_services()
    return list(services.prompt_styles.styles) if services.prompt_styles is not None else []


def interrupt_task(task_id: str | None) -> None:
    """Stop ``task_id`` (cancel it while queued); A1111's "stop after this image" rule for multi-image jobs."""
    queue = job_queue()
    job = queue.get(task_id) if task_id else None
    if job is None:
        return
    state = queue.state_of(job)
    if job.status == "running" and state is not None and state.job_count > 1 and opt("interrupt_after_current", True) \
            and not state.stopping_generation:
        state.stop_generating()
        return
    queue.cancel(job.task_id)


def skip_task(task_id: str | None) -> None:
    """End the current batch of ``task_id`` when it is the one running."""
    queue = job_queue()
    job = queue.get(task_id) if task_id else None
    state = queue.state_of(job)
    if job is not None and job.status == "running" and state is not None:
        state.skip()


def apply_styles(prompt: str, negative_prompt: str, styles: list[str]) -> tuple[str, str, list[str]]:
    """📋: write the selected styles into the prompts and clear the selection."""
    services = current_services()
    if services.prompt_styles is None:
        return prompt, negative_prompt, styles
    prompt = services.prompt_styles.apply_styles_to_prompt(prompt, styles)
    negative_prompt = services.prompt_styles.apply_negative_styles_to_prompt(negative_prompt, styles)
    return prompt, negative_prompt, []


def prompt_from_dropped_image(data_url: str) -> str | None:
    """The infotext of a picture dropped on a prompt box (a ``data:`` URL), or ``None`` when it has none."""
    if not data_url or "," not in data_url:
        return None
    try:
        image = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
        parameters, _ = read_info_from_image(image)
    except (ValueError, OSError):
        return None
    return parameters or None


STYLES_INFO = ("Styles allow you to add custom text to prompt. Use the {prompt} token in style text, and it will be "
               "replaced with user's prompt when applying style. Otherwise, style's text will be added to the end of "
               "the prompt.")
STYLES_COPY_SYMBOL = "\U0001f4dd"  # 📝 main prompts into the style editor
# A1111 asks before deleting; an empty name (cancelled) deletes nothing
DELETE_CONFIRM_JS = '(name) => (!name ? "" : (confirm("Delete style " + name + "?") ? name : ""))'


def _popup_js(dialog_id: str, show: bool) -> str:
    """Page script showing (``show``) or hiding the dialog ``dialog_id`` as a modal over the page (A1111's
    ``popup``); a click on the dimmed page around it closes it.  The event's inputs pass through unchanged."""
    if not show:
        return ("() => { document.getElementById(%r)?.classList.remove('webui-popup-open');"
                " const b = document.getElementById('webui_popup_backdrop'); if (b) b.style.display = 'none'; }"
                % dialog_id)
    return ("(...args) => {"
            " let b = document.getElementById('webui_popup_backdrop');"
            " if (!b) { b = document.createElement('div'); b.id = 'webui_popup_backdrop';"
            "  b.className = 'webui-popup-backdrop'; document.body.appendChild(b);"
            "  b.addEventListener('click', () => { b.style.display = 'none';"
            "   for (const d of document.querySelectorAll('.popup-dialog.webui-popup-open'))"
            " d.classList.remove('webui-popup-open'); }); }"
            " b.style.display = 'block';"
            " document.getElementById(%r)?.classList.add('webui-popup-open');"
            " return args; }" % dialog_id)


def _reload_styles() -> None:
    services = current_services()
    if services.prompt_styles is not None:
        services.prompt_styles.reload()


def select_style(name: str | None) -> tuple[Any, Any, Any, Any]:
    """A style chosen (or a new name typed) in the editor: its texts, Delete shown for an existing style, Save
    for any name."""
    import gradio as gr

    services = current_services()
    style = services.prompt_styles.styles.get(name) if name and services.prompt_styles is not None else None
    prompt = style.prompt if style is not None else gr.update()
    negative = style.negative_prompt if style is not None else gr.update()
    return prompt, negative, gr.update(visible=style is not None), gr.update(visible=bool(name))


def open_style_editor(selected: list[str] | None, name: str | None, prompt: str,
                      negative: str) -> tuple[Any, Any, Any, Any, Any]:
    """🖌️: the editor opens on the last style chosen in the Styles dropdown; with none chosen and no style being
    edited, a new style starts from the tab's prompts."""
    import gradio as gr

    chosen = [s for s in selected or [] if s]
    if chosen:
        return (chosen[-1], *select_style(chosen[-1]))
    if not name:
        return gr.update(), prompt, negative, gr.update(visible=False), gr.update()
    return gr.update(), gr.update(), gr.update(), gr.update(), gr.update()


def save_style(name: str | None, prompt: str, negative: str) -> Any:
    """Save: write the style into its styles file (new ones into the first, ``styles.csv`` in the data dir)."""
    import gradio as gr

    services = current_services()
    if not name or services.prompt_styles is None:
        return gr.update(visible=False)
    services.prompt_styles.save_style(name, prompt, negative)
    return gr.update(visible=True)


def delete_style(name: str | None) -> tuple[Any, Any, Any, Any, Any]:
    """Delete (confirmed on the page): remove the style from its file and empty the editor."""
    import gradio as gr

    services = current_services()
    if not name or services.prompt_styles is None:
        return gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
    services.prompt_styles.delete_style(name)
    return None, "", "", gr.update(visible=False), gr.update(visible=False)


def _refreshed_styles(selected: list[str] | None, name: str | None) -> tuple[Any, Any]:
    """New choices for a tab's Styles dropdown (keeping the chosen styles that still exist) and its editor's."""
    import gradio as gr

    names = _style_names()
    kept = [s for s in selected or [] if s in names]
    return gr.update(choices=names, value=kept), gr.update(choices=names, value=name if name in names else None)


def _share_style_refreshes(dropdown: Any, selection: Any, changes: list) -> None:
    """After a Save or Delete in any tab's editor, every tab's Styles dropdown and editor list the styles anew.

    The editors of one page build are kept on its root block, so txt2img's Save also refreshes img2img's lists
    (built later) and the other way round."""
    from gradio.context import Context

    root = Context.root_block
    editors = getattr(root, "webui_style_editors", None) if root is not None else None
    if editors is None:
        editors = []
        if root is not None:
            root.webui_style_editors = editors
    editors.append((dropdown, selection, changes))
    for other_dropdown, other_selection, other_changes in editors:
        targets = [(other_dropdown, other_selection, changes)]
        if other_dropdown is not dropdown:
            targets.append((dropdown, selection, other_changes))
        for target_dropdown, target_selection, events in targets:
            for event in events:
                event.then(fn=_refreshed_styles, inputs=[target_dropdown, target_selection],
                           outputs=[target_dropdown, target_selection], show_progress="hidden")


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
        """The Styles dropdown, 🖌️, and the style editor it opens as a modal (A1111's ``UiPromptStyles``)."""
        import gradio as gr

        p = self.id_part
        with gr.Row(elem_id=f"{p}_styles_row"):
            self.styles = make(gr.Dropdown, label="Styles", show_label=False, elem_id=f"{p}_styles",
                               choices=_style_names(), value=[], multiselect=True, tooltip="Styles")
            self.edit_styles = tool_button(symbols.edit_style_symbol, elem_id=f"{p}_styles_edit_button",
                                           tooltip="Edit styles")
        # rendered always and shown by the page as a modal (see _popup_js): gradio keeps no hidden copy around
        with gr.Group(elem_id=f"{p}_styles_dialog", elem_classes=["popup-dialog", "styles-dialog"]):
            with gr.Row():
                selection = gr.Dropdown(label="Styles", elem_id=f"{p}_styles_edit_select", choices=_style_names(),
                                        value=None, allow_custom_value=True, info=STYLES_INFO)
                refresh_button([self.styles, selection], _reload_styles, lambda: {"choices": _style_names()},
                               f"refresh_{p}_styles")
                materialize = tool_button(symbols.apply_style_symbol, elem_id=f"{p}_style_apply_dialog",
                                          tooltip="Apply all selected styles from the style selction dropdown in "
                                                  "main UI to the prompt.")
                copy = tool_button(STYLES_COPY_SYMBOL, elem_id=f"{p}_style_copy",
                                   tooltip="Copy main UI prompt to style.")
            with gr.Row():
                style_prompt = gr.Textbox(label="Prompt", elem_id=f"{p}_edit_style_prompt", lines=3,
                                          elem_classes=["prompt"])
            with gr.Row():
                style_negative = gr.Textbox(label="Negative prompt", elem_id=f"{p}_edit_style_neg_prompt", lines=3,
                                            elem_classes=["prompt"])
            with gr.Row():
                save = gr.Button("Save", elem_id=f"{p}_edit_style_save", variant="primary", visible=False)
                delete = gr.Button("Delete", elem_id=f"{p}_edit_style_delete", variant="primary", visible=False)
                close = gr.Button("Close", elem_id=f"{p}_edit_style_close", variant="secondary")
        dialog_id = f"{p}_styles_dialog"

        self.apply_styles.click(fn=apply_styles, inputs=[self.prompt, self.negative_prompt, self.styles],
                                outputs=[self.prompt, self.negative_prompt, self.styles], show_progress="hidden")
        materialize.click(fn=apply_styles, inputs=[self.prompt, self.negative_prompt, self.styles],
                          outputs=[self.prompt, self.negative_prompt, self.styles], show_progress="hidden"
                          ).then(fn=None, js=_popup_js(dialog_id, show=False))
        self.edit_styles.click(fn=open_style_editor, js=_popup_js(dialog_id, show=True),
                               inputs=[self.styles, selection, self.prompt, self.negative_prompt],
                               outputs=[selection, style_prompt, style_negative, delete, save],
                               show_progress="hidden")
        close.click(fn=None, js=_popup_js(dialog_id, show=False))
        copy.click(fn=lambda prompt, negative: (prompt, negative), inputs=[self.prompt, self.negative_prompt],
                   outputs=[style_prompt, style_negative], show_progress="hidden")
        selection.change(fn=select_style, inputs=[selection], outputs=[style_prompt, style_negative, delete, save],
                         show_progress="hidden")
        saved = save.click(fn=save_style, inputs=[selection, style_prompt, style_negative], outputs=[delete],
                           show_progress="hidden")
        deleted = delete.click(fn=delete_style, js=DELETE_CONFIRM_JS, inputs=[selection],
                               outputs=[selection, style_prompt, style_negative, delete, save],
                               show_progress="hidden")
        _share_style_refreshes(self.styles, selection, [saved, deleted])

    # --- wiring done once the tab's other controls exist ---
    def connect_restore_progress(self, outputs: list) -> None:
        """🌀: follow the task the page ran before it was reloaded and show its result when it ends."""
        import gradio as gr

        def restore(task_id: str) -> Any:
            result = progress.restore_progress(task_id) if task_id else None
            return result if result is not None else [gr.update() for _ in outputs]

        self.restore_progress_button.click(fn=restore, js=f"() => [webuiRestoreProgress('{self.id_part}')]",
                                           inputs=[self.task_id_box], outputs=outputs, show_progress="hidden",
                                           concurrency_limit=None
                                           ).then(fn=None, js=f"() => webuiSubmitDone('{self.id_part}')")

    def connect_token_counters(self, steps: Any) -> None:
        """Recount on every change of a prompt box, the styles or the step count (schedules depend on it)."""
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
