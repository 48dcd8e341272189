"""Widen a trained segmenter: more channels at every stage, the trained network inside it unchanged.

`widen(model, width)` returns a `Segmenter` of the larger width that computes exactly what the
trained one computes. Every trained channel keeps its place and its weights, and reads only the
trained channels, as before. The added channels read every channel of the layer below, start from
PyTorch's usual random initialisation, and reach the class logits only through new columns of the
head, which start at zero. Training then starts from the trained network's own figures instead of
from noise.

`HeldWeights` holds the trained part as it is during training (restored after every optimiser
step, batch-norm statistics included), and `PartlyHeldBatchNorm2d` normalises it in training as at
inference: the added channels then learn a correction added to the trained network's logits, whose
weights cannot be unlearnt (the correction itself can still add or take away regions). A network
of 0.47 M weights fine-tuned whole on new scenes gave up old ones (training/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from training.model import Segmenter, build_model

# Convolutions whose input is a concatenation: (module name, channels of each part as multiples of
# the width), in the order of `Segmenter.forward`'s torch.cat.
CONCAT_INPUTS: dict[str, tuple[int, ...]] = {"dec8.0.0": (4, 2), "dec4.0.0": (2, 1)}
HEAD = "head"


@dataclass(frozen=True)
class HeldSlice:
    """Part of a parameter or buffer (by its name in the model) that training must leave as it is."""

    name: str
    index: tuple[slice, ...]
    value: torch.Tensor


def _old_input_channels(name: str, old: nn.Conv2d, old_width: int, new_width: int) -> torch.Tensor:
    """Where the trained conv's input channels sit in the widened network's input to it."""
    if old.groups > 1:  # depth-wise: one input channel per output channel
        return torch.arange(1)
    parts = CONCAT_INPUTS.get(name)
    if parts is None:
        return torch.arange(old.in_channels)
    index: list[torch.Tensor] = []
    start = 0
    for multiple in parts:
        index.append(torch.arange(start, start + multiple * old_width))
        start += multiple * new_width
    return torch.cat(index)


def widen(model: Segmenter, width: int, seed: int = 0) -> tuple[Segmenter, list[HeldSlice]]:
    """The model at `width` channels (an even width larger than its own), computing what it computes.

    Returns the widened model (in the mode `model` is in) and the slices of its tensors that hold the
    trained network, for `HeldWeights`."""
    old_width = model.head.in_channels
    if width <= old_width or width % 2:
        raise ValueError(f"widen to an even width above {old_width}, not {width}")
    torch.manual_seed(seed)
    wide = build_model(width=width, num_classes=model.head.out_channels)
    old_modules = dict(model.named_modules())
    held: list[HeldSlice] = []
    with torch.no_grad():
        for name, new in wide.named_modules():
            old = old_modules[name]
            if isinstance(new, nn.Conv2d):
                assert isinstance(old, nn.Conv2d)
                cols = _old_input_channels(name, old, old_width, width)
                rows = old.out_channels
                if name == HEAD:
                    # every output is a trained class logit: the added channels' columns start at zero
                    new.weight.zero_()
                    new.weight[:, cols] = old.weight
                    assert new.bias is not None and old.bias is not None
                    new.bias.copy_(old.bias)
                    trained_cols = (slice(None), slice(0, old.in_channels))
                    held.append(HeldSlice(f"{name}.weight", trained_cols, new.weight[trained_cols].clone()))
                    held.append(HeldSlice(f"{name}.bias", (slice(None),), new.bias.clone()))
                    continue
                # trained rows read the trained channels only
                new.weight[:rows] = 0.0
                new.weight[:rows, cols] = old.weight
                held.append(HeldSlice(f"{name}.weight", (slice(0, rows),), new.weight[:rows].clone()))
                if new.bias is not None and old.bias is not None:
                    new.bias[:rows] = old.bias
                    held.append(HeldSlice(f"{name}.bias", (slice(0, rows),), new.bias[:rows].clone()))
            elif isinstance(new, nn.BatchNorm2d):
                assert isinstance(old, nn.BatchNorm2d)
                n = old.num_features
                for attr in ("weight", "bias", "running_mean", "running_var"):
                    target = getattr(new, attr)
                    target[:n] = getattr(old, attr)
                    held.append(HeldSlice(f"{name}.{attr}", (slice(0, n),), target[:n].clone()))
    wide.train(model.training)
    return wide, held


class PartlyHeldBatchNorm2d(nn.BatchNorm2d):
    """A batch norm whose first `held` channels are normalised with their running statistics in
    training too, as at inference, while the rest use the batch's and keep learning theirs.

    Held channels must see at training what they will see at inference: the channels added beside
    them learn from their outputs, and batch statistics of crops differ from the running ones. In
    eval mode it is a plain batch norm with the same state, so checkpoints load into `Segmenter`."""

    def __init__(self, num_features: int, held: int, eps: float = 1e-5, momentum: float | None = 0.1) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.held = held

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        h = self.held
        assert self.running_mean is not None and self.running_var is not None
        momentum = 0.1 if self.momentum is None else self.momentum
        trained = F.batch_norm(
            x[:, :h], self.running_mean[:h], self.running_var[:h], self.weight[:h], self.bias[:h], False, 0.0, self.eps
        )
        # slices of the buffers are views: the batch's statistics update the added channels' in place
        added = F.batch_norm(
            x[:, h:],
            self.running_mean[h:],
            self.running_var[h:],
            self.weight[h:],
            self.bias[h:],
            True,
            momentum,
            self.eps,
        )
        return torch.cat([trained, added], dim=1)


def hold_batch_norms(model: nn.Module, held: Sequence[HeldSlice]) -> int:
    """Swap each batch norm with held channels for a `PartlyHeldBatchNorm2d` of the same state.
    Returns how many were swapped."""
    swapped = 0
    for h in held:
        if not h.name.endswith(".running_mean"):
            continue
        module_name = h.name.rsplit(".", 1)[0]
        bn = model.get_submodule(module_name)
        assert isinstance(bn, nn.BatchNorm2d)
        stop = h.index[0].stop
        assert isinstance(stop, int)
        partly = PartlyHeldBatchNorm2d(bn.num_features, stop, bn.eps, bn.momentum)
        partly.load_state_dict(bn.state_dict())
        partly.to(bn.weight.device).train(bn.training)
        parent_name, _, child = module_name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, partly)
        swapped += 1
    return swapped


class HeldWeights:
    """Keeps the trained part of a widened network as it was: call `restore()` after each optimiser
    step. The optimiser still moves those entries (weight decay, momentum) and train-mode batch norms
    update their statistics; restoring them at once keeps every forward pass on the trained values.
    Slices are looked up by name, so the model may be moved to another device after this is made."""

    def __init__(self, model: nn.Module, held: Sequence[HeldSlice]) -> None:
        self.model = model
        self.held = list(held)

    def _tensor(self, name: str) -> torch.Tensor:
        try:
            return self.model.get_parameter(name)
        except AttributeError:
            return self.model.get_buffer(name)

    @torch.no_grad()
    def restore(self) -> None:
        for i, h in enumerate(self.held):
            target = self._tensor(h.name)
            if h.value.device != target.device:  # the model was moved: keep the values beside it
                h = self.held[i] = HeldSlice(h.name, h.index, h.value.to(target.device))
            target[h.index] = h.value

    def entries(self) -> int:
        return sum(int(h.value.numel()) for h in self.held)


def scale_added_channels(model: Segmenter, trained_width: int, scale: float) -> None:
    """Multiply what the added channels add to the logits by `scale` (0: the trained network alone)."""
    with torch.no_grad():
        model.head.weight[:, trained_width:] *= scale


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import json
    from pathlib import Path

    ap = argparse.ArgumentParser(
        description="Write a copy of a widened checkpoint whose added channels weigh `--scale` in the logits."
    )
    ap.add_argument("checkpoint", type=Path, help="last.pt of a run trained with --widen-to")
    ap.add_argument("--scale", type=float, required=True)
    ap.add_argument("--out", type=Path, required=True, help="folder for the copy (last.pt, train_info.json)")
    a = ap.parse_args(argv)
    info_file = a.checkpoint.parent / "train_info.json"
    info = json.loads(info_file.read_text()) if info_file.exists() else {}
    trained_width = info.get("widened_from")
    if not trained_width:
        ap.error(f"{info_file} does not say the run was widened (widened_from)")
    ckpt = torch.load(a.checkpoint, map_location="cpu")
    model = build_model(int(ckpt["width"]))
    model.load_state_dict(ckpt["model"])
    scale_added_channels(model, int(trained_width), a.scale)
    a.out.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt | {"model": model.state_dict()}, a.out / "last.pt")
    command = f"python -m training.widen {a.checkpoint} --scale {a.scale} --out {a.out}"
    (a.out / "train_info.json").write_text(json.dumps(info | {"added_scale": a.scale, "scaled_by": command}, indent=1))
    print(f"{a.out / 'last.pt'}: added channels x {a.scale}")


if __name__ == "__main__":
    main()
