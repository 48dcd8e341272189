"""Evaluate the bundled segmenter on synthetic validation samples and on real photographs.

    python -m training.evaluate [--synthetic N] [--real DIR] [--write-card] [--draw DIR]

(a) Synthetic: per-class IoU of the class map on N seeded samples whose seeds (10,000,000 and up)
    never appear in training; the headline is the mean over the 7 foreground classes.
(b) Real: for each labelled photograph, the model runs through onnxruntime exactly as the service
    runs it (letterbox, normalise, argmax) and its regions are extracted by the service's own code
    with the default configuration's rules (fragments and unsure parts dropped); their boxes are
    matched to the labelled boxes: a box counts as found when a predicted region of the same class
    overlaps it with IoU >= 0.3, or when each contains the other's centre. Per-class recall and
    precision, plus image-level colour-chart presence: charts found on frames labelled "full", and
    charts claimed on frames labelled "none".
Real evaluation is skipped, not failed, when the folder is absent. `--write-card` stores the figures
in the card's `evaluation` section and leaves the rest of the card (file, sha256, ...) untouched.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from edge.classes import CLASS_NAMES
from edge.config import load_settings
from edge.decode import UnreadableFrame, decode_full, decode_small, read_frame, shrink
from edge.segmentation.base import Segmentation
from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas
from edge.segmentation.onnxruntime_backend import softmax_top
from edge.segmentation.regions import extract_regions

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CARD = REPO / "engines" / "segmenter.yaml"
DEFAULT_REAL = REPO.parent / "shared" / "realdata" / "dev"
REAL_KINDS = ("herbarium_sheet", "microscope_slide")
REPORT_CLASSES = ("colour_chart", "barcode", "scale_bar", "label", "type_label", "stamp", "specimen")

TARGETS = {
    "synthetic_fg_miou": 0.85,
    "chart_recall": 0.95,  # share of "full"-chart frames with a chart region
    "false_chart_rate": 0.05,  # share of "none"-chart frames with a chart region (at most)
    "barcode_recall": 0.90,
    "scale_bar_recall": 0.85,
    "label_recall": 0.85,
}

Box = Sequence[float]


# --------------------------------------------------------------------------- box matching


def box_iou(a: Box, b: Box) -> float:
    """IoU of two [x0, y0, x1, y1] boxes."""
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def holds_centre(box: Box, other: Box) -> bool:
    """Whether `box` contains the centre of `other` (edges included)."""
    cx, cy = (other[0] + other[2]) / 2, (other[1] + other[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def boxes_match(pred: Box, truth: Box, min_iou: float = 0.3) -> bool:
    """The real-data rule: IoU >= 0.3, or each box holds the other's centre."""
    return box_iou(pred, truth) >= min_iou or (holds_centre(pred, truth) and holds_centre(truth, pred))


@dataclass
class MatchCounts:
    found: int = 0  # labelled boxes matched by some prediction
    labelled: int = 0
    correct: int = 0  # predicted boxes matching some labelled box
    predicted: int = 0

    def add(self, preds: Sequence[Box], truths: Sequence[Box]) -> None:
        self.labelled += len(truths)
        self.found += sum(any(boxes_match(p, t) for p in preds) for t in truths)
        self.predicted += len(preds)
        self.correct += sum(any(boxes_match(p, t) for t in truths) for p in preds)

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else math.nan

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else math.nan


# --------------------------------------------------------------------------- running the model


