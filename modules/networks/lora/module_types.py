"""The per-layer math of each network type: how a file's tensors for one layer change its weight.

Every type turns its tensors into a raw delta (``updown``); :meth:`NetworkModule.weight_delta`
then finishes it the way A1111 does: the optional ``bias`` tensor added, reshaped
to the layer, times the scale (``scale``, else ``alpha / dim``, else 1), DoRA
re-normalisation when ``dora_scale`` is present, times the multiplier.  All
arithmetic is float32 on the weight's device.  Which type a layer is comes from
the parts present (:func:`make_module`, A1111's order).

Formulas (``W`` the layer's current weight; shapes ``out x in [x k x k]``):

- LoRA / LoCon: ``up @ down`` (``dyn`` keeps the first ``dyn`` ranks); with ``lora_mid``
  the CP/Tucker form ``mid x_0 up x_1 down``.
- LoHa: ``(w1_a @ w1_b) * (w2_a @ w2_b)`` (Hadamard product; Tucker form with ``hada_t1/t2``).
- LoKr: ``kron(w1, w2)``, each factor full or ``a @ b`` (``lokr_t2``: Tucker).
- (IA)^3: ``W * w`` per output row, or per input column with ``on_input``.
- Full: ``diff`` (and ``diff_b`` for the bias).   Norm: ``w_norm`` / ``b_norm``.
- GLoRA: ``W @ a1 @ a2 + b1 @ b2`` (LyCORIS 2+ layout; the older layout ``b2 @ b1 + W @ a2 @ a1``
  is recognised by its shapes).
- OFT: ``R W - W`` with block-diagonal orthogonal ``R`` (Cayley transform of the skew part of
  ``oft_blocks``, norm limited by ``alpha * out``; ``oft_diag`` of old LyCORIS is ``R`` itself);
  BOFT chains butterfly-permuted blocks.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _f32(t: Tensor, like: Tensor) -> Tensor:
    return t.to(device=like.device, dtype=torch.float32)


def rebuild_conventional(up: Tensor, down: Tensor, shape: list[int], dyn_dim: int | None = None) -> Tensor:
    """``up @ down`` on flattened factors, reshaped to ``shape``; ``dyn_dim`` keeps the first ranks only."""
    up = up.reshape(up.size(0), -1)
    down = down.reshape(down.size(0), -1)
    if dyn_dim is not None:
        up, down = up[:, :dyn_dim], down[:dyn_dim, :]
    return (up @ down).reshape(shape)


def rebuild_tucker(core: Tensor, wa: Tensor, wb: Tensor) -> Tensor:
    """Tucker rebuild: ``core`` (r x r x k x k) with ``wa`` (r x out) and ``wb`` (r x in) -> out x in x k x k."""
    temp = torch.einsum("i j k l, j r -> i r k l", core, wb)
    return torch.einsum("i j k l, i r -> r j k l", temp, wa)


def rebuild_cp(up: Tensor, down: Tensor, mid: Tensor) -> Tensor:
    """LoCon's CP form: ``mid`` (r x r x k x k) between ``up`` (out x r) and ``down`` (r x in)."""
    up = up.reshape(up.size(0), -1)
    down = down.reshape(down.size(0), -1)
    return torch.einsum("n m k l, i n, m j -> i j k l", mid, up, down)


