"""Segmenter CPU speed: ONNX Runtime inference (2 intra-op threads) and preprocessing, per frame.

    python -m bench.segmenter_speed [--runs 50] [--card engines/segmenter.yaml] [--also OTHER.onnx] [--no-write]

Budget: at most 60 ms median inference per frame on a 2-core CPU. Preprocessing is the
letterbox (rotate, INTER_AREA resize, pad) plus normalisation of a 24-megapixel frame, timed
separately because it scales with the camera, not the model. `--also` times another ONNX file with
the same input (an INT8 copy, a candidate model) in the same run, in blocks taking turns, for the ratio.
Writes its section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import yaml

from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas

REPO = Path(__file__).resolve().parent.parent
BUDGET_MS = 60.0


def timed(fn: object, runs: int) -> np.ndarray:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t) * 1000)
    return np.asarray(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--card", type=Path, default=REPO / "engines" / "segmenter.yaml")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--also", type=Path, default=None, help="another ONNX file to time in the same run")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()

    card = yaml.safe_load(a.card.read_text())
    hw = (int(card["input"]["height"]), int(card["input"]["width"]))
    mean, std = tuple(card["input"]["mean"]), tuple(card["input"]["std"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(a.card.parent / card["file"]), so, providers=["CPUExecutionProvider"])
    other = ort.InferenceSession(str(a.also), so, providers=["CPUExecutionProvider"]) if a.also else None

    # A 6000 x 4000 frame (24 MP, landscape so the rotation is included) with texture, not a constant.
    rng = np.random.default_rng(0)
    frame = np.repeat(np.repeat(rng.integers(0, 256, (600, 400, 3), dtype=np.uint8), 10, 0), 10, 1)
    frame = np.ascontiguousarray(frame.transpose(1, 0, 2))

    def preprocess() -> np.ndarray:
        canvas, _ = place_on_canvas(frame, hw)
        return canvas_to_tensor(canvas, mean, std)

    x = preprocess()
    feed = {card["input"]["name"]: x}
    names = [card["output"]["name"]]
    sessions = [sess] if other is None else [sess, other]
    for _ in range(a.warmup):
        for s in sessions:
            s.run(names, feed)
    # In blocks that take turns, so a change in the machine's load falls on both alike; run for run
    # alternation would not be fair: each session's idle thread pool spins for a while after its run
    # and takes the cores from the other's. The first run of each block settles and is not kept.
    times: list[list[float]] = [[] for _ in sessions]
    block = 10
    while len(times[0]) < a.runs:
        for s, out in zip(sessions, times, strict=True):
            s.run(names, feed)
            for _ in range(min(block, a.runs - len(out))):
                start = time.perf_counter()
                s.run(names, feed)
                out.append((time.perf_counter() - start) * 1000)
    infer = np.asarray(times[0])
    prep = timed(preprocess, max(10, a.runs // 3))
    med, p95 = float(np.median(infer)), float(np.percentile(infer, 95))
    verdict = "within" if med <= BUDGET_MS else "OVER"
    body = "\n".join(
        [
            f"Model `{card['file']}` ({card['name']} {card['version']}, sha256 {card['sha256'][:12]}…), "
            f"input {hw[0]} x {hw[1]}, ONNX Runtime {ort.__version__} CPU, intra-op threads {a.threads}.",
            "",
            "| step | median ms | p95 ms | runs |",
            "|---|---|---|---|",
            f"| inference | {med:.1f} | {p95:.1f} | {len(infer)} |",
            *([] if a.also is None else [
                f"| inference, `{a.also}` (same run, blocks taking turns) | {np.median(times[1]):.1f} | "
                f"{np.percentile(times[1], 95):.1f} | {len(times[1])} |"]),
            f"| preprocessing (24 MP frame: rotate, letterbox, normalise) | {np.median(prep):.1f} | "
            f"{np.percentile(prep, 95):.1f} | {len(prep)} |",
            "",
            f"Budget: inference median <= {BUDGET_MS:.0f} ms on 2 CPU cores: **{verdict}** budget.",
            *([] if a.also is None else [
                "", f"`{a.also}` / `{card['file']}` median ratio: {np.median(times[1]) / med:.2f}."]),
        ]
    )
    print(body)
    if not a.no_write:
        from bench.results_file import write_section

        write_section("segmenter_speed", body)


if __name__ == "__main__":
    main()
