"""The Train tab (SPEC 13.6): A1111's controls.  Create embedding and Create hypernetwork write new files;
Train Embedding / Train Hypernetwork run :mod:`modules.training` as jobs of the queue (``train_actions``)."""
from __future__ import annotations

from typing import Any

from modules.core.file_naming import CreationError
from modules.core.services import current_services
from modules.scripting import callbacks
from modules.ui import form_components as forms
from modules.ui import train_actions
from modules.ui.components import create_refresh_button, error_html, make

WIKI = "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/Textual-Inversion"
ACTIVATIONS = ["linear", "relu", "leakyrelu", "rrelu", "elu", "swish", "tanh", "sigmoid", "celu", "gelu", "glu",
               "hardshrink", "hardsigmoid", "hardtanh", "logsigmoid", "logsoftmax", "mish", "prelu", "relu6", "selu",
               "silu", "softmax", "softmax2d", "softmin", "softplus", "softshrink", "softsign", "tanhshrink",
               "threshold"]


def _embedding_names() -> list[str]:
    return sorted(getattr(current_services().embeddings, "word_embeddings", None) or {})


def _hypernetwork_names() -> list[str]:
    return sorted(current_services().hypernetworks or {})


def _reload_embeddings() -> None:
    embeddings = current_services().embeddings
    if embeddings is not None:
        embeddings.load_textual_inversion_embeddings(force_reload=True)


def _reload_hypernetworks() -> None:
    registry = getattr(current_services(), "hypernetworks_registry", None)
    if registry is not None:
        registry.refresh()


def create_embedding(name: str, initialization_text: str, nvpt: float, overwrite_old: bool) -> tuple[Any, str, str]:
    """The "Create embedding" button: (embedding dropdown update, message, error)."""
    import gradio as gr

    # torch on first use: the page builds without loading it
    from modules.prompting.textual_inversion.creation import create_embedding_and_reload

    try:
        filename = create_embedding_and_reload(name, int(nvpt), bool(overwrite_old), init_text=initialization_text)
    except CreationError as e:
        return gr.update(), "", error_html(str(e))
    return gr.update(choices=_embedding_names()), f"Created: {filename}", ""


def create_hypernetwork(name: str, enable_sizes: list[str], overwrite_old: bool, layer_structure: str,
                        activation_func: str, weight_init: str, add_layer_norm: bool, use_dropout: bool,
                        dropout_structure: str) -> tuple[Any, str, str]:
    """The "Create hypernetwork" button: (hypernetwork dropdown update, message, error)."""
    import gradio as gr

    # torch on first use: the page builds without loading it
    from modules.networks.hypernetworks.creation import create_hypernetwork as create

    try:
        filename = create(name, enable_sizes, bool(overwrite_old), layer_structure, activation_func, weight_init,
                          bool(add_layer_norm), bool(use_dropout), dropout_structure)
    except CreationError as e:
        return gr.update(), "", error_html(str(e))
    return gr.update(choices=_hypernetwork_names()), f"Created: {filename}", ""


