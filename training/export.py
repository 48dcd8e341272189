"""Export a training checkpoint to the bundled ONNX model and write its model card.

    python -m training.export runs/segmenter/last.pt [--out engines/segmenter.onnx] [--fp16]

When `calibration.json` (from `python -m training.calibrate`) lies beside the checkpoint, or is named
with `--calibration`, its per-class logit offsets are added to the head's bias before export and
recorded in the card; `--calibration none` exports the raw weights.

The graph is exported in eval mode with constant folding, which folds every BatchNorm into the
preceding Conv; the export fails if any BatchNormalization node survives. Input and output shapes
are static (TensorRT builds the fastest engine for a fixed shape, and the runtime letterboxes every
frame onto the same canvas anyway). ONNX Runtime must reproduce the PyTorch logits before the file
is written into place.

The card (engines/segmenter.yaml) keeps the keys the runtime reads stable: `file`, `sha256`,
`input.name/height/width/mean/std`, `output.name`, `classes`. Evaluation figures are added by
`python -m training.evaluate --write-card`; an export clears them because they describe other weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import yaml

from edge.classes import CLASS_NAMES
from training.fp16 import convert_fp16
from training.model import OUTPUT_STRIDE, apply_logit_offsets, count_parameters, load_checkpoint
from training.train import MEAN, STD

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ONNX = REPO / "engines" / "segmenter.onnx"
DEFAULT_CARD = REPO / "engines" / "segmenter.yaml"
OPSET = 17
INPUT_NAME, OUTPUT_NAME = "image", "logits"

LIMITATIONS = [
    "Trained on synthetic frames only; real-data figures in `evaluation.real` are the honest measure.",
    "Output stride 4 on a 768 x 512 canvas: parts narrower than about 8 canvas pixels (under ~1.5 % "
    "of a sheet's width) are found unreliably; the QC checks re-examine barcodes and charts on "
    "full-resolution crops.",
    "One class map per frame: overlapping parts (a barcode printed on a label) take the class of the top part.",
    "Insect drawers and subjects other than herbarium sheets, slides and slide trays are outside the "
    "training distribution.",
]
# what a model trained on one kind of scene adds to its limitations
KIND_LIMITATIONS = {
    "microscope_slide": "Fine-tuned on slide scenes only (single slides, close-ups of old slides, trays): "
    "the microscope_slide profile runs it (profiles.<name>.segmenter_model); herbarium sheets belong to the "
    "general model.",
}
DEFAULT_NAME = "specimen-edge-segmenter"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_onnx(model: torch.nn.Module, path: Path, height: int, width: int, opset: int = OPSET) -> None:
    """Eval-mode, constant-folded, static-shape export; raises if batch norm was not folded."""
    model.eval()
    dummy = torch.zeros(1, 3, height, width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter warns about its own deprecation
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    left = [n.name for n in graph.graph.node if n.op_type == "BatchNormalization"]
    if left:
        raise RuntimeError(f"batch norm not folded: {left[:5]}")


def onnx_max_abs_diff(model: torch.nn.Module, path: Path, height: int, width: int, seed: int = 0) -> float:
    import onnxruntime as ort

    x = np.random.default_rng(seed).standard_normal((1, 3, height, width)).astype(np.float32)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    return float(np.abs(out - ref).max())


def build_card(
    onnx_path: Path,
    card_path: Path,
    height: int,
    width: int,
    params: int,
    training: dict[str, Any],
    version: str,
    fp16: dict[str, Any] | None,
    calibration: dict[str, Any] | None = None,
    name: str = DEFAULT_NAME,
) -> dict[str, Any]:
    rel = onnx_path.relative_to(card_path.parent) if onnx_path.parent == card_path.parent else onnx_path.name
    kind_note = KIND_LIMITATIONS.get(str(training.get("kind", "auto")))
    card: dict[str, Any] = {
        "name": name,
        "version": version,
        "file": str(rel),
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "parameters": params,
        "opset": OPSET,
        "input": {
            "name": INPUT_NAME,
            "height": height,
            "width": width,
            "layout": "NCHW",
            "colour": "RGB",
            "dtype": "float32",
            "scale": "1/255",
            "mean": list(MEAN),
            "std": list(STD),
            "letterbox": {
                "rotate_landscape": "90 clockwise",
                "pad_value": 128,
                "function": "edge.segmentation.letterbox.place_on_canvas",
            },
        },
        "output": {
            "name": OUTPUT_NAME,
            "shape": [1, len(CLASS_NAMES), height // OUTPUT_STRIDE, width // OUTPUT_STRIDE],
            "stride": OUTPUT_STRIDE,
            "kind": "logits (argmax for classes, softmax for scores)",
        },
        "classes": list(CLASS_NAMES),
        "training": training,
        "calibration": calibration or {"status": "none: raw logits of the trained weights"},
        "evaluation": {"status": "not yet evaluated; run python -m training.evaluate --write-card"},
        "limitations": LIMITATIONS + ([kind_note] if kind_note else []),
    }
    card["fp16"] = (
        fp16
        if fp16 is not None
        else {
            "status": "not bundled: TensorRT 8.5-10 builds FP16 engines from this float32 file "
            "(FP16 builder flag); for strongly typed TensorRT 11 make one with "
            "`python -m training.export CKPT --fp16`"
        }
    )
    return card


def portable_command(command: str) -> str:
    """The command with machine-specific absolute paths shortened (`/x/y/runs/a/last.pt` ->
    `runs/a/last.pt`, others to `runs/<name>`), so the card names no machine's folders."""

    def short(token: str) -> str:
        if not token.startswith("/"):
            return token
        parts = Path(token).parts
        if "runs" in parts:
            return "/".join(parts[len(parts) - parts[::-1].index("runs") - 1 :])
        return f"runs/{Path(token).name}"

    return " ".join(short(t) for t in command.split())