class NetworkModule:
    """One layer's tensors from a network file, and the delta they make (A1111's ``NetworkModule``)."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        self.w = w
        self.dim: int | None = None
        self.alpha = float(w["alpha"]) if "alpha" in w else None
        self.scale = float(w["scale"]) if "scale" in w else None
        self.bias = w.get("bias")
        self.dora_scale = w.get("dora_scale")

    def calc_scale(self) -> float:
        """``scale`` if stored, else ``alpha / dim``, else 1."""
        if self.scale is not None:
            return self.scale
        if self.dim is not None and self.alpha is not None:
            return self.alpha / self.dim
        return 1.0

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        """The raw delta and the shape it stands for (before scale and multiplier)."""
        raise NotImplementedError

    def bias_delta(self, like: Tensor, multiplier: float) -> Tensor | None:
        """What is added to the layer's bias (A1111's ``ex_bias``), or ``None``."""
        return None

    def weight_delta(self, orig: Tensor, multiplier: float, dyn_dim: int | None = None) -> Tensor:
        """The finished float32 delta for ``orig`` (the layer's current float32 weight)."""
        updown, shape = self.updown(orig, dyn_dim)
        if self.bias is not None:
            updown = (updown.reshape(self.bias.shape) + _f32(self.bias, orig)).reshape(shape)
        if len(shape) == 4:
            updown = updown.reshape(shape)
        if updown.numel() == orig.numel():
            updown = updown.reshape(orig.shape)
        updown = updown * self.calc_scale()
        if self.dora_scale is not None:
            updown = self.weight_decompose(updown, orig)
        return updown * multiplier

    def merged(self, weight: Tensor, multiplier: float, dyn_dim: int | None = None,
               out: Tensor | None = None) -> Tensor:
        """``weight + delta`` as a new tensor, or written into ``out`` (``weight`` is left alone);
        ``RuntimeError`` when the delta does not fit the layer (a network made for another model)."""
        delta = pad_to(self.weight_delta(weight, multiplier, dyn_dim), weight)
        if delta.shape != weight.shape:
            # broadcasting would hide the mismatch: refuse, the patcher counts it for the network
            raise RuntimeError(f"delta of shape {tuple(delta.shape)} does not fit weight {tuple(weight.shape)}")
        return weight + delta if out is None else torch.add(weight, delta, out=out)

    def weight_decompose(self, updown: Tensor, orig: Tensor) -> Tensor:
        """DoRA: rescale ``orig + updown`` to the stored magnitudes; returns the new delta.

        The magnitudes are per input column (A1111, kohya: ``dora_scale`` shaped
        ``1 x in``) or per output row (LyCORIS, PEFT: ``out x 1``), told apart by shape.
        """
        merged = orig + updown
        scale = _f32(self.dora_scale, orig)
        out, inp = orig.shape[0], orig.shape[1]
        ones = [1] * (orig.dim() - 2)
        per_output = (scale.dim() >= 2 and scale.shape[0] == out and scale.shape[1] == 1 and out != 1) or \
                     (scale.dim() < 2 and scale.numel() == out and out != inp)
        if per_output:
            norm = merged.reshape(out, -1).norm(dim=1).reshape(out, 1, *ones)
            scale = scale.reshape(out, 1, *ones)
        else:
            norm = merged.transpose(0, 1).reshape(inp, -1).norm(dim=1).reshape(1, inp, *ones)
            scale = scale.reshape(1, inp, *ones)
        # an all-zero row (or column) has norm 0: A1111's 0 * (scale / 0) is NaN there; the row stays 0
        norm = torch.where(norm == 0, torch.ones_like(norm), norm)
        return merged * (scale / norm) - orig


class ModuleLora(NetworkModule):
    """LoRA / LoCon (kohya ``lora_up`` / ``lora_down``, optional ``lora_mid``)."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        super().__init__(w)
        self.up, self.down, self.mid = w["lora_up.weight"], w["lora_down.weight"], w.get("lora_mid.weight")
        self.dim = self.down.shape[0]

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        up, down = _f32(self.up, orig), _f32(self.down, orig)
        shape = [up.size(0), down.size(1)]
        if self.mid is not None:
            mid = _f32(self.mid, orig)
            return rebuild_cp(up, down, mid), shape + list(mid.shape[2:])
        if down.dim() == 4:
            shape += list(down.shape[2:])
        return rebuild_conventional(up, down, shape, dyn_dim), shape

    def merged(self, weight: Tensor, multiplier: float, dyn_dim: int | None = None,
               out: Tensor | None = None) -> Tensor:
        # the common case in one BLAS call, W + (scale * multiplier) * up @ down, with no full-size temporary
        if self.mid is not None or self.bias is not None or self.dora_scale is not None:
            return super().merged(weight, multiplier, dyn_dim, out)
        up = _f32(self.up, weight).reshape(self.up.shape[0], -1)
        down = _f32(self.down, weight).reshape(self.down.shape[0], -1)
        if dyn_dim is not None:
            up, down = up[:, :dyn_dim], down[:dyn_dim]
        if up.shape[0] != weight.shape[0] or up.shape[0] * down.shape[1] != weight.numel():
            return super().merged(weight, multiplier, dyn_dim, out)
        flat = weight.reshape(weight.shape[0], -1)
        alpha = self.calc_scale() * multiplier
        if out is None:
            return torch.addmm(flat, up, down, alpha=alpha).reshape(weight.shape)
        torch.addmm(flat, up, down, alpha=alpha, out=out.view(flat.shape))
        return out


class ModuleHada(NetworkModule):
    """LoHa: Hadamard product of two low-rank products."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        super().__init__(w)
        self.w1a, self.w1b, self.w2a, self.w2b = w["hada_w1_a"], w["hada_w1_b"], w["hada_w2_a"], w["hada_w2_b"]
        self.t1, self.t2 = w.get("hada_t1"), w.get("hada_t2")
        self.dim = self.w1b.shape[0]

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        w1a, w1b, w2a, w2b = (_f32(t, orig) for t in (self.w1a, self.w1b, self.w2a, self.w2b))
        if self.t1 is not None:
            t1 = _f32(self.t1, orig)
            shape = [w1a.size(1), w1b.size(1), *t1.shape[2:]]
            first = rebuild_tucker(t1, w1a, w1b)
        else:
            shape = [w1a.size(0), w1b.size(1), *w1b.shape[2:]]
            first = rebuild_conventional(w1a, w1b, shape)
        if self.t2 is not None:
            second = rebuild_tucker(_f32(self.t2, orig), w2a, w2b)
        else:
            second = rebuild_conventional(w2a, w2b, shape)
        return first * second, shape


class ModuleLokr(NetworkModule):
    """LoKr: Kronecker product of two factors, each stored whole or as ``a @ b``."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        super().__init__(w)
        self.w1, self.w1a, self.w1b = w.get("lokr_w1"), w.get("lokr_w1_a"), w.get("lokr_w1_b")
        self.w2, self.w2a, self.w2b = w.get("lokr_w2"), w.get("lokr_w2_a"), w.get("lokr_w2_b")
        self.t2 = w.get("lokr_t2")
        for factor in (self.w1b, self.w2b):
            if factor is not None:
                self.dim = factor.shape[0]

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        if self.w1 is not None:
            w1 = _f32(self.w1, orig)
        else:
            w1 = _f32(self.w1a, orig) @ _f32(self.w1b, orig)
        if self.w2 is not None:
            w2 = _f32(self.w2, orig)
        elif self.t2 is None:
            a, b = _f32(self.w2a, orig), _f32(self.w2b, orig)
            w2 = (a @ b.reshape(b.size(0), -1)).reshape(a.size(0), *b.shape[1:])
        else:
            w2 = rebuild_tucker(_f32(self.t2, orig), _f32(self.w2a, orig), _f32(self.w2b, orig))
        shape = list(orig.shape) if orig.dim() == 4 else [w1.size(0) * w2.size(0), w1.size(1) * w2.size(1)]
        for _ in range(w2.dim() - w1.dim()):
            w1 = w1.unsqueeze(-1)
        return torch.kron(w1, w2.contiguous()).reshape(shape), shape


class ModuleIa3(NetworkModule):
    """(IA)^3: the weight scaled per output row (or per input column with ``on_input``)."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        super().__init__(w)
        self.scale_vector = w["weight"]
        self.on_input = bool(float(w["on_input"]))

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        w = _f32(self.scale_vector, orig)
        shape = [w.size(0), orig.size(1)]
        if self.on_input:
            shape.reverse()
            w = w.reshape(1, -1, *[1] * (orig.dim() - 2))
        else:
            w = w.reshape(-1, *[1] * (orig.dim() - 1))
        return orig * w, shape


class ModuleFull(NetworkModule):
    """A full weight difference (``diff``, ``diff_b``)."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        super().__init__(w)
        self.diff, self.diff_b = w["diff"], w.get("diff_b")

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        return _f32(self.diff, orig), list(self.diff.shape)

    def bias_delta(self, like: Tensor, multiplier: float) -> Tensor | None:
        return None if self.diff_b is None else _f32(self.diff_b, like) * multiplier


class ModuleNorm(NetworkModule):
    """LayerNorm / GroupNorm weight and bias differences (``w_norm``, ``b_norm``)."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        super().__init__(w)
        self.w_norm, self.b_norm = w["w_norm"], w.get("b_norm")

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        return _f32(self.w_norm, orig), list(self.w_norm.shape)

    def bias_delta(self, like: Tensor, multiplier: float) -> Tensor | None:
        return None if self.b_norm is None else _f32(self.b_norm, like) * multiplier


class ModuleGlora(NetworkModule):
    """GLoRA: ``W @ a1 @ a2 + b1 @ b2`` scaled by ``alpha / rank``."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        super().__init__(w)
        self.a1, self.a2, self.b1, self.b2 = w["a1.weight"], w["a2.weight"], w["b1.weight"], w["b2.weight"]
        # the rank is the inner size of the b product, in either layout
        self.dim = min(self.b1.shape[0], self.b1.shape[1])

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        a1, a2, b1, b2 = (_f32(t, orig).reshape(t.shape[0], -1) for t in (self.a1, self.a2, self.b1, self.b2))
        out, inp = orig.shape[0], orig.shape[1]
        if not (b1.shape[0] == out and a1.shape[0] == inp):
            # the layout of LyCORIS before 2.0 (and of A1111's code): each pair's factors swapped
            a1, a2, b1, b2 = a2, a1, b2, b1
        # W @ a1 contracts the input channels only, so a conv keeps its kernel axes (LyCORIS' einsum)
        wa = torch.einsum("o i ..., i j -> o j ...", orig, a1)
        wa = torch.einsum("o j ..., j i -> o i ...", wa, a2)
        return wa + (b1 @ b2).reshape(orig.shape), list(orig.shape)


class ModuleOft(NetworkModule):
    """OFT / BOFT: the weight rotated by block-diagonal orthogonal matrices."""

    def __init__(self, w: dict[str, Tensor]) -> None:
        super().__init__(w)
        self.is_r = "oft_blocks" not in w
        self.blocks = w["oft_diag"] if self.is_r else w["oft_blocks"]
        self.is_boft = self.blocks.dim() == 4
        self.rescale = w.get("rescale")
        self.scale = 1.0  # the multiplier alone weighs the rotation (A1111)
        self.dim = None

    def _rotations(self, out_dim: int, like: Tensor) -> Tensor:
        blocks = _f32(self.blocks, like)
        if self.is_r:
            return blocks
        size = blocks.shape[-1]
        eye = torch.eye(size, device=like.device)
        skew = blocks - blocks.transpose(-1, -2)
        constraint = (self.alpha or 0.0) * out_dim
        if constraint != 0:
            norm = torch.norm(skew.flatten())
            skew = skew * ((torch.clamp(norm, max=constraint) + 1e-8) / (norm + 1e-8))
        return torch.matmul(eye + skew, torch.linalg.inv(eye - skew))

    def updown(self, orig: Tensor, dyn_dim: int | None) -> tuple[Tensor, list[int]]:
        out = orig.shape[0]
        rotations = self._rotations(out, orig)
        if not self.is_boft:
            size = rotations.shape[-1]
            blocks = orig.reshape(out // size, size, *orig.shape[1:])
            merged = torch.einsum("k n m, k n ... -> k m ...", rotations, blocks).reshape(orig.shape)
        else:
            merged = _butterfly(orig, rotations)
        if self.rescale is not None:
            merged = _f32(self.rescale, orig).reshape(-1, *[1] * (orig.dim() - 1)) * merged
        return merged - orig, list(orig.shape)


def _butterfly(weight: Tensor, rotations: Tensor) -> Tensor:
    """BOFT: each of the ``m`` stages permutes rows butterfly-wise, rotates blocks, permutes back."""
    size = rotations.shape[-1]
    half = size // 2
    rest = weight.shape[1:]
    x = weight
    for i in range(rotations.shape[0]):
        k = (2 ** i) * half
        x = x.reshape(-1, 2, k, *rest).transpose(1, 2).reshape(-1, size, *rest)
        x = torch.einsum("b i j, b j ... -> b i ...", rotations[i], x)
        x = x.reshape(-1, k, 2, *rest).transpose(1, 2).reshape(weight.shape)
    return x


ModuleFactory = Callable[[dict[str, Tensor]], NetworkModule]

MODULE_TYPES: list[tuple[str, tuple[str, ...], ModuleFactory]] = [
    ("lora", ("lora_up.weight", "lora_down.weight"), ModuleLora),
    ("loha", ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"), ModuleHada),
    ("ia3", ("weight", "on_input"), ModuleIa3),
    ("lokr", (), ModuleLokr),
    ("full", ("diff",), ModuleFull),
    ("norm", ("w_norm", "b_norm"), ModuleNorm),
    ("glora", ("a1.weight", "a2.weight", "b1.weight", "b2.weight"), ModuleGlora),
    ("oft", (), ModuleOft),
]
"""(type, parts that must all be present, class) in A1111's order of detection."""


def _matches(kind: str, required: tuple[str, ...], w: dict[str, Tensor]) -> bool:
    if kind == "lokr":
        return ("lokr_w1" in w or ("lokr_w1_a" in w and "lokr_w1_b" in w)) and \
               ("lokr_w2" in w or ("lokr_w2_a" in w and "lokr_w2_b" in w))
    if kind == "oft":
        return "oft_blocks" in w or "oft_diag" in w
    return all(part in w for part in required)


def module_kind(w: dict[str, Tensor]) -> str | None:
    """The network type the parts of one layer make, or ``None`` when no type accepts them."""
    return next((kind for kind, required, _ in MODULE_TYPES if _matches(kind, required, w)), None)


def make_module(w: dict[str, Tensor]) -> NetworkModule | None:
    """The module for one layer's parts, or ``None`` when no type accepts them."""
    for kind, required, factory in MODULE_TYPES:
        if _matches(kind, required, w):
            return factory(w)
    return None


def pad_to(delta: Tensor, orig: Tensor) -> Tensor:
    """A 4-channel conv delta zero-padded to an inpainting (9) or instruct-pix2pix (8) input conv."""
    if delta.dim() == 4 and orig.dim() == 4 and delta.shape[1] < orig.shape[1] and delta.shape[0] == orig.shape[0]:
        return F.pad(delta, (0, 0, 0, 0, 0, orig.shape[1] - delta.shape[1]))
    return delta
