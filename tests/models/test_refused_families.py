"""The families A1111 1.10 loads that this web UI still refuses (unCLIP, AltDiffusion) are named as A1111
tells them apart (its config choice: unCLIP-L/H by the embedder's width, AltDiffusion m18/m9 by the
projection's width), so the refusal says exactly which model the file is."""
from __future__ import annotations

from modules.models.detection import detect


def test_families_still_refused_are_named_as_a1111_tells_them_apart():
    roberta = {"cond_stage_model.roberta.embeddings.word_embeddings.weight": (250002, 1024)}
    m18 = detect({**roberta, "cond_stage_model.transformation.weight": (1024, 1024)})
    m9 = detect({**roberta, "cond_stage_model.transformation.weight": (768, 1024)})
    assert (m18.family, m18.config, m9.family, m9.config) == ("alt-diffusion-m18", None, "alt-diffusion", None)
    assert detect({"embedder.model.ln_final.weight": (768,)}).family == "sd2-unclip-l"
    assert detect({"embedder.model.ln_final.weight": (1024,)}).family == "sd2-unclip-h"
