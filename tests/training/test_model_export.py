"""The bundled segmenter matches its card, and the export path reproduces PyTorch in ONNX Runtime."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CARD = REPO / "engines" / "segmenter.yaml"


@pytest.fixture(scope="module")
def card() -> dict:
    return yaml.safe_load(CARD.read_text())


@pytest.fixture(scope="module")
def bundled(card: dict) -> onnx.ModelProto:
    return onnx.load(str(CARD.parent / card["file"]))


def test_export_matches_pytorch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from tests.tiny_training import with_random_batch_norms
    from training.export import export_onnx
    from training.model import OUTPUT_STRIDE

    # Random batch-norm statistics, so folding them into the convs is actually exercised.
    model = with_random_batch_norms(16)
    path = tmp_path / "tiny.onnx"
    export_onnx(model, path, 128, 96)
    graph = onnx.load(str(path))
    assert not [n for n in graph.graph.node if n.op_type == "BatchNormalization"]
    x = np.random.default_rng(1).standard_normal((1, 3, 128, 96)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["logits"], {"image": x})[0]
    assert out.shape == (1, 8, 128 // OUTPUT_STRIDE, 96 // OUTPUT_STRIDE)
    assert float(np.abs(out - ref).max()) < 1e-3


def test_card_sha256_matches_bundled_file(card: dict) -> None:
    data = (CARD.parent / card["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == card["sha256"]


def test_bundled_io_names_and_static_shape(card: dict, bundled: onnx.ModelProto) -> None:
    (inp,) = bundled.graph.input
    (out,) = bundled.graph.output
    assert inp.name == card["input"]["name"]
    assert out.name == card["output"]["name"]
    in_dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_value if d.HasField("dim_value") else None for d in out.type.tensor_type.shape.dim]
    assert in_dims == [1, 3, card["input"]["height"], card["input"]["width"]]
    stride = card["output"]["stride"]
    assert out_dims == [
        1,
        len(card["classes"]),
        card["input"]["height"] // stride,
        card["input"]["width"] // stride,
    ]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_bundled_opset_and_folded_batch_norm(bundled: onnx.ModelProto) -> None:
    default = [o.version for o in bundled.opset_import if o.domain in ("", "ai.onnx")]
    assert default and default[0] >= 17
    assert not [n for n in bundled.graph.node if n.op_type == "BatchNormalization"]


def test_card_classes_follow_class_ids(card: dict) -> None:
    from edge.classes import CLASS_NAMES

    assert tuple(card["classes"]) == CLASS_NAMES


def test_bundled_model_runs_on_a_canvas(card: dict) -> None:
    ort = pytest.importorskip("onnxruntime")
    from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas

    image = np.full((900, 600, 3), 230, np.uint8)
    canvas, _ = place_on_canvas(image, (card["input"]["height"], card["input"]["width"]))
    x = canvas_to_tensor(canvas, tuple(card["input"]["mean"]), tuple(card["input"]["std"]))
    sess = ort.InferenceSession(str(CARD.parent / card["file"]), providers=["CPUExecutionProvider"])
    (logits,) = sess.run([card["output"]["name"]], {card["input"]["name"]: x})
    assert np.isfinite(logits).all()


def test_card_records_where_each_run_trained() -> None:
    # a GPU run and the CPU run it started from: the card keeps the device of each
    pytest.importorskip("torch")  # training.export needs it
    from training.export import summarise_run

    cpu_run = {"command": "python -m training.train --seed 1", "threads": 2, "device": "cpu",
               "history": [{"val_fg_miou": 0.8}]}
    gpu_run = {"command": "python -m training.train --device cuda", "device": "cuda",
               "gpu": "NVIDIA H200", "amp": True, "loader_workers": 12, "unlisted": 1,
               "history": [{"val_fg_miou": 0.85}], "initialised_from": cpu_run}
    card = summarise_run(gpu_run)
    assert (card["device"], card["gpu"], card["amp"], card["loader_workers"]) == ("cuda", "NVIDIA H200", True, 12)
    assert "unlisted" not in card
    assert card["initialised_from"]["device"] == "cpu" and card["final_val_fg_miou"] == 0.85


def test_a_model_trained_on_one_kind_of_scene_says_so_in_its_card(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from training.export import DEFAULT_NAME, KIND_LIMITATIONS, LIMITATIONS, build_card, summarise_run

    onnx_path = tmp_path / "slides.onnx"
    onnx_path.write_bytes(b"weights")
    slides_run = summarise_run({"command": "python -m training.train --kind microscope_slide",
                                "kind": "microscope_slide", "history": [{"val_fg_miou": 0.9}]})
    card = build_card(onnx_path, tmp_path / "slides.yaml", 768, 512, 1, slides_run, "1.0.0", None,
                      name="specimen-edge-slide-segmenter")
    assert card["name"] == "specimen-edge-slide-segmenter" and card["training"]["kind"] == "microscope_slide"
    assert card["limitations"] == [*LIMITATIONS, KIND_LIMITATIONS["microscope_slide"]]
    mixed = build_card(onnx_path, tmp_path / "mixed.yaml", 768, 512, 1, summarise_run({"kind": "auto"}), "1.0.0",
                       None)
    assert mixed["name"] == DEFAULT_NAME and mixed["limitations"] == LIMITATIONS
