"""Tiny random-weight model files with the real key layouts, written by the tests that need them."""
from __future__ import annotations

import os

import torch


def _save(state_dict: dict, path: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    state_dict = {k: v.detach().clone().contiguous() for k, v in state_dict.items()}
    if path.endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file(state_dict, path)
    else:
        torch.save(state_dict, path)
    return path


def _randomize(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights scaled by fan-in, so activations neither vanish (denormals are very slow) nor explode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim > 1:
                p.copy_(torch.randn(p.shape, generator=gen) / (p[0].numel() ** 0.5))
    return module


def esrgan_old_arch(path: str, scale: int = 4, nf: int = 8, blocks: int = 1, seed: int = 0) -> str:
    """An ESRGAN (RRDB) file in the old ``model.N`` layout (as 4x-UltraSharp and friends)."""
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(seed)
    net = ESRGAN(in_nc=3, out_nc=3, num_filters=nf, num_blocks=blocks, scale=scale)
    return _save(_randomize(net, seed).state_dict(), path)


def realesrgan_new_arch(path: str, nf: int = 8, gc: int = 32, blocks: int = 1, seed: int = 0) -> str:
    """A 4x Real-ESRGAN RRDBNet file in the new layout (``conv_first``, ``body.N.rdbM.convK``, ``params_ema``)."""
    gen = torch.Generator().manual_seed(seed)

    def conv(out_ch: int, in_ch: int) -> dict:
        return {"weight": torch.randn(out_ch, in_ch, 3, 3, generator=gen) / (in_ch * 9) ** 0.5,
                "bias": torch.zeros(out_ch)}

    sd: dict[str, torch.Tensor] = {}

    def put(prefix: str, tensors: dict) -> None:
        for k, v in tensors.items():
            sd[f"{prefix}.{k}"] = v

    put("conv_first", conv(nf, 3))
    for b in range(blocks):
        for r in (1, 2, 3):
            for c in range(1, 6):
                put(f"body.{b}.rdb{r}.conv{c}", conv(nf if c == 5 else gc, nf + (c - 1) * gc))
    put("conv_body", conv(nf, nf))
    put("conv_up1", conv(nf, nf))
    put("conv_up2", conv(nf, nf))
    put("conv_hr", conv(nf, nf))
    put("conv_last", conv(3, nf))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({"params_ema": sd}, path)
    return path


def compact(path: str, scale: int = 4, nf: int = 8, convs: int = 2, seed: int = 0) -> str:
    """A Real-ESRGAN Compact (SRVGGNet) file, as ``realesr-general-x4v3.pth``."""
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(seed)
    net = Compact(num_in_ch=3, num_out_ch=3, num_feat=nf, num_conv=convs, upscale=scale)
    return _save(_randomize(net, seed).state_dict(), path)


def swinir(path: str, scale: int = 2, seed: int = 0) -> str:
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(seed)
    net = SwinIR(img_size=16, patch_size=1, in_chans=3, embed_dim=12, depths=[1], num_heads=[2], window_size=4,
                 mlp_ratio=2.0, upscale=scale, upsampler="pixelshuffledirect", resi_connection="1conv")
    return _save(_randomize(net, seed).state_dict(), path)


def dat(path: str, scale: int = 2, seed: int = 0) -> str:
    from spandrel.architectures.DAT import DAT

    torch.manual_seed(seed)
    net = DAT(img_size=16, in_chans=3, embed_dim=32, split_size=[2, 4], depth=[1], num_heads=[2], expansion_factor=2.0,
              upscale=scale, resi_connection="1conv", upsampler="pixelshuffledirect")
    return _save(_randomize(net, seed).state_dict(), path)


def gfpgan(path: str, seed: int = 0) -> str:
    """A GFPGANv1Clean file with the released key layout at 1/16 of the width (fast on a CPU)."""
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(seed)
    net = GFPGAN(out_size=512, num_style_feat=32, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
                 num_mlp=8, input_is_latent=True, different_w=True, narrow=0.0625, sft_half=True)
    return _save(_randomize(net, seed).state_dict(), path)


def codeformer(path: str, seed: int = 0) -> str:
    """A CodeFormer file (the VQ encoder and generator are full size; the transformer is one narrow layer)."""
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    torch.manual_seed(seed)
    net = CodeFormer(dim_embd=64, n_head=8, n_layers=1, codebook_size=16, latent_size=256,
                     connect_list=["32", "64", "128", "256"])
    return _save(net.state_dict(), path)


def retinaface(path: str, seed: int = 0) -> str:
    """facexlib's RetinaFace ResNet-50 with random weights under the released file's keys."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from facexlib.detection.retinaface import RetinaFace

        torch.manual_seed(seed)
        net = RetinaFace(network_name="resnet50", half=False, device=torch.device("cpu"))
    return _save(net.state_dict(), path)
