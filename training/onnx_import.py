"""Start training from an exported model: load a BN-folded ONNX graph back into the PyTorch network.

The shipped `engines/segmenter.onnx` is the only copy of a model's weights that the repository
keeps (checkpoints stay in the ignored `runs/` folder), so fine-tuning the shipped model begins
here. Export folded every batch norm into the convolution before it; this reverses that:

* each ONNX Conv, in graph order, gets the PyTorch Conv2d called at the same point of the forward
  pass (shapes are checked one by one, so a model of another layout is refused);
* the BatchNorm after it is set up so that it passes the folded bias through: first as an identity
  in eval mode, then re-calibrated on a batch of real inputs (running mean and variance measured,
  weight and bias chosen to match) so that training mode, which normalises with batch statistics,
  also starts out computing what the exported model computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn


def _conv_call_order(model: nn.Module, sample: torch.Tensor) -> list[nn.Conv2d]:
    order: list[nn.Conv2d] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            model.eval()(sample)
    finally:
        for h in hooks:
            h.remove()
    return order


def _bn_after(model: nn.Module) -> dict[nn.Conv2d, nn.BatchNorm2d]:
    """Each conv that has a batch norm straight after it in the same Sequential."""
    pairs: dict[nn.Conv2d, nn.BatchNorm2d] = {}
    for m in model.modules():
        if isinstance(m, nn.Sequential):
            items = list(m)
            for a, b in zip(items, items[1:], strict=False):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    pairs[a] = b
    return pairs


def load_folded_onnx(model: nn.Module, path: Path, calibration: torch.Tensor) -> None:
    """Copy the weights of a BN-folded ONNX export of this architecture into model (in place).

    calibration: a batch of network inputs (N x 3 x H x W, normalised) used to measure the
    statistics each batch norm sees, so train-mode forward passes match the exported model."""
    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    onnx_convs = [n for n in graph.node if n.op_type == "Conv"]
    torch_convs = _conv_call_order(model, calibration[:1])
    if len(onnx_convs) != len(torch_convs):
        raise ValueError(f"{path.name} has {len(onnx_convs)} convolutions; the network has {len(torch_convs)}")
    pairs = _bn_after(model)
    folded_bias: dict[nn.BatchNorm2d, torch.Tensor] = {}
    for node, conv in zip(onnx_convs, torch_convs, strict=True):
        w = inits[node.input[1]]
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise ValueError(f"{node.name}: weight {w.shape} does not fit {tuple(conv.weight.shape)}")
        b = inits[node.input[2]] if len(node.input) > 2 else np.zeros(w.shape[0], np.float32)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(np.array(w, np.float32)))
            bn = pairs.get(conv)
            if bn is None:
                if conv.bias is None:
                    raise ValueError(f"{node.name}: folded bias but the conv has neither bias nor batch norm")
                conv.bias.copy_(torch.from_numpy(np.array(b, np.float32)))
                continue
            bias = torch.from_numpy(np.array(b, np.float32))
            folded_bias[bn] = bias
            assert bn.running_mean is not None and bn.running_var is not None  # track_running_stats is on
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(bias)
    _recalibrate(model, folded_bias, calibration)


def _recalibrate(model: nn.Module, folded_bias: dict[nn.BatchNorm2d, torch.Tensor], x: torch.Tensor) -> None:
    """Give every batch norm the input statistics it sees on x while keeping its eval-mode output.

    In eval mode each BN currently outputs y + b; with running stats (m, v), weight sqrt(v + eps)
    and bias m + b it still outputs y + b, and in train mode on a batch like x it does too."""
    stats: dict[nn.BatchNorm2d, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(mod: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        y = inputs[0]
        stats[mod] = (y.mean(dim=(0, 2, 3)), y.var(dim=(0, 2, 3), unbiased=False))  # type: ignore[index]

    hooks = [bn.register_forward_hook(record) for bn in folded_bias]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        for bn, b in folded_bias.items():
            mean, var = stats[bn]
            assert bn.running_mean is not None and bn.running_var is not None
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.copy_(mean + b)
