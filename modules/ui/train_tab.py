"""The Train tab (SPEC 13.6): A1111's controls.  Create embedding and Create hypernetwork write new files;
training itself is not part of this web UI yet, and its buttons say so instead of failing."""
from __future__ import annotations

from typing import Any

from modules.core.file_naming import CreationError
from modules.core.services import current_services
from modules.ui import form_components as forms
from modules.ui.components import error_html, make

NOT_AVAILABLE = "Training embeddings and hypernetworks is not available in this web UI yet."
WIKI = "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/Textual-Inversion"
ACTIVATIONS = ["linear", "relu", "leakyrelu", "rrelu", "elu", "swish", "tanh", "sigmoid", "celu", "gelu", "glu",
               "hardshrink", "hardsigmoid", "hardtanh", "logsigmoid", "logsoftmax", "mish", "prelu", "relu6", "selu",
               "silu", "softmax", "softmax2d", "softmin", "softplus", "softshrink", "softsign", "tanhshrink",
               "threshold"]


def _embedding_names() -> list[str]:
    return sorted(getattr(current_services().embeddings, "word_embeddings", None) or {})


def _hypernetwork_names() -> list[str]:
    return sorted(current_services().hypernetworks or {})


def _unavailable(*_: Any) -> tuple[str, str]:
    return "", error_html(NOT_AVAILABLE)


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
    buttons = []
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
                    train_hypernetwork = make(gr.Dropdown, label="Hypernetwork", elem_id="train_hypernetwork",
                                              choices=_hypernetwork_names())
                with forms.FormRow():
                    make(gr.Textbox, label="Embedding Learning rate", placeholder="Embedding Learning rate",
                         value="0.005", elem_id="train_embedding_learn_rate")
                    make(gr.Textbox, label="Hypernetwork Learning rate", placeholder="Hypernetwork Learning rate",
                         value="0.00001", elem_id="train_hypernetwork_learn_rate")
                with forms.FormRow():
                    make(gr.Dropdown, value="disabled", label="Gradient Clipping", choices=["disabled", "value", "norm"])
                    make(gr.Textbox, placeholder="Gradient clip value", value="0.1", show_label=False)
                with forms.FormRow():
                    make(gr.Number, label="Batch size", value=1, precision=0, elem_id="train_batch_size")
                    make(gr.Number, label="Gradient accumulation steps", value=1, precision=0,
                         elem_id="train_gradient_step")
                make(gr.Textbox, label="Dataset directory", placeholder="Path to directory with input images",
                     elem_id="train_dataset_directory")
                make(gr.Textbox, label="Log directory", placeholder="Path to directory where to write outputs",
                     value="textual_inversion", elem_id="train_log_directory")
                make(gr.Dropdown, label="Prompt template", value="style_filewords.txt", elem_id="train_template_file",
                     choices=["style_filewords.txt"])
                make(gr.Slider, minimum=64, maximum=2048, step=8, label="Width", value=512,
                     elem_id="train_training_width")
                make(gr.Slider, minimum=64, maximum=2048, step=8, label="Height", value=512,
                     elem_id="train_training_height")
                make(gr.Checkbox, label="Do not resize images", value=False, elem_id="train_varsize")
                make(gr.Number, label="Max steps", value=100000, precision=0, elem_id="train_steps")
                with forms.FormRow():
                    make(gr.Number, label="Save an image to log directory every N steps, 0 to disable", value=500,
                         precision=0, elem_id="train_create_image_every")
                    make(gr.Number, label="Save a copy of embedding to log directory every N steps, 0 to disable",
                         value=500, precision=0, elem_id="train_save_embedding_every")
                make(gr.Checkbox, label="Use PNG alpha channel as loss weight", value=False, elem_id="use_weight")
                make(gr.Checkbox, label="Save images with embedding in PNG chunks", value=True,
                     elem_id="train_save_image_with_stored_embedding")
                make(gr.Checkbox, label="Read parameters (prompt, etc...) from txt2img tab when making previews",
                     value=False, elem_id="train_preview_from_txt2img")
                make(gr.Checkbox, label="Shuffle tags by ',' when creating prompts.", value=False,
                     elem_id="train_shuffle_tags")
                make(gr.Slider, minimum=0, maximum=1, step=0.1, label="Drop out tags when creating prompts.", value=0,
                     elem_id="train_tag_drop_out")
                make(gr.Radio, label="Choose latent sampling method", value="once",
                     choices=["once", "deterministic", "random"], elem_id="train_latent_sampling_method")
                with gr.Row():
                    buttons.append(gr.Button(value="Train Embedding", variant="primary",
                                             elem_id="train_train_embedding"))
                    gr.Button(value="Interrupt", elem_id="train_interrupt_training")
                    buttons.append(gr.Button(value="Train Hypernetwork", variant="primary",
                                             elem_id="train_train_hypernetwork"))
        with gr.Column(elem_id="ti_gallery_container"):
            output = gr.Text(elem_id="ti_output", value="", show_label=False)
            gr.Gallery(label="Output", show_label=False, elem_id="ti_gallery", columns=4)
            gr.HTML(elem_id="ti_progress", value="")
            outcome = gr.HTML(elem_id="ti_error", value="")
    for button in buttons:
        button.click(fn=_unavailable, inputs=[], outputs=[output, outcome], show_progress="hidden")
    create_emb.click(fn=create_embedding, inputs=[emb_name, emb_init, emb_nvpt, emb_overwrite],
                     outputs=[train_embedding, output, outcome], show_progress="hidden")
    create_hn.click(fn=create_hypernetwork,
                    inputs=[hn_name, hn_sizes, hn_overwrite, hn_structure, hn_activation, hn_init, hn_norm, hn_dropout,
                            hn_dropout_structure],
                    outputs=[train_hypernetwork, output, outcome], show_progress="hidden")
