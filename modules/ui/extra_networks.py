"""The extra-networks tabs beside "Generation" in txt2img and img2img: Textual Inversion, Hypernetworks,
Checkpoints, Lora (SPEC 9.4).

Each page is empty ("Loading...") until first opened; its refresh button lists
the folders again.  Clicking a card is handled in the page
(``javascript/extra_networks.js``): it adds the card's text to the prompt (or
removes it when already there); a checkpoint card selects that checkpoint.
"""
from __future__ import annotations

from typing import Any

from modules.ui.extra_network_cards import page_html
from modules.ui.extra_network_pages import builtin_pages
from modules.ui.quicksettings import apply_setting


def create_extra_networks_tabs(tab: Any) -> None:
    """Add one tab per page to ``tab.extra_tabs`` (the current gradio context is that Tabs)."""
    import gradio as gr

    tabname = tab.tabname
    for page in builtin_pages():
        prefix = f"{tabname}_{page.id_page}"
        with gr.Tab(page.title, elem_id=prefix, elem_classes=["extra-page"]) as page_tab:
            cards = gr.HTML(page_html(tabname, page, empty=True), elem_id=f"{prefix}_cards_html")
            refresh = gr.Button("Refresh", elem_id=f"{prefix}_extra_refresh_internal", visible="hidden")

        def show(page: Any = page) -> str:
            return page_html(tabname, page)

        def refresh_page(page: Any = page) -> str:
            page.refresh()
            return page_html(tabname, page)

        page_tab.select(fn=show, inputs=[], outputs=[cards], show_progress="hidden")
        refresh.click(fn=refresh_page, inputs=[], outputs=[cards], show_progress="hidden")


def create_checkpoint_selector(checkpoint: Any) -> None:
    """The hidden box and button a checkpoint card uses to select its checkpoint (A1111's ``change_checkpoint``);
    ``checkpoint`` is the quicksettings dropdown, which shows the new choice."""
    import gradio as gr

    name = gr.Textbox(visible="hidden", elem_id="change_checkpoint_name")
    button = gr.Button("Change checkpoint", elem_id="change_checkpoint", visible="hidden")
    outputs = [checkpoint] if checkpoint is not None else []

    def select(title: str) -> Any:
        update, _settings = apply_setting("sd_model_checkpoint", title)
        return update if outputs else None

    button.click(fn=select, inputs=[name], outputs=outputs, show_progress="minimal")