def create_train_tab() -> None:
    """Build the tab in the current gradio context."""
    import gradio as gr

    with gr.Row(equal_height=False):
        gr.HTML(value=f"<p style='margin-bottom: 0.7em'>See <b><a href=\"{WIKI}\">wiki</a></b> for detailed "
                      "explanation.</p>")
    with forms.ResizeHandleRow(variant="compact", equal_height=False):
        with gr.Tabs(elem_id="train_tabs"):
            with gr.Tab(label="Create embedding", id="create_embedding"):
                emb_name = make(gr.Textbox, label="Name", elem_id="train_new_embedding_name")
                emb_init = make(gr.Textbox, label="Initialization text", value="*",
                                elem_id="train_initialization_text")
                emb_nvpt = make(gr.Slider, label="Number of vectors per token", minimum=1, maximum=75, step=1,
                                value=1, elem_id="train_nvpt")
                emb_overwrite = make(gr.Checkbox, value=False, label="Overwrite Old Embedding",
                                     elem_id="train_overwrite_old_embedding")
                create_emb = gr.Button(value="Create embedding", variant="primary", elem_id="train_create_embedding")
            with gr.Tab(label="Create hypernetwork", id="create_hypernetwork"):
                hn_name = make(gr.Textbox, label="Name", elem_id="train_new_hypernetwork_name")
                hn_sizes = make(gr.CheckboxGroup, label="Modules", value=["768", "320", "640", "1280"],
                     choices=["768", "1024", "320", "640", "1280"], elem_id="train_new_hypernetwork_sizes")
                hn_structure = make(gr.Textbox, value="1, 2, 1", label="Enter hypernetwork layer structure",
                     placeholder="1st and last digit must be 1. ex:'1, 2, 1'",
                     elem_id="train_new_hypernetwork_layer_structure")
                hn_activation = make(gr.Dropdown, value="linear", choices=ACTIVATIONS,
                     label="Select activation function of hypernetwork. Recommended : Swish / Linear(none)",
                     elem_id="train_new_hypernetwork_activation_func")
                hn_init = make(gr.Dropdown, value="Normal",
                     label="Select Layer weights initialization. Recommended: Kaiming for relu-like, Xavier for "
                           "sigmoid-like, Normal otherwise",
                     choices=["Normal", "KaimingUniform", "KaimingNormal", "XavierUniform", "XavierNormal"],
                     elem_id="train_new_hypernetwork_initialization_option")
                hn_norm = make(gr.Checkbox, label="Add layer normalization",
                               elem_id="train_new_hypernetwork_add_layer_norm")
                hn_dropout = make(gr.Checkbox, label="Use dropout", elem_id="train_new_hypernetwork_use_dropout")
                hn_dropout_structure = make(gr.Textbox, value="0, 0, 0", label="Enter hypernetwork Dropout structure (or empty). Recommended "
                     ": 0~0.35 incrementing sequence: 0, 0.05, 0.15",
                     placeholder="1st and last digit must be 0 and values should be between 0 and 1. ex:'0, 0.01, 0'")
                hn_overwrite = make(gr.Checkbox, value=False, label="Overwrite Old Hypernetwork",
                                    elem_id="train_overwrite_old_hypernetwork")
                create_hn = gr.Button(value="Create hypernetwork", variant="primary",
                                      elem_id="train_create_hypernetwork")
            with gr.Tab(label="Train", id="train"):
                gr.HTML(value="<p style='margin-bottom: 0.7em'>Train an embedding or Hypernetwork; you must specify a "
                              f"directory with a set of 1:1 ratio images <a href=\"{WIKI}\" "
                              "style=\"font-weight:bold;\">[wiki]</a></p>")
                with forms.FormRow():
                    train_embedding = make(gr.Dropdown, label="Embedding", elem_id="train_embedding",
                                           choices=_embedding_names())
                    create_refresh_button(train_embedding, _reload_embeddings, lambda: {"choices": _embedding_names()},
                                          "refresh_train_embedding_name")
                    train_hypernetwork = make(gr.Dropdown, label="Hypernetwork", elem_id="train_hypernetwork",
                                              choices=_hypernetwork_names())
                    create_refresh_button(train_hypernetwork, _reload_hypernetworks,
                                          lambda: {"choices": _hypernetwork_names()}, "refresh_train_hypernetwork_name")
                train_inputs, train_emb_button, interrupt_button, train_hn_button, preview_inputs = _train_controls(
                    train_embedding, train_hypernetwork)
            # extensions add their own training tabs here (A1111's on_ui_train_tabs)
            callbacks.ui_train_tabs_callback(callbacks.UiTrainTabParams(preview_inputs))
        with gr.Column(elem_id="ti_gallery_container"):
            output = gr.Text(elem_id="ti_output", value="", show_label=False)
            gr.Gallery(label="Output", show_label=False, elem_id="ti_gallery", columns=4)
            gr.HTML(elem_id="ti_progress", value="")
            outcome = gr.HTML(elem_id="ti_error", value="")
    _connect_training(train_inputs, preview_inputs, train_emb_button, interrupt_button, train_hn_button, output,
                      outcome)
    create_emb.click(fn=create_embedding, inputs=[emb_name, emb_init, emb_nvpt, emb_overwrite],
                     outputs=[train_embedding, output, outcome], show_progress="hidden")
    create_hn.click(fn=create_hypernetwork,
                    inputs=[hn_name, hn_sizes, hn_overwrite, hn_structure, hn_activation, hn_init, hn_norm, hn_dropout,
                            hn_dropout_structure],
                    outputs=[train_hypernetwork, output, outcome], show_progress="hidden")


