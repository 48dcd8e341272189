"""Quality checks on real, hand-labelled frames and on seeded defect variants of them.

    python -m bench.qc_eval [--data DIR ...] [--regions labels|model|both] [--limit N] [--no-write]

From every clean herbarium sheet in each DIR/labels.jsonl (default: the web-size `dev` and the
full-resolution `dev-fullres` folders of shared real data; chart fully in shot, sharp, with chart,
scale bar, barcode, label and specimen labelled) it makes, seeded per file, at the frame's own
resolution: Gaussian blur sigma 1.5 and 3 px, defocus (a disk of radius 3 px), motion blur, labels
alone blurred, the colour chart removed (cropped out of shot near an edge, else painted over with the
paper around it), over- and under-exposure and rotation. Each variant is encoded as a JPEG (quality
92), like the originals. Per defect it reports the recall of the right reason (a retake whose failing
checks include the expected one), and the share of clean originals accepted, per folder and per
megapixel band (< 5, 5-20, > 20 MP).

Regions come from the hand-made boxes (`labels`: the checks judged as if the segmenter were right;
a painted-over chart keeps its box, as a segmenter fooled by the paint would) or from the bundled
segmenter through the whole pipeline (`model`; skipped when engines/segmenter.onnx is absent).
It also times the checks on 24- and 60-megapixel versions of the frames (full-resolution ones
first), and compares the blur check with a single whole-frame Laplacian-variance threshold, tuned on
these very frames to at most 5 % false retakes. Results go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.results_file import write_section
from edge.config import Settings, load_settings
from edge.decode import shrink
from edge.qc.base import CheckResult, FrameContext
from edge.qc.colour_science import linear_to_srgb, srgb_to_linear
from edge.qc.framing import SKEW_CACHE_KEY, skew_degrees
from edge.qc.registry import checks_for
from edge.qc.station_history import StationHistory
from edge.segmentation.model_card import bundled_model_path
from edge.segmentation.regions import Region

REALDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
DEFAULT_DATA = ("dev", "dev-fullres")
REQUIRED = {"colour_chart", "scale_bar", "barcode", "label", "specimen"}
# defect -> the check that must fail for the right reason
EXPECTED = {"blur1.5": "blur", "blur3.0": "blur", "defocus": "blur", "motion_blur": "blur", "label_blur": "blur",
            "chart_removed": "colour_chart",
            "overexposed": "exposure", "underexposed": "exposure", "rotated": "framing"}
CASE_KINDS = ("clean", *EXPECTED)
TARGETS = {"blur3.0": 0.95, "chart_removed": 0.95, "blur1.5": 0.80}
MAX_FALSE_RETAKES = 0.05
BLUR_COLUMNS = ("clean", "blur1.5", "blur3.0", "defocus", "motion_blur", "label_blur")
# megapixels -> median budget of all checks, ms
QC_BUDGETS_MS = {24.0: 80.0, 60.0: 150.0}
# radius in pixels of the defocus variant's disk: a lens focused a little off at capture resolution
DEFOCUS_RADIUS_PX = 3.0

Boxes = list[tuple[str, tuple[float, float, float, float]]]  # class, pixel box x0 y0 x1 y1


@dataclass
class Case:
    stem: str
    kind: str  # "clean" or a defect name
    image: np.ndarray
    boxes: Boxes


def clean_sheets(data: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (data / "labels.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("kind") == "herbarium_sheet" and r.get("colour_chart") == "full"
            and r.get("sharpness") == "sharp" and REQUIRED <= {b["class"] for b in r.get("boxes", [])}]


def pixel_boxes(row: dict[str, Any], width: int, height: int) -> Boxes:
    return [(b["class"], (b["box"][0] * width, b["box"][1] * height, b["box"][2] * width, b["box"][3] * height))
            for b in row["boxes"]]


def jpeg_round_trip(image: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded


def motion_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(9, 16))
    line = np.zeros((length, length), np.float32)
    line[length // 2, :] = 1.0
    angle = float(rng.uniform(0, 180))
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    kernel = np.asarray(cv2.warpAffine(line, rot, (length, length)), np.float32)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def defocus(image: np.ndarray, radius: float = DEFOCUS_RADIUS_PX) -> np.ndarray:
    """An out-of-focus lens: a uniform disk (the aperture's image), not a Gaussian."""
    size = 2 * int(np.ceil(radius)) + 1
    yy, xx = np.mgrid[:size, :size] - size // 2
    kernel = (np.hypot(xx, yy) <= radius).astype(np.float32)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def blur_labels(image: np.ndarray, boxes: Boxes, sigma: float = 2.0) -> np.ndarray:
    """Labels and barcode out of focus, the rest sharp: focus set on a thick specimen, or a lifted slip."""
    out = image.copy()
    for c, (a, b, e, f) in boxes:
        if c in ("label", "type_label", "barcode"):
            ia, ib, ie, if_ = int(a), int(b), int(e), int(f)
            out[ib:if_, ia:ie] = cv2.GaussianBlur(image[ib:if_, ia:ie], (0, 0), sigma)
    return out


def exposure_shift(image: np.ndarray, stops: float) -> np.ndarray:
    linear = srgb_to_linear(image.astype(np.float64) / 255.0) * 2.0 ** stops
    return (linear_to_srgb(linear) * 255.0).round().astype(np.uint8)


def remove_chart(image: np.ndarray, boxes: Boxes) -> tuple[np.ndarray, Boxes]:
    """Crop the chart out of shot when it lies near an edge, else paint it over with the paper around it
    (the same rule as the project's real-data evaluation)."""
    h, w = image.shape[:2]
    charts = [b for c, b in boxes if c == "colour_chart"]
    x0, y0 = min(b[0] for b in charts) / w, min(b[1] for b in charts) / h
    x1, y1 = max(b[2] for b in charts) / w, max(b[3] for b in charts) / h
    crop: tuple[int, int, int, int] | None = None
    if y1 < 0.35:
        crop = (0, int(min(1, y1 + 0.02) * h), w, h)
    elif y0 > 0.65:
        crop = (0, 0, w, int(max(0, y0 - 0.02) * h))
    elif x1 < 0.35:
        crop = (int(min(1, x1 + 0.02) * w), 0, w, h)
    elif x0 > 0.65:
        crop = (0, 0, int(max(0, x0 - 0.02) * w), h)
    if crop is not None:
        cx0, cy0, cx1, cy1 = crop
        kept: Boxes = []
        for c, (a, b, e, f) in boxes:
            nb = (max(a, cx0) - cx0, max(b, cy0) - cy0, min(e, cx1) - cx0, min(f, cy1) - cy0)
            if nb[2] - nb[0] > 2 and nb[3] - nb[1] > 2:
                kept.append((c, nb))
        return image[cy0:cy1, cx0:cx1].copy(), kept
    out = image.copy()
    for a, b, e, f in charts:
        ia, ib, ie, if_ = int(a), int(b), int(e), int(f)
        ring = np.concatenate([image[max(0, ib - 20):ib, ia:ie].reshape(-1, 3),
                               image[if_:if_ + 20, ia:ie].reshape(-1, 3)])
        out[ib:if_, ia:ie] = np.median(ring, axis=0) if len(ring) else 230
    return out, boxes


def rotate(image: np.ndarray, boxes: Boxes, degrees: float) -> tuple[np.ndarray, Boxes]:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    border = tuple(int(v) for v in np.median(np.concatenate([image[0], image[-1]]), axis=0))
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=border)
    moved: Boxes = []
    for c, (a, b, e, f) in boxes:
        pts = np.array([[a, b, 1], [e, b, 1], [a, f, 1], [e, f, 1]]) @ m.T
        nb = (max(0.0, pts[:, 0].min()), max(0.0, pts[:, 1].min()), min(w, pts[:, 0].max()), min(h, pts[:, 1].max()))
        if nb[2] - nb[0] > 2 and nb[3] - nb[1] > 2:
            moved.append((c, nb))
    return out, moved


