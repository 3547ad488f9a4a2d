"""The torch DeepDanbooru tagger (``model-resnet_custom_v3.pt``, A1111's ``DeepDanbooruModel``).

A bottleneck ResNet converted from the original Keras model: 179 convolutions named ``n_Conv_0`` ...
``n_Conv_178`` in the order the converted graph runs them, with TensorFlow's "same" padding written
out (odd totals put the extra pixel right and below), a 1x1 classifier (no bias) over ``len(tags)``
outputs, a global average and a sigmoid.  The file also holds the tag names under ``tags``.

Stages (bottleneck width / output width, blocks; the first block of a stage projects its input):
64/256 x3, 128/512 x8 (stride 2), 256/1024 x40 (stride 2, and a second stride-2 block in the middle
whose projection is numbered after its convolutions), 512/2048 x3 (stride 2), 1024/4096 x3 (stride 2).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

TAG_COUNT = 9176
"""Outputs of the released model."""


@dataclass(frozen=True)
class Block:
    """One bottleneck block: convolution numbers of its parts, stride, and where its shortcut comes from."""

    reduce: int
    conv3: int
    expand: int
    shortcut: int | None
    """The 1x1 projection's number; None: the input is added as it is."""
    stride: int


def _plan() -> tuple[list[tuple[int, int, int, int]], list[Block]]:
    """``(in, out, kernel, stride)`` of every convolution (by number) and the blocks in running order."""
    convs: list[tuple[int, int, int, int]] = [(3, 64, 7, 2)]
    blocks: list[Block] = []

    def add(cin: int, cout: int, kernel: int, stride: int = 1) -> int:
        convs.append((cin, cout, kernel, stride))
        return len(convs) - 1

    def block(cin: int, mid: int, out: int, stride: int, project: str) -> None:
        shortcut = add(cin, out, 1, stride) if project == "first" else None
        reduce = add(cin, mid, 1)
        conv3 = add(mid, mid, 3, stride)
        expand = add(mid, out, 1)
        if project == "last":
            shortcut = add(cin, out, 1, stride)
        blocks.append(Block(reduce, conv3, expand, shortcut, stride))

    cin = 64
    # (bottleneck width, blocks after the first, stride of the first)
    for mid, more, stride in ((64, 2, 1), (128, 7, 2), (256, 19, 2)):
        block(cin, mid, mid * 4, stride, "first")
        cin = mid * 4
        for _ in range(more):
            block(cin, mid, cin, 1, "none")
    block(cin, 256, cin, 2, "last")
    for _ in range(19):
        block(cin, 256, cin, 1, "none")
    for mid in (512, 1024):
        block(cin, mid, mid * 4, 2, "first")
        cin = mid * 4
        for _ in range(2):
            block(cin, mid, cin, 1, "none")
    return convs, blocks


class DeepDanbooruModel(nn.Module):
    """Pictures ``[batch, height, width, 3]`` in 0..1 (channels last, as the Keras model) -> tag probabilities.

    ``width_divisor`` shrinks every channel count (tests); the released model is 1.
    """

    def __init__(self, tag_count: int = TAG_COUNT, width_divisor: int = 1) -> None:
        super().__init__()
        self.tags: list[str] = []
        convs, self.blocks = _plan()

        def width(channels: int) -> int:
            return channels if channels == 3 else max(1, channels // width_divisor)

        for number, (cin, cout, kernel, stride) in enumerate(convs):
            self.add_module(f"n_Conv_{number}", nn.Conv2d(width(cin), width(cout), kernel, stride=stride))
        last = convs[-1][1]
        self.n_Conv_178 = nn.Conv2d(width(last), tag_count, 1, bias=False)
        self.n_MaxPool_0 = nn.MaxPool2d(kernel_size=3, stride=2)

    def conv(self, number: int) -> nn.Conv2d:
        return getattr(self, f"n_Conv_{number}")

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        x = pictures.permute(0, 3, 1, 2).to(self.n_Conv_0.weight.dtype)
        x = F.relu(self.n_Conv_0(F.pad(x, [2, 3, 2, 3])))
        x = self.n_MaxPool_0(F.pad(x, [0, 1, 0, 1], value=float("-inf")))
        for block in self.blocks:
            x = self._block(block, x)
        x = self.n_Conv_178(x)
        return torch.sigmoid(x.mean(dim=(2, 3)))

    def _block(self, block: Block, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if block.shortcut is None else self.conv(block.shortcut)(x)
        y = F.relu(self.conv(block.reduce)(x))
        y = F.relu(self.conv(block.conv3)(F.pad(y, [0, 1, 0, 1] if block.stride == 2 else [1, 1, 1, 1])))
        return F.relu(self.conv(block.expand)(y) + shortcut)

    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False):  # type: ignore[override]
        """Load the weights; the file's ``tags`` entry (the tag names, in output order) goes to :attr:`tags`."""
        self.tags = list(state_dict.get("tags", []))
        weights = {k: v for k, v in state_dict.items() if k != "tags"}
        return super().load_state_dict(weights, strict=strict, assign=assign)
