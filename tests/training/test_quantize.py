"""INT8 quantisation of the bundled segmenter: a QDQ model ONNX Runtime runs, agreeing with the float one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml

from edge.config import Settings
from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas
from edge.segmentation.model_card import file_sha256
from edge.segmentation.registry import create_segmenter
from tests.frames import draw_sheet
from training.quantize import quantize, write_card

REPO = Path(__file__).resolve().parents[2]
CARD_PATH = REPO / "engines" / "segmenter.yaml"
HEAD = "/head/Conv"  # the 1 x 1 convolution that gives the class scores


@pytest.fixture(scope="module")
def card() -> dict:
    return yaml.safe_load(CARD_PATH.read_text())


@pytest.fixture(scope="module")
def calibration_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("calibration")
    paths = []
    for i, (w, h) in enumerate([(1200, 1800), (1800, 1200), (1000, 1500), (1500, 1000)]):
        path = folder / f"{i}.png"
        cv2.imwrite(str(path), draw_sheet(w, h, chart=i % 2 == 0))
        paths.append(path)
    return paths


def _classes(model: Path, image: np.ndarray, card: dict) -> np.ndarray:
    hw = (card["input"]["height"], card["input"]["width"])
    canvas, _ = place_on_canvas(image, hw)
    tensor = canvas_to_tensor(canvas, tuple(card["input"]["mean"]), tuple(card["input"]["std"]))
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    logits = session.run([card["output"]["name"]], {card["input"]["name"]: tensor})[0]
    assert logits.shape == tuple(card["output"]["shape"])
    return np.asarray(logits[0].argmax(axis=0))


def test_int8_model_runs_with_the_same_contract_and_agrees_with_the_float_one(
        tmp_path: Path, card: dict, calibration_images: list[Path]) -> None:
    bundled = CARD_PATH.parent / card["file"]
    out = quantize(bundled, tmp_path / "int8.onnx", calibration_images, card, keep_float=(HEAD,))
    graph = onnx.load(str(out)).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("QuantizeLinear") > 10 and ops.count("DequantizeLinear") > 10
    assert [i.name for i in graph.input] == [card["input"]["name"]]
    assert [o.name for o in graph.output] == [card["output"]["name"]]
    # the node kept in float reads its weights straight from a float initialiser, the others through DQ
    weights = {init.name: init for init in graph.initializer}
    produced_by = {o: n.op_type for n in graph.node for o in n.output}
    convs = {n.name: n for n in graph.node if n.op_type == "Conv"}
    assert convs[HEAD].input[1] in weights and weights[convs[HEAD].input[1]].data_type == onnx.TensorProto.FLOAT
    assert produced_by.get(convs["/stem/stem.0/stem.0.0/Conv"].input[1]) == "DequantizeLinear"
    assert out.stat().st_size < 0.5 * bundled.stat().st_size  # 8-bit weights

    sheet = draw_sheet(1300, 1900, chart=True)  # not one of the calibration frames
    int8, float32 = _classes(out, sheet, card), _classes(bundled, sheet, card)
    foreground = float32 > 0  # where the classes are; background alone would agree anyway
    assert foreground.mean() > 0.05
    assert (int8 == float32)[foreground].mean() > 0.95


def test_a_station_runs_the_int8_model_from_its_own_card(
        tmp_path: Path, card: dict, calibration_images: list[Path], station: Callable[..., Settings]) -> None:
    out = quantize(CARD_PATH.parent / card["file"], tmp_path / "int8.onnx", calibration_images, card)
    card_path = write_card(card, out, {"ranges": "minmax"})
    written = yaml.safe_load(card_path.read_text())
    assert written["file"] == "int8.onnx" and written["sha256"] == file_sha256(out)
    assert written["version"] == f"{card['version']}+int8" and "evaluation" not in written
    assert written["input"] == card["input"] and written["classes"] == card["classes"]
    segmenter = create_segmenter(station(segmenter={"model": str(out), "backend": "onnxruntime"}).segmenter)
    try:
        seg = segmenter.segment(draw_sheet(1200, 1800))
    finally:
        segmenter.close()
    assert seg.classes.shape == (192, 128) and (seg.classes == 5).sum() > 20  # the drawn chart


def test_quantising_without_calibration_images_is_refused(tmp_path: Path, card: dict) -> None:
    with pytest.raises(ValueError, match="no calibration images"):
        quantize(CARD_PATH.parent / card["file"], tmp_path / "int8.onnx", [], card)
