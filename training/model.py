"""The segmenter network: a compact encoder-decoder built only from export-friendly ops.

Everything here maps onto plain ONNX ops that ONNX Runtime and TensorRT run well: Conv
(batch norm is folded into it at export), Relu, HardSigmoid, GlobalAveragePool, Mul, Add,
Concat and Resize. No dynamic shapes, no custom ops.

Layout (input H x W, output H/4 x W/4 logits):

* stem: two strided 3x3 convs to 1/4 resolution, where the fine textures live (barcode bars,
  ruler ticks, chart patch edges); two residual blocks there keep that detail for the decoder;
* encoder: depth-wise separable residual blocks down to 1/16, the last ones dilated (2, 4, 8)
  so a unit sees a whole chart or label, not just a patch of it;
* context: an LR-ASPP style branch, a global average pool gating the 1/16 features, so the
  network knows whether it is looking at a sheet or a slide;
* decoder: U-Net style, upsample x2 and concatenate the 1/8 and then the 1/4 features, which
  restores the borders of small parts (a barcode can be 2 % of the frame width).
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn import functional as F

from edge.classes import CLASS_NAMES

NUM_CLASSES = 8
OUTPUT_STRIDE = 4


def conv_bn(
    cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    pad = dilation * (k - 1) // 2
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SeparableBlock(nn.Module):
    """Depth-wise 3x3 (optionally dilated or strided) + point-wise 1x1, residual when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1, expand: int = 2) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = conv_bn(cin, mid, k=1)
        self.depthwise = conv_bn(mid, mid, k=3, stride=stride, dilation=dilation, groups=mid)
        self.project = conv_bn(mid, cout, k=1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return F.relu(x + y) if self.residual else F.relu(y)


class ResBlock(nn.Module):
    """Plain 3x3 residual block; used at 1/4 scale where dense convs are cheap enough."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.a = conv_bn(ch, ch)
        self.b = conv_bn(ch, ch, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


class Segmenter(nn.Module):
    """Fully convolutional 8-class segmenter, logits at 1/4 of the input size."""

    def __init__(self, num_classes: int = NUM_CLASSES, width: int = 32) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(conv_bn(3, w // 2, stride=2), conv_bn(w // 2, w, stride=2), ResBlock(w))
        self.stage8 = nn.Sequential(
            SeparableBlock(w, 2 * w, stride=2), SeparableBlock(2 * w, 2 * w), SeparableBlock(2 * w, 2 * w)
        )
        self.stage16 = nn.Sequential(
            SeparableBlock(2 * w, 4 * w, stride=2),
            SeparableBlock(4 * w, 4 * w),
            SeparableBlock(4 * w, 4 * w, dilation=2),
            SeparableBlock(4 * w, 4 * w, dilation=4),
            SeparableBlock(4 * w, 4 * w, dilation=8),
        )
        # LR-ASPP: features x sigmoid(global context); the pool is global so any input size works.
        self.ctx_feat = conv_bn(4 * w, 4 * w, k=1)
        self.ctx_gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(4 * w, 4 * w, 1), nn.Hardsigmoid())
        self.dec8 = nn.Sequential(conv_bn(6 * w, 2 * w, k=1), SeparableBlock(2 * w, 2 * w))
        self.dec4 = nn.Sequential(conv_bn(3 * w, w), conv_bn(w, w))
        self.head = nn.Conv2d(w, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f4 = self.stem(x)
        f8 = self.stage8(f4)
        f16 = self.stage16(f8)
        c = self.ctx_feat(f16) * self.ctx_gate(f16)
        # Scale factor 2 (not a size taken from the tensor) keeps the exported Resize static.
        up = F.interpolate(c, scale_factor=2.0, mode="bilinear", align_corners=False)
        d8 = self.dec8(torch.cat([up, f8], dim=1))
        up = F.interpolate(d8, scale_factor=2.0, mode="bilinear", align_corners=False)
        d4 = self.dec4(torch.cat([up, f4], dim=1))
        return self.head(d4)


def build_model(width: int = 32, num_classes: int = NUM_CLASSES) -> Segmenter:
    return Segmenter(num_classes=num_classes, width=width)


def load_checkpoint(path: str | os.PathLike[str]) -> Segmenter:
    """A training checkpoint (`last.pt`) as a model in eval mode."""
    ckpt = torch.load(path, map_location="cpu")
    model = build_model(int(ckpt.get("width", 32)))
    model.load_state_dict(ckpt["model"])
    return model.eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def apply_logit_offsets(model: torch.nn.Module, offsets: dict[str, float]) -> None:
    """Add a constant per class to the final 1x1 conv's bias: logits + offset, at no runtime cost."""
    head = model.head
    if not isinstance(head, torch.nn.Conv2d) or head.bias is None:
        raise TypeError("the model's head must be a Conv2d with a bias")
    if set(offsets) != set(CLASS_NAMES):
        raise ValueError(f"calibration offsets must name exactly the classes {list(CLASS_NAMES)}")
    with torch.no_grad():
        head.bias += torch.tensor([float(offsets[c]) for c in CLASS_NAMES], dtype=head.bias.dtype)
