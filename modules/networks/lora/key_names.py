"""A LoRA file's keys split into (layer name, part), whatever the trainer that wrote them.

kohya / LyCORIS keys are ``<layer>.<part>`` with an underscored layer name
(``lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight``).  diffusers and
PEFT write dotted module paths (``unet.down_blocks.0.attentions.0.proj_in.lora_A.weight``,
``text_encoder.text_model...``, the old ``...attn1.processor.to_q_lora.down.weight``);
they are turned into the kohya form, and their part names into kohya's
(``lora_A`` -> ``lora_down``, ``lora_B`` -> ``lora_up``), so the rest of the code
sees one scheme.  Matching a name to a layer is :mod:`.layer_index`'s job.
"""
from __future__ import annotations

import re

PART_RENAMES = {
    "lora_A.weight": "lora_down.weight", "lora_B.weight": "lora_up.weight",
    "lora.down.weight": "lora_down.weight", "lora.up.weight": "lora_up.weight",
    "lora_linear_layer.down.weight": "lora_down.weight", "lora_linear_layer.up.weight": "lora_up.weight",
    "lora_magnitude_vector": "dora_scale", "lora_magnitude_vector.weight": "dora_scale",
}
"""diffusers / PEFT part names -> kohya's."""

KNOWN_PARTS = (
    "lora_up.weight", "lora_down.weight", "lora_mid.weight", "alpha", "scale", "dora_scale", "bias",
    "hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2",
    "lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2",
    "weight", "on_input", "diff", "diff_b", "w_norm", "b_norm",
    "a1.weight", "a2.weight", "b1.weight", "b2.weight", "oft_blocks", "oft_diag", "rescale",
    *PART_RENAMES,
)
_PARTS_LONGEST_FIRST = sorted(KNOWN_PARTS, key=len, reverse=True)

DOTTED_PREFIXES = (
    ("text_encoder_2.", "lora_te2_"),
    ("text_encoder.", "lora_te1_"),
    ("unet.", "lora_unet_"),
    ("lora_unet.", "lora_unet_"),
    ("lora_te.", "lora_te_"),
    ("lora_te1.", "lora_te1_"),
    ("lora_te2.", "lora_te2_"),
)
"""Module-path prefixes of diffusers-style keys -> kohya prefixes."""

UNET_ROOTS = ("down_blocks.", "mid_block.", "up_blocks.", "conv_in", "conv_out", "conv_norm_out",
              "time_embedding.", "add_embedding.")
"""What a bare diffusers UNet path starts with (PEFT saves without a ``unet.`` prefix)."""

_processor = re.compile(r"^(.*)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(up|down)\.weight$")

PREFIX_RENAMES = (("oft_unet_", "lora_unet_"),)
"""kohya's OFT files name UNet layers ``oft_unet_...``."""

BUNDLE_PREFIX = "bundle_emb."
"""Keys of textual-inversion embeddings bundled in a LoRA file (``bundle_emb.<name>.<vector>``)."""


def _kohya_layer(layer: str) -> str:
    if "." not in layer:
        for old, new in PREFIX_RENAMES:
            if layer.startswith(old):
                return new + layer[len(old):]
        return layer
    if layer.startswith("base_model.model."):
        layer = layer[len("base_model.model."):]
    for old, new in DOTTED_PREFIXES:
        if layer.startswith(old):
            return new + layer[len(old):].replace(".", "_")
    if layer.startswith(UNET_ROOTS):
        return "lora_unet_" + layer.replace(".", "_")
    if layer.startswith("text_model."):
        return "lora_te1_" + layer.replace(".", "_")
    return layer.replace(".", "_")


def split_key(key: str) -> tuple[str, str]:
    """``(layer name, part)`` of a file key, both in kohya's scheme.

    >>> split_key("unet.mid_block.attentions.0.proj_in.lora_A.weight")
    ('lora_unet_mid_block_attentions_0_proj_in', 'lora_down.weight')
    """
    m = _processor.match(key)
    if m:
        layer = m.group(1) + "." + m.group(2) + (".0" if m.group(2) == "to_out" else "")
        return _kohya_layer(layer), f"lora_{m.group(3)}.weight"
    for part in _PARTS_LONGEST_FIRST:
        if key.endswith("." + part):
            layer = key[: -len(part) - 1]
            return _kohya_layer(layer), PART_RENAMES.get(part, part)
    layer, _, part = key.partition(".")
    return _kohya_layer(layer), part


def group_by_layer(keys: list[str]) -> dict[str, dict[str, str]]:
    """``{layer name: {part: original key}}`` for every key that is not a bundled embedding."""
    grouped: dict[str, dict[str, str]] = {}
    for key in keys:
        if key.startswith(BUNDLE_PREFIX):
            continue
        layer, part = split_key(key)
        grouped.setdefault(layer, {})[part] = key
    return grouped