class OnnxSegmenter:
    """The bundled model run the way the service runs it (letterbox -> ORT -> class map)."""

    def __init__(self, card_path: Path = DEFAULT_CARD, model_path: Path | None = None, threads: int = 2) -> None:
        import onnxruntime as ort

        card = yaml.safe_load(card_path.read_text())
        self.card = card
        self.hw = (int(card["input"]["height"]), int(card["input"]["width"]))
        self.mean = tuple(float(v) for v in card["input"]["mean"])
        self.std = tuple(float(v) for v in card["input"]["std"])
        self.input_name, self.output_name = card["input"]["name"], card["output"]["name"]
        path = model_path or card_path.parent / card["file"]
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.rules = load_settings().segmenter

    def canvas_classes(self, canvas_bgr: np.ndarray) -> np.ndarray:
        """Class map at canvas resolution: logits upsampled bilinearly, then argmax."""
        x = canvas_to_tensor(canvas_bgr, self.mean, self.std)  # type: ignore[arg-type]
        logits = self.session.run([self.output_name], {self.input_name: x})[0][0]
        up = cv2.resize(logits.transpose(1, 2, 0), (self.hw[1], self.hw[0]), interpolation=cv2.INTER_LINEAR)
        return up.argmax(axis=2).astype(np.uint8)

    def regions(
        self, image_bgr: np.ndarray, frame_hw: tuple[int, int] | None = None
    ) -> tuple[dict[str, list[list[float]]], np.ndarray]:
        """Boxes per class in source pixels, exactly as the service reports them (its region rules
        from the default configuration), and the class map in source orientation at output scale."""
        canvas, placement = place_on_canvas(image_bgr, self.hw)
        x = canvas_to_tensor(canvas, self.mean, self.std)  # type: ignore[arg-type]
        logits = self.session.run([self.output_name], {self.input_name: x})[0][0]
        classes, confidence = softmax_top(np.asarray(logits, np.float32))
        seg = Segmentation(classes=classes, confidence=confidence, placement=placement)
        rules = self.rules
        frame_hw = frame_hw or (int(image_bgr.shape[0]), int(image_bgr.shape[1]))
        found = extract_regions(seg, frame_hw, rules.min_region_fraction, rules.min_region_score,
                                rules.region_join_gap,
                                rules.min_region_score_by_class)
        out: dict[str, list[list[float]]] = defaultdict(list)
        for region in found:
            out[region.class_name].append([float(v) for v in region.bbox])
        return out, placement.crop_to_source_orientation(classes)


# --------------------------------------------------------------------------- synthetic


