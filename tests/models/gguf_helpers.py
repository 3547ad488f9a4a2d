"""Writing a checkpoint's UNet as a GGUF file the way city96's converter does (keys without the
``model.diffusion_model.`` prefix, ``general.architecture`` naming the family, weights whose rows are whole
blocks quantised, a reshaped 4-D weight's real shape under ``comfy.gguf.orig_shape.<name>``, small tensors kept
in F32), with the ``gguf`` package's own writer and quantiser."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from gguf import GGMLQuantizationType, GGUFWriter, quants
from safetensors.torch import load_file

PREFIX = "model.diffusion_model."


def write_unet_gguf(checkpoint: str | Path, path: str | Path, qtype: GGMLQuantizationType,
                    arch: str = "sd1") -> dict[str, GGMLQuantizationType]:
    """The UNet of ``checkpoint`` (safetensors) as GGUF file ``path``; returns each tensor's stored type."""
    sd = load_file(str(checkpoint))
    writer = GGUFWriter(str(path), arch)
    stored: dict[str, GGMLQuantizationType] = {}
    block = quants.GGML_QUANT_SIZES[qtype][0]
    for key, tensor in sd.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX):]
        values = tensor.to(torch.float32).numpy()
        if values.ndim >= 2 and qtype != GGMLQuantizationType.F32:
            flat = values.reshape(values.shape[0], -1) if values.ndim > 2 else values
            if flat.shape[-1] % block == 0:
                if flat.shape != values.shape:
                    writer.add_array(f"comfy.gguf.orig_shape.{name}", list(values.shape))
                if qtype == GGMLQuantizationType.F16:
                    writer.add_tensor(name, flat.astype(np.float16))
                else:
                    writer.add_tensor(name, quants.quantize(flat, qtype), raw_dtype=qtype)
                stored[name] = qtype
                continue
        writer.add_tensor(name, values)
        stored[name] = GGMLQuantizationType.F32
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return stored
