"""The frame's scale (pixels per mm) against values read by eye from the rulers of real frames.

    python -m bench.scale_eval [--root DIR] [--no-model] [--no-write]

bench/scale_truth.csv holds, per frame, the pixels per mm read from two centimetre marks far apart
on its ruler. Per folder it reports how many frames come within 10 % of that, reading the ruler
inside the hand-labelled scale_bar boxes (labels.jsonl), and, as a second column, inside the
segmenter's own scale_bar regions (`specimen-edge check --json`, whose blur check carries the
scale in its details). It also times frame_px_per_mm on a 24-megapixel frame. Results go to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from bench.results_file import write_section
from edge.config import load_settings
from edge.qc.base import FrameContext
from edge.qc.scale import frame_px_per_mm
from edge.segmentation.regions import Region

DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
TRUTH = Path(__file__).resolve().parent / "scale_truth.csv"
TOLERANCE = 0.10


def read_truth(path: Path = TRUTH) -> list[dict[str, str]]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines))


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return np.asarray(image)


def labelled_regions(row: dict[str, object], width: int, height: int) -> list[Region]:
    out = []
    for i, box in enumerate(b for b in row["boxes"] if b["class"] == "scale_bar"):  # type: ignore[attr-defined]
        a, b, e, f = box["box"]
        bbox = (int(a * width), int(b * height), int(np.ceil(e * width)), int(np.ceil(f * height)))
        out.append(Region(i, "scale_bar", bbox, (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]), 1.0))
    return out


def from_labels(root: Path, folder: str, files: list[str]) -> dict[str, float | None]:
    settings = load_settings()
    labels = {r["file"]: r for r in (json.loads(line) for line in (root / folder / "labels.jsonl").read_text()
                                     .splitlines() if line.strip())}
    out: dict[str, float | None] = {}
    for name in files:
        row = labels[name]
        image = read_image(root / folder / name)
        profile = settings.profiles.get(str(row.get("kind", "")), settings.active_profile)
        frame = FrameContext(image, labelled_regions(row, image.shape[1], image.shape[0]), profile)
        out[name] = frame_px_per_mm(frame)
    return out


def from_model(root: Path, folder: str, files: list[str]) -> dict[str, float | None]:
    cmd = [str(Path(sys.executable).with_name("specimen-edge")), "check", "--json", "--no-progress",
           *(str(root / folder / f) for f in files)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out: dict[str, float | None] = dict.fromkeys(files)
    for line in done.stdout.splitlines():
        verdict = json.loads(line)
        name = str(Path(verdict["file"]).relative_to(root / folder))
        blur = [c for c in verdict.get("checks", []) if c["check"] == "blur"]
        value = blur[0].get("details", {}).get("px_per_mm") if blur else None
        out[name] = float(value) if value is not None else None
    return out


def within(value: float | None, truth: float) -> bool:
    return value is not None and abs(value / truth - 1) <= TOLERANCE


def time_24mp(root: Path, truth: list[dict[str, str]], repeats: int = 20) -> float:
    """Median ms of frame_px_per_mm on a 24-megapixel frame whose scale bar is labelled."""
    settings = load_settings()
    row = next(r for r in truth if r["folder"] == "dev-fullres")
    labels = {r["file"]: r for r in (json.loads(line) for line in (root / "dev-fullres" / "labels.jsonl")
                                     .read_text().splitlines() if line.strip())}
    image = read_image(root / "dev-fullres" / row["file"])
    scale = (24e6 / (image.shape[0] * image.shape[1])) ** 0.5
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    regions = labelled_regions(labels[row["file"]], image.shape[1], image.shape[0])
    times = []
    for _ in range(repeats):
        frame = FrameContext(image, regions, settings.active_profile)
        start = time.perf_counter()
        frame_px_per_mm(frame)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--no-model", action="store_true", help="skip the segmenter column")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md as it is")
    args = parser.parse_args()
    truth = [r for r in read_truth() if (args.root / r["folder"] / r["file"]).exists()]
    if not truth:
        sys.exit(f"no frames of {TRUTH.name} under {args.root}")
    by_folder: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in truth:
        by_folder[r["folder"]].append(r)
    lines = ["| folder | frames | within 10 %, labelled boxes | within 10 %, segmenter regions |",
             "|---|---|---|---|"]
    detail = ["| frame | truth | labelled boxes | segmenter |", "|---|---|---|---|"]
    for folder, rows in by_folder.items():
        files = [r["file"] for r in rows]
        labelled = from_labels(args.root, folder, files)
        model = {} if args.no_model else from_model(args.root, folder, files)
        hits_l = sum(within(labelled[r["file"]], float(r["px_per_mm"])) for r in rows)
        hits_m = sum(within(model.get(r["file"]), float(r["px_per_mm"])) for r in rows)
        lines.append(f"| {folder} | {len(rows)} | {hits_l} | {'-' if args.no_model else hits_m} |")
        for r in rows:
            def fmt(v: float | None) -> str:
                return "none" if v is None else f"{v:.2f}"
            detail.append(f"| {folder}/{r['file']} | {float(r['px_per_mm']):.2f} | {fmt(labelled[r['file']])} | "
                          f"{'-' if args.no_model else fmt(model.get(r['file']))} |")
    ms = time_24mp(args.root, truth)
    body = "\n".join([
        "Pixels per mm of the frame (`frame_px_per_mm`) against the value read by eye from two centimetre "
        "marks far apart on each frame's ruler (bench/scale_truth.csv); a frame counts when it is within "
        "10 %. The scale bar is read inside the hand-labelled boxes, and inside the segmenter's own "
        "scale_bar regions (`specimen-edge check --json`, the blur check's `px_per_mm`).", "",
        *lines, "", f"frame_px_per_mm on a 24-megapixel frame: {ms:.1f} ms (median of 20).", "",
        "<details><summary>per frame</summary>", "", *detail, "", "</details>"])
    print(body)
    if not args.no_write:
        write_section("scale_eval", body)


if __name__ == "__main__":
    main()
