"""The bundled demo samples are capture-sized frames and the real CLI, on the default configuration,
judges each one as the demo says it does: the good sheets accepted, the others sent back for the
defect they were made with."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "edge" / "samples"
# Capture stations write 20-60 MP frames; the samples must be as large as the smallest of them.
MIN_PIXELS = 20_000_000
# They ship in the wheel: keep the five together small.
MAX_TOTAL_BYTES = 12_500_000

# file name -> (verdict, failing checks in the order of `reasons`; "..." allows any further ones)
EXPECTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "BM000100001.jpg": ("accept", ()),
    "BM000100002.jpg": ("accept", ()),
    "BM000100003_no_chart.jpg": ("retake", ("colour_chart",)),
    "BM000100004_out_of_focus.jpg": ("retake", ("blur", "...")),
    "BM000100005.jpg": ("accept", ()),
}


def cli() -> list[str]:
    """The installed `specimen-edge` command beside this interpreter, else the same entry point by module."""
    script = Path(sys.executable).with_name("specimen-edge")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "edge"]


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".tif", ".png"))


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`specimen-edge check --json` on every bundled sample with the built-in defaults, run once."""
    cwd = tmp_path_factory.mktemp("check")  # no station file or state from the source tree
    p = subprocess.run([*cli(), "check", "--json", "--no-progress", *map(str, sample_files())], cwd=cwd,
                       capture_output=True, text=True, timeout=600)
    verdicts: dict[str, dict[str, Any]] = {}
    for line in p.stdout.splitlines():
        verdict = json.loads(line)
        name = Path(verdict["file"]).name
        assert name not in verdicts, f"two verdicts for {name}"
        verdicts[name] = verdict
    return p.returncode, verdicts, p.stderr


def test_samples_are_the_five_demo_frames_at_capture_resolution() -> None:
    files = sample_files()
    assert [p.name for p in files] == sorted(EXPECTED)
    for p in files:
        with Image.open(p) as im:
            width, height = im.size
            assert im.format == "JPEG", p.name
        assert width * height >= MIN_PIXELS, f"{p.name}: {width}x{height} is under 20 MP"
    total = sum(p.stat().st_size for p in files)
    assert total <= MAX_TOTAL_BYTES, f"samples take {total / 1e6:.1f} MB"


def test_check_gives_one_valid_verdict_per_sample(
        checked: tuple[int, dict[str, dict[str, Any]], str],
        verdict_schema: Callable[[dict[str, Any]], None]) -> None:
    code, verdicts, stderr = checked
    assert sorted(verdicts) == sorted(EXPECTED), stderr[-3000:]
    for verdict in verdicts.values():
        verdict_schema(verdict)
        assert verdict["width"] * verdict["height"] >= MIN_PIXELS
        assert verdict["profile"] == "herbarium_sheet"
    # retakes and no unreadable file: exit code 1
    assert code == 1, stderr[-3000:]


def _why(verdict: dict[str, Any]) -> str:
    """The verdict's judgement in a line per check, for assertion messages."""
    lines = [f"{verdict['verdict']}; reasons {[r['check'] for r in verdict['reasons']]}"]
    for c in verdict["checks"]:
        lines.append(f"  {c['check']}: {c['status']} value={c.get('value')} threshold={c.get('threshold')} "
                     f"details={c.get('details')} {c['message']}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_gets_its_intended_verdict_and_reason(
        name: str, checked: tuple[int, dict[str, dict[str, Any]], str]) -> None:
    _, verdicts, stderr = checked
    assert name in verdicts, stderr[-3000:]
    verdict = verdicts[name]
    want_verdict, want_reasons = EXPECTED[name]
    reasons = [r["check"] for r in verdict["reasons"]]
    assert verdict["verdict"] == want_verdict, f"{name}: {_why(verdict)}"
    assert all(r["status"] == "fail" for r in verdict["reasons"]), f"{name}: {_why(verdict)}"
    if want_reasons and want_reasons[-1] == "...":
        fixed = list(want_reasons[:-1])
        assert reasons[: len(fixed)] == fixed, f"{name}: {_why(verdict)}"
    else:
        assert reasons == list(want_reasons), f"{name}: {_why(verdict)}"
    checks = {c["check"]: c for c in verdict["checks"]}
    if want_verdict == "accept":
        # a good sheet is judged sharp on its label, not passed for want of anything to measure
        assert checks["blur"]["status"] == "ok" and checks["blur"]["value"] is not None, _why(verdict)
    if "blur" in want_reasons:
        assert checks["blur"]["regions"], f"{name}: blur failed on no region: {_why(verdict)}"


def test_demo_prints_the_promised_counts() -> None:
    """`specimen-edge demo`: three sheets accepted, two retakes, and the frame cut off in transfer unreadable."""
    p = subprocess.run([*cli(), "demo"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    counts = re.findall(r"accepted (\d+), retake (\d+), unreadable (\d+)", p.stdout)
    assert counts == [("3", "2", "1")], p.stdout[-3000:]