def _train_controls(train_embedding: Any, train_hypernetwork: Any) -> tuple[list[Any], Any, Any, Any, list[Any]]:
    """The Train sub-tab below the two dropdowns: ``(inputs in A1111's order after the name, train embedding
    button, interrupt button, train hypernetwork button, preview inputs)``."""
    import gradio as gr

    with forms.FormRow():
        emb_rate = make(gr.Textbox, label="Embedding Learning rate", placeholder="Embedding Learning rate",
                        value="0.005", elem_id="train_embedding_learn_rate")
        hn_rate = make(gr.Textbox, label="Hypernetwork Learning rate", placeholder="Hypernetwork Learning rate",
                       value="0.00001", elem_id="train_hypernetwork_learn_rate")
    with forms.FormRow():
        clip_mode = make(gr.Dropdown, value="disabled", label="Gradient Clipping",
                         choices=["disabled", "value", "norm"])
        clip_value = make(gr.Textbox, placeholder="Gradient clip value", value="0.1", show_label=False)
    with forms.FormRow():
        batch_size = make(gr.Number, label="Batch size", value=1, precision=0, elem_id="train_batch_size")
        gradient_step = make(gr.Number, label="Gradient accumulation steps", value=1, precision=0,
                             elem_id="train_gradient_step")
    dataset = make(gr.Textbox, label="Dataset directory", placeholder="Path to directory with input images",
                   elem_id="train_dataset_directory")
    log_dir = make(gr.Textbox, label="Log directory", placeholder="Path to directory where to write outputs",
                   value="textual_inversion", elem_id="train_log_directory")
    with forms.FormRow():
        templates = train_actions.template_names()
        template = make(gr.Dropdown, label="Prompt template", elem_id="train_template_file", choices=templates,
                        value="style_filewords.txt" if "style_filewords.txt" in templates else None)
        create_refresh_button(template, None, lambda: {"choices": train_actions.template_names()},
                              "refrsh_train_template_file")
    width = make(gr.Slider, minimum=64, maximum=2048, step=8, label="Width", value=512, elem_id="train_training_width")
    height = make(gr.Slider, minimum=64, maximum=2048, step=8, label="Height", value=512,
                  elem_id="train_training_height")
    varsize = make(gr.Checkbox, label="Do not resize images", value=False, elem_id="train_varsize")
    steps = make(gr.Number, label="Max steps", value=100000, precision=0, elem_id="train_steps")
    with forms.FormRow():
        image_every = make(gr.Number, label="Save an image to log directory every N steps, 0 to disable", value=500,
                           precision=0, elem_id="train_create_image_every")
        save_every = make(gr.Number, label="Save a copy of embedding to log directory every N steps, 0 to disable",
                          value=500, precision=0, elem_id="train_save_embedding_every")
    use_weight = make(gr.Checkbox, label="Use PNG alpha channel as loss weight", value=False, elem_id="use_weight")
    save_in_png = make(gr.Checkbox, label="Save images with embedding in PNG chunks", value=True,
                       elem_id="train_save_image_with_stored_embedding")
    from_txt2img = make(gr.Checkbox, label="Read parameters (prompt, etc...) from txt2img tab when making previews",
                        value=False, elem_id="train_preview_from_txt2img")
    shuffle = make(gr.Checkbox, label="Shuffle tags by ',' when creating prompts.", value=False,
                   elem_id="train_shuffle_tags")
    drop_out = make(gr.Slider, minimum=0, maximum=1, step=0.1, label="Drop out tags when creating prompts.", value=0,
                    elem_id="train_tag_drop_out")
    sampling = make(gr.Radio, label="Choose latent sampling method", value="once",
                    choices=["once", "deterministic", "random"], elem_id="train_latent_sampling_method")
    with gr.Row():
        train_emb = gr.Button(value="Train Embedding", variant="primary", elem_id="train_train_embedding")
        interrupt = gr.Button(value="Interrupt", elem_id="train_interrupt_training")
        train_hn = gr.Button(value="Train Hypernetwork", variant="primary", elem_id="train_train_hypernetwork")
    preview = train_actions.txt2img_preview_components()
    if preview is None:  # no txt2img tab on this page: previews fall back to A1111's API defaults
        preview = [gr.Textbox(visible=False), gr.Textbox(visible=False), gr.Number(value=20, visible=False),
                   gr.Textbox(value="Euler a", visible=False), gr.Number(value=7.0, visible=False),
                   gr.Number(value=-1, visible=False), gr.Number(value=512, visible=False),
                   gr.Number(value=512, visible=False)]
    common = [batch_size, gradient_step, dataset, log_dir, width, height, varsize, steps, clip_mode, clip_value,
              shuffle, drop_out, sampling, use_weight, image_every, save_every, template]
    inputs = [train_embedding, emb_rate, train_hypernetwork, hn_rate, save_in_png, from_txt2img, *common]
    return inputs, train_emb, interrupt, train_hn, preview


def _connect_training(inputs: list[Any], preview: list[Any], train_emb: Any, interrupt: Any, train_hn: Any,
                      output: Any, outcome: Any) -> None:
    import gradio as gr

    embedding, emb_rate, hypernetwork, hn_rate, save_in_png, from_txt2img, *common = inputs
    task = gr.Textbox(visible=False)  # the page's task id, set by webuiSubmit
    submit = "(...args) => webuiSubmit('ti', args)"
    train_emb.click(fn=train_actions.queued(train_actions.train_embedding), js=submit,
                    inputs=[task, embedding, emb_rate, *common, save_in_png, from_txt2img, *preview],
                    outputs=[output, outcome]).then(fn=None, js="() => webuiSubmitDone('ti')")
    train_hn.click(fn=train_actions.queued(train_actions.train_hypernetwork), js=submit,
                   inputs=[task, hypernetwork, hn_rate, *common, from_txt2img, *preview],
                   outputs=[output, outcome]).then(fn=None, js="() => webuiSubmitDone('ti')")
    interrupt.click(fn=train_actions.interrupt, inputs=[], outputs=[])
