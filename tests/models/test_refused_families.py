"""The families A1111 1.10 tells apart by its config choice are told apart the same way here: unCLIP-L/H by
the embedder's width, AltDiffusion m18/m9 by the projection's width.  All of them load now (their own tests:
``test_unclip.py``, ``test_alt_diffusion.py``); this pins the detection table's answers on shapes alone."""
from __future__ import annotations

from modules.models.detection import detect


def test_families_are_named_and_configured_as_a1111_tells_them_apart():
    roberta = {"cond_stage_model.roberta.embeddings.word_embeddings.weight": (250002, 1024)}
    m18 = detect({**roberta, "cond_stage_model.transformation.weight": (1024, 1024)})
    m9 = detect({**roberta, "cond_stage_model.transformation.weight": (768, 1024)})
    assert (m18.family, m18.config) == ("alt-diffusion-m18", "alt-diffusion-m18-inference.yaml")
    assert (m9.family, m9.config) == ("alt-diffusion", "alt-diffusion-inference.yaml")
    unclip_l, unclip_h = (detect({"embedder.model.ln_final.weight": (w,)}) for w in (768, 1024))
    assert (unclip_l.family, unclip_l.config) == ("sd2-unclip-l", "v2-1-stable-unclip-l-inference.yaml")
    assert (unclip_h.family, unclip_h.config) == ("sd2-unclip-h", "v2-1-stable-unclip-h-inference.yaml")