def confusion(truth: np.ndarray, pred: np.ndarray, n: int = len(CLASS_NAMES)) -> np.ndarray:
    """n x n pixel counts, rows the true class, columns the predicted one (flat int64 class ids)."""
    return np.bincount(truth * n + pred, minlength=n * n).reshape(n, n)


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class IoU; NaN for a class neither present nor predicted."""
    inter = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def evaluate_synthetic(
    seg: OnnxSegmenter, n: int, generator: str, cache: Path, long_side: int, workers: int
) -> dict[str, Any]:
    from training.dataset import VALIDATION_SEED_BASE, CacheSpec, build_cache, cached_seeds, load_sample

    spec = CacheSpec(cache, seg.hw, VALIDATION_SEED_BASE, n, generator, long_side)
    folder = build_cache(spec, workers, log=lambda _: None)
    cm = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), np.int64)
    for s in cached_seeds(folder, range(VALIDATION_SEED_BASE, VALIDATION_SEED_BASE + n)):
        image, mask = load_sample(folder, s)
        cm += confusion(mask.ravel().astype(np.int64), seg.canvas_classes(image).ravel().astype(np.int64))
    iou = {name: (None if math.isnan(v) else round(float(v), 4))
           for name, v in zip(CLASS_NAMES, iou_from_confusion(cm), strict=True)}
    fg = [v for k, v in iou.items() if k != "background" and v is not None]
    return {
        "samples": n,
        "seeds": f"{VALIDATION_SEED_BASE}..{VALIDATION_SEED_BASE + n - 1}",
        "generator_fingerprint": folder.name.split("_")[0],
        "iou": iou,
        "fg_miou": round(float(np.mean(fg)), 4) if fg else None,
    }


# --------------------------------------------------------------------------- real


def load_labels(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / "labels.jsonl").read_text().splitlines()
    return [r for r in (json.loads(x) for x in lines if x.strip()) if r.get("kind") in REAL_KINDS]


def draw(
    image: np.ndarray, preds: dict[str, list[list[float]]], truths: dict[str, list[list[float]]], path: Path
) -> None:
    colours = {
        "colour_chart": (255, 0, 255),
        "barcode": (0, 0, 255),
        "scale_bar": (0, 200, 255),
        "label": (255, 128, 0),
        "type_label": (255, 255, 0),
        "stamp": (128, 0, 128),
        "specimen": (0, 160, 0),
    }
    out = image.copy()
    t = max(2, image.shape[1] // 400)
    for boxes in truths.values():  # labelled boxes in thick white under the predictions
        for b in boxes:
            cv2.rectangle(out, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (255, 255, 255), t * 2)
    for name, boxes in preds.items():
        for b in boxes:
            cv2.rectangle(out, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colours[name], t)
            cv2.putText(
                out,
                name,
                (int(b[0]), int(b[1]) + 12 * t),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4 * t,
                colours[name],
                t,
            )
    scale = 1200 / max(out.shape[:2])
    cv2.imwrite(str(path), cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))


def colour_map(classes: np.ndarray) -> np.ndarray:
    palette = np.array(
        [
            [60, 60, 60],
            [0, 160, 0],
            [255, 128, 0],
            [255, 255, 0],
            [0, 0, 255],
            [255, 0, 255],
            [0, 200, 255],
            [128, 0, 128],
        ],
        dtype=np.uint8,
    )
    return palette[classes]


def evaluate_real(seg: OnnxSegmenter, folder: Path, draw_dir: Path | None = None) -> dict[str, Any]:
    counts: dict[str, MatchCounts] = defaultdict(MatchCounts)
    chart_full = chart_found = chart_none = chart_false = 0
    records = load_labels(folder)
    for r in records:
        # decoded as the service decodes a frame for its segmenter (reduced-size JPEG decode)
        try:
            raw = read_frame(folder / r["file"], max_megapixels=400)
        except UnreadableFrame:
            continue
        image = decode_small(raw, max(seg.hw))
        if image is None:
            image = shrink(decode_full(raw).full, max(seg.hw))
        h, w = raw.header.height, raw.header.width
        truths: dict[str, list[list[float]]] = defaultdict(list)
        for b in r.get("boxes", []):
            x0, y0, x1, y1 = b["box"]
            truths[b["class"]].append([x0 * w, y0 * h, x1 * w, y1 * h])
        preds, classes = seg.regions(image, (h, w))
        for name in REPORT_CLASSES:
            counts[name].add(preds.get(name, []), truths.get(name, []))
        has_chart = bool(preds.get("colour_chart"))
        if r.get("colour_chart") == "full":
            chart_full += 1
            chart_found += has_chart
        elif r.get("colour_chart") == "none":
            chart_none += 1
            chart_false += has_chart
        if draw_dir is not None:
            draw_dir.mkdir(parents=True, exist_ok=True)
            stem = Path(r["file"]).stem
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
            draw(image, preds, truths, draw_dir / f"{stem}.boxes.png")
            cm = cv2.resize(colour_map(classes), (w, h), interpolation=cv2.INTER_NEAREST)
            blend = cv2.addWeighted(image, 0.5, cm, 0.5, 0)
            scale = 1200 / max(h, w)
            cv2.imwrite(str(draw_dir / f"{stem}.classes.png"), cv2.resize(blend, None, fx=scale, fy=scale))
    per_class = {
        name: {
            "recall": _r(c.recall),
            "precision": _r(c.precision),
            "boxes": c.labelled,
            "predicted": c.predicted,
        }
        for name, c in counts.items()
        if c.labelled or c.predicted
    }
    return {
        "images": len(records),
        "per_class": per_class,
        "chart_recall": _r(chart_found / chart_full) if chart_full else None,
        "false_chart_rate": _r(chart_false / chart_none) if chart_none else None,
        "chart_presence_accuracy": _r((chart_found + chart_none - chart_false) / max(1, chart_full + chart_none)),
        "chart_frames": {"full": chart_full, "none": chart_none},
    }


def region_rules(seg: OnnxSegmenter) -> dict[str, Any]:
    """The configuration's rules from class map to regions that the real-photograph figures used."""
    rules = seg.rules
    return {
        "min_region_fraction": rules.min_region_fraction,
        "min_region_score": rules.min_region_score,
        "min_region_score_by_class": dict(rules.min_region_score_by_class),
        "region_join_gap": dict(rules.region_join_gap),
    }


def _r(v: float) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 3)


# --------------------------------------------------------------------------- report


