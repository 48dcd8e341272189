"""`specimen-edge audit` on a real Ray: a local one with two workers, and a two-node cluster on
loopback of which one node dies mid-run. Frames come from the synthetic sheet generator and are
judged by the bundled segmenter."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from ray.exceptions import RayError

from edge.audit.rows import rows_table, verdict_row
from edge.audit.runner import Batch, retry_or_give_up
from edge.audit.sources import Frame, SourceError, expand_sources
from edge.audit.store import ResultStore
from edge.audit.summary import summarise, to_html, to_markdown
from edge.config import load_settings
from edge.segmentation.base import ModelInfo
from tests.conftest import wait_for
from tests.frames import write_jpeg
from tests.ray_cluster import LoopbackCluster, descendants, ray_env
from training.synth import generate

CLI = [sys.executable, "-m", "edge"]
# (seed, colour chart in shot, defocus radius): sheets the bundled model accepts and sends back
SHEETS = ((101, True, 0.0), (102, True, 0.0), (103, False, 0.0), (104, True, 4.0), (105, True, 0.0),
          (106, False, 0.0))
LONG_SIDE = 900
BAD_INPUTS = {"empty.jpg", "truncated.jpg", "notimage.png", "huge.png", "dangling.jpg"}
ACCEPTED_SAMPLE = Path(__file__).resolve().parent.parent / "edge" / "samples" / "BM000100001.jpg"


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("sheets")
    return [write_jpeg(folder / f"sheet{seed}.jpg",
                       generate(seed, "herbarium_sheet", LONG_SIDE, with_chart=chart, defocus_radius=defocus).image)
            for seed, chart, defocus in SHEETS]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "audit.yaml"
    # room for the 24-26 MP sample, not for the 33 MP PNG
    path.write_text(yaml.safe_dump({"station": "audit-test", "decode": {"max_megapixels": 30.0}}))
    return path


def audit(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "audit", *args], capture_output=True, text=True, timeout=timeout, env=ray_env())


def rows_of(out: Path) -> list[dict[str, Any]]:
    return ResultStore(out).read().to_pylist()


def make_collection(root: Path, sheets: list[Path], copies: int = 1) -> list[Path]:
    """`copies` of each sheet in two boxes; returns the frame files."""
    files = []
    for i in range(copies):
        for j, sheet in enumerate(sheets):
            box = root / ("box1" if j % 2 == 0 else "box2")
            box.mkdir(parents=True, exist_ok=True)
            files.append(box / f"{sheet.stem}-{i:03d}.jpg")
            shutil.copyfile(sheet, files[-1])
    return files


@pytest.fixture(scope="module")
def local_audit(tmp_path_factory: pytest.TempPathFactory, sheets: list[Path],
                config: Path) -> tuple[subprocess.CompletedProcess[str], Path, list[Path]]:
    """One audit with two local workers over good sheets, the daemon tests' bad inputs and files a
    hot folder ignores."""
    root = tmp_path_factory.mktemp("collection")
    src = root / "museum"
    files = make_collection(src, sheets)
    bad = src / "box2"
    good = sheets[0].read_bytes()
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (bad / "notimage.png").write_bytes(b"hello, I am text")
    cv2.imwrite(str(bad / "huge.png"), np.zeros((6000, 5500), np.uint8))  # 33 MP > 30 MP limit
    os.symlink(root / "gone.jpg", bad / "dangling.jpg")
    os.symlink(sheets[1], src / "box1" / "link.jpg")  # a link to a frame elsewhere is judged as that frame
    files += [bad / name for name in sorted(BAD_INPUTS)] + [src / "box1" / "link.jpg"]
    # a capture-sized frame the bundled model accepts (tests/test_demo_samples.py)
    files.append(src / "box1" / ACCEPTED_SAMPLE.name)
    shutil.copyfile(ACCEPTED_SAMPLE, files[-1])
    # what a hot folder ignores is not a frame here either
    (bad / "folder.jpg").mkdir()
    (bad / ".hidden.jpg").write_bytes(good)
    (bad / "copy.jpg.tmp").write_bytes(good)
    (src / "CaptureOne").mkdir()
    (src / "CaptureOne" / "preview.jpg").write_bytes(good)
    out = root / "out"
    p = audit(str(src), "--out", str(out), "--workers", "2", "--batch-size", "2", "--config", str(config))
    return p, out, files


def test_local_audit_rows_equal_check_json(local_audit: tuple[subprocess.CompletedProcess[str], Path, list[Path]],
                                           config: Path) -> None:
    p, out, files = local_audit
    assert p.returncode == 0, p.stderr
    rows = {r["path"]: r for r in rows_of(out)}
    assert sorted(rows) == sorted(str(f) for f in files)  # one row per frame, nothing else
    assert len({r["worker"] for r in rows.values()}) == 2  # both workers judged frames
    check = subprocess.run([*CLI, "check", "--json", "--no-progress", "--config", str(config), *map(str, files)],
                           capture_output=True, text=True, timeout=240)
    verdicts = [json.loads(line) for line in check.stdout.splitlines()]
    # `check` reports a file that is gone on stderr with no verdict; the audit gives it an error row
    assert {f.name for f in files if str(f) not in {v["file"] for v in verdicts}} == {"dangling.jpg"}
    assert len(verdicts) == len(files) - 1
    for expected in verdicts:
        row = rows[expected["file"]]
        stored = json.loads(row["verdict_json"])
        assert row["verdict"] == stored["verdict"] == expected["verdict"], expected["file"]
        assert [(r["check"], r["message"]) for r in stored["reasons"]] == \
               [(r["check"], r["message"]) for r in expected["reasons"]], expected["file"]
        assert row["reasons"] == [r["check"] for r in expected["reasons"]]
        assert [c["status"] for c in stored["checks"]] == [c["status"] for c in expected["checks"]]
        assert [r["class"] for r in stored["regions"]] == [r["class"] for r in expected["regions"]]
        assert row["sha256"] == expected["sha256"]
        assert row["model_sha256"] == expected["model"]["sha256"]
        # plain datetimes (no pandas needed to read rows), to the microsecond of the file's mtime
        mtime_us = Path(expected["file"]).stat().st_mtime_ns // 1000
        assert row["mtime"] == datetime.fromtimestamp(0, timezone.utc) + timedelta(microseconds=mtime_us)
    assert {v["verdict"] for v in verdicts} == {"accept", "retake", "error"}


def test_bad_inputs_give_error_rows_and_the_job_succeeds(
        local_audit: tuple[subprocess.CompletedProcess[str], Path, list[Path]]) -> None:
    p, out, files = local_audit
    assert p.returncode == 0, p.stderr
    rows = {Path(r["path"]).name: r for r in rows_of(out)}
    for name in BAD_INPUTS:
        assert rows[name]["verdict"] == "error" and rows[name]["reasons"] == ["readable"], name
    assert "empty" in rows["empty.jpg"]["failing"][0]["message"]
    assert "truncated" in rows["truncated.jpg"]["failing"][0]["message"]
    assert "limit" in rows["huge.png"]["failing"][0]["message"]
    assert "no such file" in rows["dangling.jpg"]["failing"][0]["message"]
    assert rows["link.jpg"]["verdict"] != "error"
    assert not {"folder.jpg", ".hidden.jpg", "copy.jpg.tmp", "preview.jpg"} & set(rows)


def test_summary_and_stored_verdicts(local_audit: tuple[subprocess.CompletedProcess[str], Path, list[Path]]) -> None:
    p, out, files = local_audit
    rows = rows_of(out)
    markdown = (out / "summary.md").read_text()
    page = (out / "summary.html").read_text()
    errors = sum(r["verdict"] == "error" for r in rows)
    assert f"| error | {errors} |" in markdown
    assert "| museum/box1 |" in markdown and "| museum/box2 |" in markdown
    # one page, nothing loaded from elsewhere: the bar charts are inline SVG
    assert page.count("<svg") == 2 and "<script" not in page and "src=" not in page and "href=" not in page
    worst = next(r for r in rows if r["verdict"] == "retake")
    assert worst["path"] in markdown and worst["path"] in page
    # any row's verdict, as `check --json` prints it
    shown = subprocess.run([*CLI, "audit", "--out", str(out), "--show", worst["path"]], capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0 and json.loads(shown.stdout) == json.loads(worst["verdict_json"])
    # a second run into the same folder must say what it would do
    again = audit(str(files[0]), "--out", str(out))
    assert again.returncode == 2 and "--resume" in again.stderr


def test_resume_after_interrupt_judges_the_rest_once(tmp_path: Path, sheets: list[Path], config: Path) -> None:
    files = make_collection(tmp_path / "src", sheets, copies=4)
    out = tmp_path / "out"
    args = [str(tmp_path / "src"), "--out", str(out), "--config", str(config), "--workers", "1", "--batch-size", "1"]
    first = subprocess.Popen([*CLI, "audit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=ray_env(), start_new_session=True)
    try:
        parts = out / "parts"
        assert wait_for(lambda: parts.is_dir() and len(list(parts.glob("*.parquet"))) >= 4, 120)
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode == 130, stderr
    assert "--resume" in stderr
    judged_first = {r["path"]: r for r in rows_of(out)}
    assert 4 <= len(judged_first) < len(files)
    assert not ResultStore(out).part_files()  # merged into the run's results file on the way out

    second = audit(*args, "--resume")
    assert second.returncode == 0, second.stderr
    assert f"{len(judged_first)} already judged, {len(files) - len(judged_first)} to judge" in second.stderr
    rows = rows_of(out)
    assert sorted(r["path"] for r in rows) == sorted(map(str, files))  # every frame once
    for row in rows:
        if row["path"] in judged_first:
            assert row["run"] == judged_first[row["path"]]["run"]  # not judged again

    # a file changed since is judged again, and only its newest row counts
    changed = files[0]
    shutil.copyfile(sheets[2], changed)
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = audit(*args, "--resume")
    assert third.returncode == 0, third.stderr
    assert f"{len(files) - 1} already judged, 1 to judge" in third.stderr
    latest = ResultStore(out).latest(["path", "sha256"]).to_pylist()
    assert len(latest) == len(files)
    newest = {r["path"]: r for r in latest}[str(changed)]
    assert newest["sha256"] == hashlib.sha256(changed.read_bytes()).hexdigest() != hashlib.sha256(
        sheets[0].read_bytes()).hexdigest()


def test_a_killed_worker_is_replaced_and_its_batch_judged_again(tmp_path: Path, sheets: list[Path],
                                                                 config: Path) -> None:
    files = make_collection(tmp_path / "src", sheets, copies=6)
    out = tmp_path / "out"
    job = subprocess.Popen([*CLI, "audit", str(tmp_path / "src"), "--out", str(out), "--workers", "2",
                            "--batch-size", "2", "--config", str(config)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ray_env(),
                           start_new_session=True)
    try:
        parts = out / "parts"
        assert wait_for(lambda: parts.is_dir() and len(list(parts.glob("*.parquet"))) >= 2, 120), job.stderr
        # the process name is cut to 15 characters: "ray::RayAuditWo..."
        assert wait_for(lambda: len(descendants(job.pid, "ray::RayAudit")) == 2, 30)
        workers = descendants(job.pid, "ray::RayAudit")
        os.kill(workers[0], signal.SIGKILL)
        judged_before = sum(pq.read_metadata(p).num_rows for p in parts.glob("*.parquet"))
        assert judged_before <= len(files) - 8  # it died with work in hand and more to come
        _, stderr = job.communicate(timeout=240)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    rows = finished_with_one_row_per_frame(job, stderr, out, files)
    assert len({r["worker"] for r in rows}) == 3  # the two first workers and the one that replaced the killed


def finished_with_one_row_per_frame(job: subprocess.Popen[str], stderr: str, out: Path,
                                    files: list[Path]) -> list[dict[str, Any]]:
    """The job's rows, after checking it succeeded with exactly one row per frame and no error rows."""
    assert job.returncode == 0, stderr
    rows = rows_of(out)
    assert sorted(r["path"] for r in rows) == sorted(map(str, files))
    assert not [r for r in rows if r["verdict"] == "error"]
    return rows


