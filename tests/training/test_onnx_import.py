"""Fine-tuning starts from the shipped model: the folded ONNX graph loads back into PyTorch exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "engines" / "segmenter.onnx"


def test_bundled_model_loads_back_and_matches_onnx_runtime_in_both_modes() -> None:
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from training.model import build_model
    from training.onnx_import import load_folded_onnx

    torch.manual_seed(0)
    model = build_model(width=32)
    calibration = torch.randn(4, 3, 768, 512)
    load_folded_onnx(model, BUNDLED, calibration)
    session = ort.InferenceSession(str(BUNDLED), providers=["CPUExecutionProvider"])

    probe = torch.randn(1, 3, 768, 512)
    expected = session.run(None, {session.get_inputs()[0].name: probe.numpy()})[0]
    with torch.no_grad():
        got = model.eval()(probe).numpy()
    assert float(np.abs(got - expected).max()) < 1e-3
    assert float(np.abs(expected).max()) > 0.5  # the comparison is not between two near-zero maps

    # Train mode normalises with batch statistics; after re-calibration it starts where the export was.
    expected_batch = np.concatenate(
        [session.run(None, {session.get_inputs()[0].name: calibration[i : i + 1].numpy()})[0] for i in range(4)]
    )
    with torch.no_grad():
        got_batch = model.train()(calibration).numpy()
    assert float(np.abs(got_batch - expected_batch).max()) < 1e-3


def test_a_model_of_another_width_is_refused() -> None:
    torch = pytest.importorskip("torch")
    from training.model import build_model
    from training.onnx_import import load_folded_onnx

    with pytest.raises(ValueError, match="does not fit"):
        load_folded_onnx(build_model(width=16), BUNDLED, torch.randn(1, 3, 768, 512))


def test_a_fine_tune_records_the_card_history_of_the_model_it_started_from(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import json

    import yaml

    from training.export import training_summary
    from training.train import previous_training_record

    card = {
        "name": "specimen-edge-segmenter",
        "version": "1.0.0",
        "training": {"command": "python -m training.train --out runs/a", "wall_minutes": 12.5,
                     "final_val_fg_miou": 0.67, "initialised_from": {"command": "x", "wall_minutes": 40.0}},
    }
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(card))
    record = previous_training_record(tmp_path / "m.onnx")
    assert record["model"] == "specimen-edge-segmenter 1.0.0"

    run = tmp_path / "runs" / "b"
    run.mkdir(parents=True)
    info = {"command": f"python -m training.train --init {tmp_path}/m.onnx --out {run}", "wall_minutes": 60.0,
            "history": [{"val_fg_miou": 0.7}], "initialised_from": record}
    (run / "train_info.json").write_text(json.dumps(info))
    summary = training_summary(run / "train_info.json")
    assert summary["final_val_fg_miou"] == 0.7
    assert summary["initialised_from"]["model"] == "specimen-edge-segmenter 1.0.0"
    assert summary["initialised_from"]["final_val_fg_miou"] == 0.67
    assert summary["total_wall_minutes_all_stages"] == 112.5
    assert str(tmp_path) not in summary["command"]  # the card names no machine's folders
