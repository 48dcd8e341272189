"""The framing check's "cut off" reasons for labels and barcodes against the hand-labelled boxes.

    python -m bench.framing_eval [--root DIR] [--folder NAME ...] [--no-write]

Runs `specimen-edge check --json` on every frame of each folder's labels.jsonl (default: the
web-size `dev` and the full-resolution `dev-fullres` folders of shared real data). Each framing
reason that names a label, type label or barcode as cut off at some edges is borne out when a
labelled box of that kind, overlapping the region it names, lies within 1.5 % of one of those edges
(hand-made boxes are drawn to within a few per cent); else it is a false alarm at the station.
Results go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.results_file import write_section

DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
PRINTED = ("label", "type_label", "barcode")
SIDES = ("left", "top", "right", "bottom")
# how near an edge a hand-made box must lie to count as running out of shot there
LABEL_MARGIN = 0.015


def verdicts(root: Path, folder: str, files: list[str]) -> dict[str, dict[str, Any]]:
    cmd = [str(Path(sys.executable).with_name("specimen-edge")), "check", "--json", "--no-progress",
           *(str(root / folder / f) for f in files)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out = {}
    for line in done.stdout.splitlines():
        verdict = json.loads(line)
        out[str(Path(verdict["file"]).relative_to(root / folder))] = verdict
    return out


def cut_reasons(verdict: dict[str, Any]) -> list[tuple[str, list[str], list[float]]]:
    """(class, sides, region box) of a framing reason naming a printed region as cut off."""
    regions = {r["id"]: r for r in verdict.get("regions", [])}
    out = []
    for check in verdict.get("checks", []):
        if check["check"] != "framing" or check["status"] == "ok" or check.get("value") not in PRINTED:
            continue
        named = check["message"].split(" edge")[0]
        out.append((str(check["value"]), [s for s in SIDES if s in named], regions[check["regions"][0]]["bbox"]))
    return out


def borne_out(row: dict[str, Any], cls: str, sides: list[str], box: list[float]) -> bool:
    w, h = row["width"], row["height"]
    kinds = ("barcode",) if cls == "barcode" else ("label", "type_label")
    for b in row.get("boxes", []):
        if b["class"] not in kinds:
            continue
        x0, y0, x1, y1 = b["box"][0] * w, b["box"][1] * h, b["box"][2] * w, b["box"][3] * h
        if min(box[2], x1) <= max(box[0], x0) or min(box[3], y1) <= max(box[1], y0):
            continue
        near = {"left": x0 < LABEL_MARGIN * w, "top": y0 < LABEL_MARGIN * h,
                "right": x1 > (1 - LABEL_MARGIN) * w, "bottom": y1 > (1 - LABEL_MARGIN) * h}
        if any(near[s] for s in sides):
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--folder", action="append", default=None, help="folder under --root (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md as it is")
    args = parser.parse_args()
    folders = [f for f in (args.folder or ["dev", "dev-fullres"]) if (args.root / f / "labels.jsonl").exists()]
    if not folders:
        sys.exit(f"no labelled folders under {args.root}")
    lines = ["| folder | frames | cut-off reasons (label, barcode) | borne out | false alarms |",
             "|---|---|---|---|---|"]
    false_list = []
    for folder in folders:
        rows = [json.loads(line) for line in (args.root / folder / "labels.jsonl").read_text().splitlines()
                if line.strip()]
        judged = verdicts(args.root, folder, [r["file"] for r in rows])
        good = bad = 0
        for row in rows:
            for cls, sides, box in cut_reasons(judged.get(row["file"], {})):
                if borne_out(row, cls, sides, box):
                    good += 1
                else:
                    bad += 1
                    false_list.append(f"{folder}/{row['file']}: {cls} at the {' and '.join(sides)} edge")
        lines.append(f"| {folder} | {len(judged)} | {good + bad} | {good} | {bad} |")
    body = "\n".join([
        "The framing check's reasons naming a label or barcode as cut off (`specimen-edge check --json`), "
        "against the hand-labelled boxes: borne out when a labelled box of that kind overlapping the "
        f"region lies within {LABEL_MARGIN:.1%} of a named edge.", "", *lines, "",
        "<details><summary>false alarms</summary>", "", *(f"- {f}" for f in false_list), "", "</details>"])
    print(body)
    if not args.no_write:
        write_section("framing_eval", body)


if __name__ == "__main__":
    main()