TRAINING_KEYS = [
    "model", "command", "seed", "samples", "long_side", "crop_epochs", "full_epochs", "full_samples", "epochs_run",
    "steps", "stopped_early", "crop", "batch", "lr", "width", "dice", "lovasz", "generator", "generator_fingerprint",
    "kind", "cache_minutes", "wall_minutes",
    "torch", "python", "threads", "device", "gpu", "cuda", "amp", "loader_workers", "date", "note",
]  # fmt: skip


def summarise_run(info: dict[str, Any]) -> dict[str, Any]:
    """The card's record of one training run, and of the runs it started from, in order."""
    out: dict[str, Any] = {k: info[k] for k in TRAINING_KEYS if k in info}
    if "command" in out:
        out["command"] = portable_command(out["command"])
    if info.get("history"):
        out["final_val_fg_miou"] = info["history"][-1]["val_fg_miou"]
    elif "final_val_fg_miou" in info:  # a stage recorded in an earlier model card
        out["final_val_fg_miou"] = info["final_val_fg_miou"]
    prev = info.get("initialised_from")
    if isinstance(prev, dict):
        out["initialised_from"] = summarise_run(prev)
    return out


def training_summary(info_path: Path) -> dict[str, Any]:
    if not info_path.exists():
        return {"note": "no train_info.json beside the checkpoint"}
    summary = summarise_run(json.loads(info_path.read_text()))
    # Total wall time over the chain of runs, since the shipped weights need all of them.
    total = 0.0
    node: Any = summary
    while isinstance(node, dict):
        total += float(node.get("wall_minutes", 0.0))
        node = node.get("initialised_from")
    summary["total_wall_minutes_all_stages"] = round(total, 1)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description="Export a checkpoint to ONNX and write the model card.")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--out", type=Path, default=DEFAULT_ONNX)
    ap.add_argument("--card", type=Path, default=DEFAULT_CARD)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--name", default=DEFAULT_NAME, help="the model's name in its card (engines are kept by it)")
    ap.add_argument("--fp16", action="store_true", help="also write <out stem>.fp16.onnx")
    ap.add_argument(
        "--calibration", default=None, help="calibration.json to fold in (default: beside the checkpoint; 'none': skip)"
    )
    a = ap.parse_args()

    model = load_checkpoint(a.checkpoint)
    calibration: dict[str, Any] | None = None
    cal_path = a.checkpoint.parent / "calibration.json" if a.calibration is None else Path(a.calibration)
    if a.calibration != "none" and cal_path.exists():
        calibration = json.loads(cal_path.read_text())
        apply_logit_offsets(model, calibration["offsets"])
        calibration["command"] = portable_command(calibration["command"])
        print(f"logit offsets from {cal_path}: {calibration['offsets']}")
    elif a.calibration not in (None, "none"):
        raise FileNotFoundError(cal_path)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / a.out.name
        export_onnx(model, staged, a.height, a.width)
        diff = onnx_max_abs_diff(model, staged, a.height, a.width)
        if diff > 1e-3:
            raise RuntimeError(f"ONNX Runtime differs from PyTorch by {diff:.2e}")
        staged.replace(a.out)
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB), ORT vs torch max |diff| {diff:.1e}")
    fp16: dict[str, Any] | None = None
    if a.fp16:
        dst = a.out.with_suffix(".fp16.onnx")
        method = convert_fp16(a.out, dst)
        diff16 = onnx_max_abs_diff(model, dst, a.height, a.width)
        fp16 = {
            "file": dst.name,
            "method": method,
            "sha256": sha256_of(dst),
            "size_bytes": dst.stat().st_size,
            "max_abs_logit_diff_vs_torch": round(diff16, 4),
        }
        print(fp16)
    training = training_summary(a.checkpoint.parent / "train_info.json")
    card = build_card(a.out, a.card, a.height, a.width, count_parameters(model), training, a.version, fp16, calibration,
                      a.name)
    a.card.write_text(yaml.safe_dump(card, sort_keys=False, width=110))
    print(f"wrote {a.card}")


if __name__ == "__main__":
    main()