def cases_for(row: dict[str, Any], data: Path, seed: int) -> Iterator[Case]:
    # the boxes are in the stored orientation: EXIF orientation is not applied here
    image = cv2.imread(str(data / row["file"]), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert image is not None, row["file"]
    h, w = image.shape[:2]
    boxes = pixel_boxes(row, w, h)
    stem = Path(row["file"]).stem
    rng = np.random.default_rng([seed, *stem.encode()])
    yield Case(stem, "clean", image, boxes)
    for sigma in (1.5, 3.0):
        yield Case(stem, f"blur{sigma}", jpeg_round_trip(cv2.GaussianBlur(image, (0, 0), sigma)), boxes)
    yield Case(stem, "defocus", jpeg_round_trip(defocus(image)), boxes)
    yield Case(stem, "motion_blur", jpeg_round_trip(motion_blur(image, rng)), boxes)
    yield Case(stem, "label_blur", jpeg_round_trip(blur_labels(image, boxes)), boxes)
    removed, kept = remove_chart(image, boxes)
    yield Case(stem, "chart_removed", jpeg_round_trip(removed), kept)
    yield Case(stem, "overexposed", jpeg_round_trip(exposure_shift(image, float(rng.uniform(1.5, 2.0)))), boxes)
    yield Case(stem, "underexposed", jpeg_round_trip(exposure_shift(image, -float(rng.uniform(1.5, 2.0)))), boxes)
    angle = float(rng.uniform(5.0, 10.0)) * (1 if rng.random() < 0.5 else -1)
    rotated, moved = rotate(image, boxes, angle)
    yield Case(stem, "rotated", jpeg_round_trip(rotated), moved)


def regions_from(boxes: Boxes) -> list[Region]:
    out = []
    for i, (c, (a, b, e, f)) in enumerate(boxes):
        bbox = (int(a), int(b), int(np.ceil(e)), int(np.ceil(f)))
        out.append(Region(i, c, bbox, (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]), 1.0))
    return out


