"""Static INT8 quantisation of the segmenter for ONNX Runtime on CPU (QDQ format).

    python -m training.quantize --out runs/segmenter.int8.onnx [--frames 64] [--method minmax]

Weights are quantised per output channel (signed 8 bit), activations per tensor (unsigned 8 bit,
with a zero point): the form ONNX Runtime's x86 kernels run fastest (u8 x s8 products). The
activation ranges are calibrated on the first `--frames` frames of the synthetic training cache,
placed and normalised as the service places and normalises a frame; never on photographs.

The result is a separate file for ONNX Runtime, with its model card beside it (`<out>.yaml`: the
float model's card with its own file, checksum and a `quantisation` record, its figures left out),
so a station can run it with `segmenter.model: <out>`. The bundled `segmenter.onnx` stays float:
it is what the TensorRT backend builds its engine from (TensorRT's explicit quantisation takes only
symmetric signed Q/DQ pairs, not this form). Measure a quantised model as any other before using
it (`python -m training.evaluate --card <out>.yaml`, `python -m bench.segmenter_speed --also ...`);
training/README.md records what INT8 did to the bundled model.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import yaml

from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas
from training.dataset import DEFAULT_CACHE_ROOT, TRAIN_SEED_BASE, CacheSpec, build_cache
from training.export import sha256_of

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CARD = REPO / "engines" / "segmenter.yaml"
METHODS = ("minmax", "percentile", "entropy")


def calibration_tensors(images: list[Path], card: dict[str, object]) -> Iterator[np.ndarray]:
    """Each image as the network's input tensor, exactly as the service prepares a frame."""
    inp = card["input"]
    assert isinstance(inp, dict)
    hw = (int(inp["height"]), int(inp["width"]))
    mean, std = tuple(float(v) for v in inp["mean"]), tuple(float(v) for v in inp["std"])
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path} cannot be read as an image")
        canvas, _ = place_on_canvas(image, hw)
        yield canvas_to_tensor(canvas, mean, std)  # type: ignore[arg-type]


def quantize(model: Path, out: Path, images: list[Path], card: dict[str, object], method: str = "minmax",
             keep_float: tuple[str, ...] = ()) -> Path:
    """Writes the INT8 QDQ model of `model` to `out`, activations calibrated on `images`."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not images:
        raise ValueError("no calibration images")
    inp = card["input"]
    assert isinstance(inp, dict)
    input_name = str(inp["name"])

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self._tensors = calibration_tensors(images, card)

        def get_next(self) -> dict[str, np.ndarray] | None:
            tensor = next(self._tensors, None)
            return None if tensor is None else {input_name: tensor}

    calibrate = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                 "entropy": CalibrationMethod.Entropy}[method]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model), str(prepared))  # shape inference and graph clean-up first
        quantize_static(str(prepared), str(out), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=calibrate, nodes_to_exclude=list(keep_float))
    return out


def write_card(card: dict[str, object], out: Path, record: dict[str, object]) -> Path:
    """The quantised model's card beside it: the float card's contract (input, output, classes) and
    history, its own file and checksum, how it was quantised; the float model's figures left out."""
    quantised = {key: value for key, value in card.items() if key != "evaluation"}
    quantised.update(version=f"{card['version']}+int8", file=out.name, sha256=sha256_of(out),
                     size_bytes=out.stat().st_size, quantisation=record)
    card_path = out.with_suffix(".yaml")
    card_path.write_text(yaml.safe_dump(quantised, sort_keys=False, width=110))
    return card_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--card", type=Path, default=DEFAULT_CARD)
    ap.add_argument("--model", type=Path, default=None, help="float ONNX file (default: the card's file)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--frames", type=int, default=64, help="synthetic training frames to calibrate on")
    ap.add_argument("--method", choices=METHODS, default="minmax")
    ap.add_argument("--keep-float", nargs="*", default=[], metavar="NODE", help="ONNX node names left in float")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE_ROOT)
    ap.add_argument("--workers", type=int, default=2, help="processes generating missing cache frames")
    a = ap.parse_args()
    card = yaml.safe_load(a.card.read_text())
    canvas_hw = (int(card["input"]["height"]), int(card["input"]["width"]))
    folder = build_cache(CacheSpec(a.cache, canvas_hw, TRAIN_SEED_BASE, a.frames), a.workers)
    images = [folder / f"{seed}.png" for seed in range(TRAIN_SEED_BASE, TRAIN_SEED_BASE + a.frames)]
    model = a.model or a.card.parent / card["file"]
    quantize(model, a.out, images, card, a.method, tuple(a.keep_float))
    record: dict[str, object] = {
        "format": "ONNX QDQ, for ONNX Runtime (not TensorRT)",
        "from": {"file": str(card["file"]), "sha256": card.get("sha256")},
        "weights": "int8, per output channel",
        "activations": "uint8, per tensor, with zero point",
        "ranges": f"{a.method} over synthetic training frames {TRAIN_SEED_BASE}-{TRAIN_SEED_BASE + a.frames - 1}",
        "kept_float": list(a.keep_float),
        "evaluation": f"not carried over from the float model: python -m training.evaluate --card "
                      f"{a.out.with_suffix('.yaml')}",
    }
    card_path = write_card(card, a.out, record)
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.1f} MB) and {card_path}, "
          f"{a.method} ranges from {len(images)} synthetic frames")


if __name__ == "__main__":
    main()