def judge(synthetic: dict[str, Any] | None, real: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Each target with its measured value and pass/fail (None when not measured)."""
    measured: dict[str, float | None] = {"synthetic_fg_miou": synthetic["fg_miou"] if synthetic else None}
    if real:
        pc = real["per_class"]
        measured |= {
            "chart_recall": real["chart_recall"],
            "false_chart_rate": real["false_chart_rate"],
            "barcode_recall": pc.get("barcode", {}).get("recall"),
            "scale_bar_recall": pc.get("scale_bar", {}).get("recall"),
            "label_recall": pc.get("label", {}).get("recall"),
        }
    out = {}
    for key, target in TARGETS.items():
        value = measured.get(key)
        ok = None if value is None else (value <= target if key == "false_chart_rate" else value >= target)
        out[key] = {
            "value": value,
            "target": (f"<= {target}" if key == "false_chart_rate" else f">= {target}"),
            "pass": ok,
        }
    return out


def print_report(
    synthetic: dict[str, Any] | None, real: dict[str, Any] | None, verdicts: dict[str, dict[str, Any]]
) -> None:
    if synthetic:
        print(f"\nSynthetic IoU ({synthetic['samples']} samples)")
        for name, v in synthetic["iou"].items():
            print(f"  {name:<14}{'-' if v is None else f'{v:.3f}':>8}")
        print(f"  {'fg mean':<14}{synthetic['fg_miou']:>8.3f}")
    if real:
        print(
            f"\nReal photographs ({real['images']} images)\n  {'class':<14}{'recall':>8}{'precision':>11}"
            f"{'boxes':>7}{'preds':>7}"
        )
        for name in REPORT_CLASSES:
            c = real["per_class"].get(name)
            if c:
                rec = "-" if c["recall"] is None else f"{c['recall']:.2f}"
                prec = "-" if c["precision"] is None else f"{c['precision']:.2f}"
                print(f"  {name:<14}{rec:>8}{prec:>11}{c['boxes']:>7}{c['predicted']:>7}")
        print(
            f"  chart presence: recall {real['chart_recall']}, false-chart rate {real['false_chart_rate']}, "
            f"accuracy {real['chart_presence_accuracy']}"
        )
    print("\nTargets")
    for key, v in verdicts.items():
        state = {True: "pass", False: "FAIL", None: "n/a"}[v["pass"]]
        print(f"  {key:<20}{str(v['value']):>8}  {v['target']:<8} {state}")


def main() -> None:
    from training.dataset import DEFAULT_CACHE_ROOT, DEFAULT_GENERATOR

    ap = argparse.ArgumentParser(description="Evaluate the segmenter on synthetic and real frames.")
    ap.add_argument("--card", type=Path, default=DEFAULT_CARD)
    ap.add_argument("--model", type=Path, default=None, help="ONNX file (default: the card's file)")
    ap.add_argument("--synthetic", type=int, default=200, help="validation samples (0: skip)")
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--generator", default=DEFAULT_GENERATOR)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE_ROOT)
    ap.add_argument("--long-side", type=int, default=1536)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--draw", type=Path, default=None, help="write annotated real frames here")
    ap.add_argument("--write-card", action="store_true")
    a = ap.parse_args()

    seg = OnnxSegmenter(a.card, a.model)
    t0 = time.monotonic()
    synthetic = (
        evaluate_synthetic(seg, a.synthetic, a.generator, a.cache, a.long_side, a.workers) if a.synthetic > 0 else None
    )
    real = None
    if (a.real / "labels.jsonl").exists():
        real = evaluate_real(seg, a.real, a.draw)
    else:
        print(f"real-data evaluation skipped: no labels.jsonl in {a.real}")
    verdicts = judge(synthetic, real)
    print_report(synthetic, real, verdicts)
    print(f"\n({time.monotonic() - t0:.0f} s)")
    if a.write_card:
        card = yaml.safe_load(a.card.read_text())
        evaluation: dict[str, Any] = {
            "model_sha256": card["sha256"],
            "synthetic": synthetic,
            "targets": verdicts,
        }
        if real is not None:
            evaluation["real"] = real | {
                "set": "realdata dev (hand-labelled public photographs, not shipped)",
                "matching": "IoU >= 0.3 or mutual centre containment",
                "region_rules": region_rules(seg),
            }
        card["evaluation"] = evaluation
        a.card.write_text(yaml.safe_dump(card, sort_keys=False, width=110))
        print(f"wrote evaluation into {a.card}")


if __name__ == "__main__":
    main()