class LabelledJudge:
    """The QC stage as the pipeline runs it, with the hand-made boxes as the regions."""

    def __init__(self, settings: Settings) -> None:
        self.profile = settings.active_profile
        self.checks = checks_for(self.profile)
        self.history = StationHistory(self.profile.blur.baseline_frames)

    def __call__(self, case: Case) -> list[CheckResult]:
        camera = f"{case.image.shape[1]}x{case.image.shape[0]}"  # as for a frame without EXIF
        frame = FrameContext(case.image, regions_from(case.boxes), self.profile, history=self.history, camera=camera)
        results = [check.run(frame) for check in self.checks]
        self.history.record(accepted=not any(r.status == "fail" for r in results), camera=camera,
                            edge_width=frame.findings.edge_width, barcodes=[b["text"] for b in frame.findings.barcodes])
        return results


class ModelJudge:
    """The whole pipeline (decode, bundled segmenter, checks) on the case written as a JPEG."""

    def __init__(self, settings: Settings) -> None:
        from edge.pipeline import FramePipeline

        self.pipeline = FramePipeline(settings)
        self.folder = Path(tempfile.mkdtemp(prefix="qc-eval-"))

    def __call__(self, case: Case) -> list[CheckResult]:
        path = self.folder / f"{case.stem}__{case.kind}.jpg"
        cv2.imwrite(str(path), case.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        verdict = self.pipeline.judge(path).verdict
        path.unlink()
        return [CheckResult(c["check"], c["status"], c["message"]) for c in verdict["checks"]]


@dataclass
class Outcome:
    folder: str
    stem: str
    kind: str
    megapixels: float
    right: bool  # clean: accepted; a defect: a retake with the expected check failing
    failing: list[str]


def megapixel_band(megapixels: float) -> str:
    return "< 5 MP" if megapixels < 5 else "5-20 MP" if megapixels <= 20 else "> 20 MP"


def evaluate(judge: Callable[[Case], list[CheckResult]], rows: list[dict[str, Any]], data: Path,
             seed: int) -> tuple[list[Outcome], dict[str, list[float]]]:
    outcomes: list[Outcome] = []
    laplacian: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for case in cases_for(row, data, seed):
            results = judge(case)
            failing = [r for r in results if r.status == "fail"]
            gray = cv2.cvtColor(case.image, cv2.COLOR_BGR2GRAY)
            # variance of the Laplacian, normalised per pixel already (a mean of squares)
            laplacian[case.kind].append(float(cv2.Laplacian(gray, cv2.CV_64F).var()))
            megapixels = case.image.shape[0] * case.image.shape[1] / 1e6
            if case.kind == "clean":
                right = not failing
            else:
                right = any(r.check == EXPECTED[case.kind] for r in failing)
            outcomes.append(Outcome(data.name, case.stem, case.kind, megapixels, right,
                                    [f"{r.check}: {r.message}" for r in failing]))
    return outcomes, laplacian


def laplacian_threshold(laplacian: dict[str, list[float]]) -> float:
    """A single whole-frame threshold, the best it can be: the highest one with at most 5 % false retakes."""
    clean = sorted(laplacian["clean"])
    return clean[int(np.floor(MAX_FALSE_RETAKES * len(clean)))] if clean else 0.0


def laplacian_rates(laplacian: dict[str, list[float]], threshold: float) -> dict[str, float]:
    """False-retake rate on clean frames and recall per blur defect of a whole-frame threshold."""
    return {k: float(np.mean([v < threshold for v in vals])) for k, vals in laplacian.items()
            if k in BLUR_COLUMNS and vals}


def ours_rates(outcomes: list[Outcome]) -> dict[str, float]:
    """The same figures for the blur check: clean frames sent back for blur, recall of blur defects."""
    out = {}
    for kind in BLUR_COLUMNS:
        mine = [o for o in outcomes if o.kind == kind]
        if not mine:
            continue
        if kind == "clean":
            out[kind] = float(np.mean([any(f.startswith("blur:") for f in o.failing) for o in mine]))
        else:
            out[kind] = float(np.mean([o.right for o in mine]))
    return out


def time_checks(settings: Settings, rows: list[tuple[Path, dict[str, Any]]], megapixels: float,
                frames: int = 8, repeats: int = 3) -> tuple[list[float], list[float]]:
    """Milliseconds for all checks on real frames resized to the given size, hand-made regions, as
    the pipeline runs them (the tilt is measured on the segmenter's small copy, before the checks);
    and the milliseconds of that tilt estimate."""
    profile = settings.active_profile
    checks = checks_for(profile)
    history = StationHistory()
    times, skew_times = [], []
    for data, row in rows[:frames]:
        image = cv2.imread(str(data / row["file"]), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        assert image is not None
        h, w = image.shape[:2]
        scale = (megapixels * 1e6 / (h * w)) ** 0.5
        big = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        regions = regions_from(pixel_boxes(row, big.shape[1], big.shape[0]))
        small = shrink(big, 1024)
        for _ in range(repeats):
            t0 = time.perf_counter()
            skew = skew_degrees(small)
            skew_times.append((time.perf_counter() - t0) * 1000)
            frame = FrameContext(big, regions, profile, history=history, camera=f"{w}x{h}",
                                 cache={SKEW_CACHE_KEY: skew})
            t0 = time.perf_counter()
            for check in checks:
                check.run(frame)
            times.append((time.perf_counter() - t0) * 1000)
    return times, skew_times


def rate_cell(outcomes: list[Outcome], kind: str) -> str:
    mine = [o for o in outcomes if o.kind == kind]
    if not mine:
        return "–"
    right = sum(o.right for o in mine)
    return f"{right / len(mine):.2f} ({right}/{len(mine)})"


def table(outcomes: list[Outcome]) -> list[str]:
    """Rows: cases; columns: each data folder, then each megapixel band across folders."""
    folders = list(dict.fromkeys(o.folder for o in outcomes))
    bands = [b for b in ("< 5 MP", "5-20 MP", "> 20 MP") if any(megapixel_band(o.megapixels) == b for o in outcomes)]
    columns = [(f"`{f}`", [o for o in outcomes if o.folder == f]) for f in folders]
    columns += [(b, [o for o in outcomes if megapixel_band(o.megapixels) == b]) for b in bands]
    lines = ["| case | " + " | ".join(name for name, _ in columns) + " | target |",
             "|---|" + "---|" * (len(columns) + 1)]
    for kind in dict.fromkeys(o.kind for o in outcomes):
        if kind == "clean":
            label, target = "clean sheets accepted", f"≥ {1 - MAX_FALSE_RETAKES:.2f}"
        else:
            label = f"{kind} caught ({EXPECTED[kind]})"
            target = f"≥ {TARGETS[kind]:.2f}" if kind in TARGETS else "–"
        lines.append(f"| {label} | " + " | ".join(rate_cell(group, kind) for _, group in columns) + f" | {target} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, action="append",
                    help=f"a folder of labelled frames; repeat for several (default: {', '.join(DEFAULT_DATA)})")
    ap.add_argument("--regions", choices=["labels", "model", "both"], default="both")
    ap.add_argument("--limit", type=int, default=0, help="only the first N clean sheets of each folder")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    ap.add_argument("--timing-only", action="store_true", help="only time the checks (printed, not written)")
    args = ap.parse_args()
    folders = [d for d in (args.data or [REALDATA / name for name in DEFAULT_DATA]) if (d / "labels.jsonl").exists()]
    if not folders:
        print("skipped: no labelled real frames found", file=sys.stderr)
        return
    settings = load_settings(None)
    rows = {data: clean_sheets(data)[:args.limit] if args.limit else clean_sheets(data) for data in folders}
    if args.timing_only:
        timing_rows = [(d, r) for d in sorted(rows, key=lambda d: d.name != "dev-fullres") for r in rows[d]]
        for megapixels in QC_BUDGETS_MS:
            times, skew_times = time_checks(settings, timing_rows, megapixels)
            print(f"{megapixels:.0f} MP: checks median {statistics.median(times):.1f} ms, max {max(times):.1f}; "
                  f"tilt estimate median {statistics.median(skew_times):.1f} ms")
        return
    body: list[str] = [
        "Clean real herbarium sheets (chart, scale bar, barcode, label and specimen in shot, sharp) from "
        + ", ".join(f"`{d.name}` ({len(r)})" for d, r in rows.items())
        + f", {len(CASE_KINDS) - 1} seeded defect variants each (seed {args.seed}), judged at their own "
        "resolution; default profile `herbarium_sheet`. Right: a clean sheet accepted; a variant sent back with "
        "the expected check among its failing checks. Columns: each folder, then each megapixel band.", ""]
    modes = ["labels", "model"] if args.regions == "both" else [args.regions]
    for mode in modes:
        if mode == "model":
            if not bundled_model_path().exists():
                msg = "Bundled segmenter (engines/segmenter.onnx) absent: whole-pipeline figures skipped."
                print(msg, file=sys.stderr)
                body += [f"### Regions from the bundled segmenter\n\n{msg}", ""]
                continue
            title = "Regions from the bundled segmenter (whole pipeline)"
        else:
            title = "Regions from the hand-made boxes"
        outcomes: list[Outcome] = []
        laplacian: dict[str, list[float]] = defaultdict(list)
        for data, clean in rows.items():
            # one judge per folder: a station sees one collection
            judge: Callable[[Case], list[CheckResult]] = ModelJudge(settings) if mode == "model" \
                else LabelledJudge(settings)
            found, lap = evaluate(judge, clean, data, args.seed)
            outcomes += found
            for kind, values in lap.items():
                laplacian[kind] += values
        body += [f"### {title}", "", *table(outcomes), ""]
        wrong = [o for o in outcomes if o.kind == "clean" and not o.right]
        if wrong:
            body += ["Clean sheets sent back:", "",
                     *[f"- `{o.folder}` {o.stem}: " + "; ".join(o.failing) for o in wrong], ""]
        if mode == "labels":
            threshold = laplacian_threshold(laplacian)
            lap_rates, ours = laplacian_rates(laplacian, threshold), ours_rates(outcomes)
            body += ["Blur against a single whole-frame Laplacian-variance threshold, tuned on all the clean frames "
                     f"above to at most {MAX_FALSE_RETAKES:.0%} false retakes (the best one global threshold can do "
                     "across these collections and sizes). Cells: Laplacian / ours; on clean frames the share "
                     "sent back for blur, on the defects the recall.", "",
                     "| Laplacian threshold | " + " | ".join(BLUR_COLUMNS) + " |",
                     "|---|" + "---|" * len(BLUR_COLUMNS),
                     f"| {threshold:.1f} | " + " | ".join(f"{lap_rates.get(k, 0):.2f} / {ours.get(k, 0):.2f}"
                                                          for k in BLUR_COLUMNS) + " |", ""]
    if "labels" in modes:
        timing_rows = [(d, r) for d in sorted(rows, key=lambda d: d.name != "dev-fullres") for r in rows[d]]
        load_before = os.getloadavg()[0]
        for megapixels, budget in QC_BUDGETS_MS.items():
            times, skew_times = time_checks(settings, timing_rows, megapixels)
            body.append(f"QC time per {megapixels:.0f}-megapixel frame (all checks, hand-made regions, {len(times)} "
                        f"runs): median {statistics.median(times):.1f} ms, max {max(times):.1f} ms (budget "
                        f"{budget:.0f} ms median); the tilt estimate on the segmenter's small copy, made "
                        f"before the checks, median {statistics.median(skew_times):.1f} ms.")
        body += [f"Load average {load_before:.1f} on {os.cpu_count()} CPUs when timing started.", ""]
    text = "\n".join(body)
    print(text)
    if not args.no_write:
        write_section("qc_eval", text)


if __name__ == "__main__":
    main()