@pytest.fixture
def cluster() -> Iterator[LoopbackCluster]:
    c = LoopbackCluster()
    try:
        yield c
    finally:
        c.stop()


def test_two_node_cluster_survives_a_dead_node(tmp_path: Path, sheets: list[Path], config: Path,
                                               cluster: LoopbackCluster) -> None:
    cluster.start_head(num_cpus=2, resources='{"head_node": 1}')
    second = cluster.add_node(num_cpus=1, resources='{"second_node": 1}')
    files = make_collection(tmp_path / "src", sheets, copies=16)
    out = tmp_path / "out"
    job = subprocess.Popen([*CLI, "audit", str(tmp_path / "src"), "--out", str(out), "--ray", cluster.address,
                            "--workers", "2", "--batch-size", "1", "--config", str(config)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ray_env(),
                           start_new_session=True)
    try:
        parts = out / "parts"

        def nodes_seen() -> set[str]:
            found: set[str] = set()
            for part in list(parts.glob("*.parquet")) if parts.is_dir() else []:
                try:
                    found |= set(pq.read_table(part, columns=["node"]).column("node").to_pylist())
                except OSError:
                    continue
            return found

        assert wait_for(lambda: len(nodes_seen()) == 2, 120), job.stderr
        raylet = second.child("raylet")
        assert raylet is not None
        os.kill(raylet, signal.SIGKILL)
        judged_before = sum(pq.read_metadata(p).num_rows for p in parts.glob("*.parquet"))
        assert judged_before < len(files) // 2  # the node died with most of the work still to do
        _, stderr = job.communicate(timeout=240)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    rows = finished_with_one_row_per_frame(job, stderr, out, files)  # the dead node's batches were redone
    assert len({r["node"] for r in rows}) == 2  # both nodes took work


def test_workers_that_cannot_start_stop_the_job_with_the_reason(tmp_path: Path, sheets: list[Path]) -> None:
    config = tmp_path / "station.yaml"
    config.write_text(yaml.safe_dump({"segmenter": {"model": str(tmp_path / "absent.onnx")}}))
    p = audit(str(sheets[0]), "--out", str(tmp_path / "out"), "--workers", "1", "--config", str(config), timeout=120)
    assert p.returncode == 1, p.stderr
    assert "workers could not start" in p.stderr and "absent.onnx" in p.stderr and "Traceback" not in p.stderr


def test_sources_folder_list_and_glob(tmp_path: Path, sheets: list[Path]) -> None:
    watch = load_settings().watch
    files = make_collection(tmp_path / "col", sheets[:2])
    listing = tmp_path / "frames.txt"
    listing.write_text(f"# frames\n\ncol/box1/{files[0].name}\n{files[1]}\n")
    assert [f.path for f in expand_sources([str(listing)], watch)] == [str(files[0]), str(files[1])]
    by_glob = expand_sources([str(tmp_path / "col" / "**" / "*.jpg")], watch)
    assert sorted(f.path for f in by_glob) == sorted(map(str, files))
    by_folder = expand_sources([str(tmp_path / "col"), str(files[0])], watch)  # each frame once
    assert sorted(f.path for f in by_folder) == sorted(map(str, files))
    assert {f.folder for f in by_folder} == {"col/box1", "col/box2"}
    assert all((f.size, f.mtime_ns) == (Path(f.path).stat().st_size, Path(f.path).stat().st_mtime_ns)
               for f in by_folder)
    with pytest.raises(SourceError):
        expand_sources([str(tmp_path / "absent")], watch)
    with pytest.raises(SourceError):
        expand_sources([str(tmp_path / "*.tif")], watch)
    (tmp_path / "scan.bmp").write_bytes(bytes(range(256)))  # not a frame, not a list
    with pytest.raises(SourceError, match="nor a list of paths"):
        expand_sources([str(tmp_path / "scan.bmp")], watch)


def _verdict(path: str, verdict: str, reasons: list[str], processed_at: str) -> dict[str, Any]:
    return {"file": path, "sha256": "0" * 64, "verdict": verdict, "processed_at": processed_at, "width": 10,
            "height": 10, "profile": "herbarium_sheet", "regions": [{"class": "label"}], "barcodes": [],
            "reasons": [{"check": r, "status": "fail", "message": f"{r} failed", "value": 1.5} for r in reasons],
            "checks": [], "model": {"name": "m", "sha256": "1" * 64, "backend": "onnxruntime", "device": "cpu"},
            "timings_ms": {"total": 1.0}}


def test_store_merges_parts_once_and_keeps_the_newest_row_of_a_changed_file(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    old = Frame("/c/a.jpg", 10, 1_000, "c")
    new = Frame("/c/a.jpg", 12, 2_000, "c")
    other = Frame("/c/b.jpg", 10, 1_000, "c")
    first = [verdict_row(old, _verdict(old.path, "retake", ["blur"], "2026-01-01T00:00:00.000Z"), node="n",
                         worker="w", run="r1"),
             verdict_row(other, _verdict(other.path, "accept", [], "2026-01-01T00:00:00.000Z"), node="n",
                         worker="w", run="r1")]
    store.write_part(rows_table(first), "r1", 1)
    store.merge_parts("r1")
    # a crash after the merge but before the parts were removed leaves a copy behind
    store.write_part(rows_table(first[:1]), "r1", 1)
    store.write_part(rows_table([verdict_row(new, _verdict(new.path, "accept", [], "2026-02-01T00:00:00.000Z"),
                                             node="n", worker="w", run="r2")]), "r2", 1)
    store.merge_parts("r2")
    assert store.read().num_rows == 3
    assert store.judged() == {old.identity, new.identity, other.identity}
    latest = store.latest(["path", "verdict", "size"]).to_pylist()
    assert latest == [{"path": "/c/a.jpg", "verdict": "accept", "size": 12},
                      {"path": "/c/b.jpg", "verdict": "accept", "size": 10}]
    summary = summarise(store)
    assert summary.frames == 2 and summary.verdicts == {"accept": 2}
    assert "| accept | 2 | 100.0 % |" in to_markdown(summary) and "<svg" in to_html(summary)


def test_a_batch_that_keeps_failing_is_split_and_only_the_frame_that_fails_alone_gets_an_error_row() -> None:
    settings = load_settings()
    model = ModelInfo("m", "1" * 64, "onnxruntime", "cpu")
    frames = [Frame(f"/c/{n}.jpg", 10, 1, "c") for n in "abc"]
    queue: deque[Batch] = deque()
    batch = Batch(list(frames), tries=1)
    assert retry_or_give_up(batch, RayError(), queue, settings, model, "r") == [] and list(queue) == [batch]
    batch = queue.popleft()
    batch.tries += 1  # submitted again, failed again: its frames are tried one by one
    assert retry_or_give_up(batch, RayError(), queue, settings, model, "r") == []
    assert [b.frames for b in queue] == [[f] for f in frames]
    alone = queue.popleft()
    alone.tries += 1
    (row,) = retry_or_give_up(alone, RayError(), queue, settings, model, "r")
    assert row["path"] == "/c/a.jpg" and row["verdict"] == "error" and row["reasons"] == ["readable"]
    assert "worker stopped" in row["failing"][0]["message"] and len(queue) == 2


def test_station_never_imports_ray_and_audit_names_the_missing_extra(tmp_path: Path) -> None:
    code = ("import sys; import edge.cli, edge.daemon; "
            "sys.exit(1 if {'ray', 'pyarrow'} & set(sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
    # an installation without the extra: `ray` and `pyarrow` cannot be imported
    code = ("import sys; sys.modules['ray'] = None; sys.modules['pyarrow'] = None; from edge.cli import main; "
            f"sys.exit(main(['audit', {str(tmp_path)!r}, '--out', {str(tmp_path / 'out')!r}]))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "pip install 'specimen-edge[audit]'" in p.stderr
