"""Training on a chosen device and with batches prepared in worker processes, on a tiny sample cache.

Only the CPU path runs here; the CUDA path is exercised on a GPU machine by training/device_run.sh.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from tests.tiny_training import CANVAS, run_tiny_training, write_tiny_cache  # noqa: E402
from training.dataset import (  # noqa: E402
    TRAIN_SEED_BASE,
    VALIDATION_SEED_BASE,
    cached_seeds,
)
from training.train import (  # noqa: E402
    EpochBatches,
    augmented_samples,
    batches,
    loader_batches,
    main,
    normalisation_table,
    resolve_device,
    to_batch,
    uint8_to_batch,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training" / "device_run.sh"
CROP = (64, 64)


def test_auto_device_is_cpu_without_a_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(SystemExit, match="no CUDA device"):
        resolve_device("cuda")


@pytest.mark.parametrize("crop", [CROP, None])
def test_worker_batches_match_in_process_batches(tmp_path: Path, crop: tuple[int, int] | None) -> None:
    folder = write_tiny_cache(tmp_path, TRAIN_SEED_BASE, 10)
    seeds = cached_seeds(folder, range(TRAIN_SEED_BASE, TRAIN_SEED_BASE + 10))
    local = list(batches(folder, seeds, 4, crop, np.random.default_rng(0)))
    two = list(loader_batches(folder, seeds, 4, crop, np.random.default_rng(0), workers=2))
    one = list(loader_batches(folder, seeds, 4, crop, np.random.default_rng(0), workers=1))
    assert len(local) == len(two) == len(one) == 2  # 10 samples, batches of 4: the remainder is dropped
    hw = crop or CANVAS
    for (xl, yl), (xw, yw) in zip(local, two, strict=True):
        assert xw.shape == xl.shape == (4, 3, *hw) and xw.dtype == xl.dtype == torch.float32
        assert yw.shape == yl.shape == (4, *hw) and yw.dtype == yl.dtype == torch.int64
    # Each batch has its own seeded generator: the same batches for any number of workers.
    for (x1, y1), (x2, y2) in zip(one, two, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_uint8_batches_normalise_exactly_as_to_batch(tmp_path: Path) -> None:
    folder = write_tiny_cache(tmp_path, TRAIN_SEED_BASE, 4)
    epoch = EpochBatches(folder, list(range(4)), 4, CROP, np.random.default_rng(3))
    images, masks = epoch[0]
    assert images.dtype == masks.dtype == torch.uint8 and images.shape == (4, *CROP, 3)
    x, y = uint8_to_batch(images, masks, normalisation_table())
    ref_x, ref_y = to_batch(*augmented_samples(folder, epoch.groups[0], CROP, epoch.generator(0)))
    assert torch.equal(x, ref_x) and torch.equal(y, ref_y)


def test_cpu_training_with_loader_workers_gives_an_exportable_checkpoint(tmp_path: Path) -> None:
    from training.export import export_onnx
    from training.model import load_checkpoint

    cache, out = tmp_path / "cache", tmp_path / "run"
    write_tiny_cache(cache, TRAIN_SEED_BASE, 8)
    write_tiny_cache(cache, VALIDATION_SEED_BASE, 2)
    main(
        [
            "--cache", str(cache), "--samples", "8", "--val-samples", "2", "--canvas", "128x96",
            "--crop", "64x64", "--epochs", "1", "--full-epochs", "1", "--batch", "4", "--full-batch", "4",
            "--width", "16", "--workers", "1", "--threads", "1", "--device", "cpu", "--loader-workers", "2",
            "--out", str(out),
        ]
    )  # fmt: skip
    info = json.loads((out / "train_info.json").read_text())
    assert info["device"] == "cpu" and "gpu" not in info
    assert info["loader_workers"] == 2 and info["amp"] is False
    assert info["steps"] == 4 and info["epochs_run"] == 2
    ckpt = torch.load(out / "last.pt", map_location="cpu")
    assert all(t.device.type == "cpu" for t in ckpt["model"].values())
    model = load_checkpoint(out / "last.pt")
    export_onnx(model, tmp_path / "tiny.onnx", 128, 96)
    assert (tmp_path / "tiny.onnx").stat().st_size > 0


def test_training_also_draws_from_a_further_cache(tmp_path: Path) -> None:
    # an earlier generator's cache, with its own seed base, is trained on beside the generator's own
    cache, out = tmp_path / "cache", tmp_path / "run"
    write_tiny_cache(cache, TRAIN_SEED_BASE, 8)
    write_tiny_cache(cache, VALIDATION_SEED_BASE, 2)
    earlier = write_tiny_cache(tmp_path / "earlier", 30_000_000, 4)
    (earlier / "30000009.tmp.png").write_bytes(b"")  # a killed write is no sample
    args = [
        "--cache", str(cache), "--samples", "8", "--val-samples", "2", "--canvas", "128x96",
        "--crop", "64x64", "--epochs", "1", "--full-epochs", "1", "--full-samples", "4", "--batch", "4",
        "--full-batch", "4", "--width", "16", "--workers", "1", "--threads", "1",
        "--also-cache", str(earlier), "--out", str(out),
    ]  # fmt: skip
    main(args)
    info = json.loads((out / "train_info.json").read_text())
    assert info["samples"] == 12 and info["steps"] == 3 + 1 and info["also_caches"] == {earlier.name: 4}
    links = sorted(p.name for p in (out / "mixed_samples").iterdir())
    assert len(links) == 24 and "30000003.mask.png" in links
    assert (out / "mixed_samples" / "30000000.png").resolve() == (earlier / "30000000.png").resolve()
    # the checkpoint loads as the export loads it (weights only: no paths inside)
    from training.model import load_checkpoint

    assert load_checkpoint(out / "last.pt") is not None
    # caches whose seeds overlap are refused: one sample would hide another
    clash = write_tiny_cache(tmp_path / "clash", TRAIN_SEED_BASE, 2)
    with pytest.raises(SystemExit, match="seed 0 is also in another cache"):
        main([*args[:-4], "--also-cache", str(clash), "--out", str(tmp_path / "run2")])


def test_training_on_one_kind_of_scene_reads_that_kinds_cache_and_records_it(tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "run"
    slides = write_tiny_cache(cache, TRAIN_SEED_BASE, 4, kind="microscope_slide")
    write_tiny_cache(cache, VALIDATION_SEED_BASE, 2, kind="microscope_slide")
    args = [
        "--cache", str(cache), "--kind", "microscope_slide", "--samples", "4", "--val-samples", "2",
        "--canvas", "128x96", "--crop", "64x64", "--epochs", "1", "--full-epochs", "0", "--batch", "4",
        "--width", "16", "--workers", "1", "--threads", "1", "--out", str(out),
    ]  # fmt: skip
    main(args)
    info = json.loads((out / "train_info.json").read_text())
    assert info["kind"] == "microscope_slide" and info["samples"] == 4 and info["steps"] == 1
    # only the slide cache was there: the mixed cache's folder was never made or filled
    assert sorted(p.name for p in cache.iterdir()) == sorted([slides.name, slides.name.replace("_s0_", "_s10000000_")])


def test_device_script_parses() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_device_script_refuses_without_cuda(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    env = os.environ | {
        "PYTHON": sys.executable,
        "OUT": str(tmp_path / "out"),
        "WHEELS": str(tmp_path / "no-wheels"),
    }
    run = subprocess.run(["bash", str(SCRIPT), "1"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "REFUSED" in run.stdout + run.stderr and "no CUDA device" in run.stdout + run.stderr
    assert "REFUSED" in (tmp_path / "out" / "device_run.log").read_text()
    assert not (tmp_path / "out" / "last.pt").exists()


def test_a_frozen_encoder_keeps_its_weights_and_statistics_while_the_decoder_learns(tmp_path: Path) -> None:
    from training.model import build_model, load_checkpoint
    from training.train import ENCODER_MODULES

    start = build_model(16)
    out = run_tiny_training(tmp_path, start, 16, "--freeze-encoder")
    before, after = start.state_dict(), load_checkpoint(out / "last.pt").state_dict()
    encoder = [k for k in before if k.split(".")[0] in ENCODER_MODULES]
    rest = [k for k in before if k.split(".")[0] not in ENCODER_MODULES and before[k].is_floating_point()]
    assert encoder and rest
    # weights and batch-norm running statistics of the encoder alike
    assert all(torch.equal(before[k], after[k]) for k in encoder)
    assert any(not torch.equal(before[k], after[k]) for k in rest)
    assert json.loads((out / "train_info.json").read_text())["frozen"] == list(ENCODER_MODULES)
