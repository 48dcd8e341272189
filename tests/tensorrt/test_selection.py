"""backend: auto / tensorrt / onnxruntime selection, check --backend, verify-engine."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from edge.cli import main
from edge.config_files import ConfigError
from edge.segmentation import onnxruntime_backend as orb
from edge.segmentation.registry import create_segmenter
from edge.segmentation.settings import SegmenterSettings
from tests.tensorrt import fake_device
from tests.tensorrt.conftest import sample_image


def test_auto_without_tensorrt_runs_onnx_runtime(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                                 make_settings: Callable[..., SegmenterSettings]) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with caplog.at_level(logging.INFO):
        seg = create_segmenter(make_settings(backend="auto"))
    assert seg.info.backend == "onnxruntime" and seg.info.device == "cpu"
    assert "TensorRT not used" in caplog.text and "segmenter: onnxruntime on cpu" in caplog.text


def test_auto_without_a_gpu_runs_onnx_runtime(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                              make_settings: Callable[..., SegmenterSettings]) -> None:
    install_trt("10.3.0")
    fake_device.reset(gpus=[])
    assert create_segmenter(make_settings(backend="auto")).info.backend == "onnxruntime"


def test_auto_picks_tensorrt_when_the_engine_is_ready(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, station_config: Callable[..., Path],
        make_settings: Callable[..., SegmenterSettings], caplog: pytest.LogCaptureFixture) -> None:
    install_trt("10.3.0")
    with caplog.at_level(logging.WARNING):
        seg = create_segmenter(make_settings(backend="auto"))
    assert seg.info.backend == "onnxruntime"
    assert "build-engine" in caplog.text  # says how to get TensorRT
    assert main(["build-engine", "--config", str(station_config())]) == 0
    seg = create_segmenter(make_settings(backend="auto"))
    try:
        assert seg.info.backend == "tensorrt" and seg.info.device.startswith("cuda:0")
        assert seg.segment(sample_image()).classes.shape == (192, 128)
    finally:
        seg.close()


def test_backend_tensorrt_refuses_without_an_engine(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                                    make_settings: Callable[..., SegmenterSettings]) -> None:
    install_trt("10.3.0")
    with pytest.raises(ConfigError, match="no TensorRT engine for 'toy-segmenter'"):
        create_segmenter(make_settings(backend="tensorrt"))


def test_check_backend_flag(install_trt: Callable[[str], ModuleType], pycuda: ModuleType, tmp_path: Path,
                            station_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    install_trt("10.3.0")
    frame = tmp_path / "frame.jpg"
    cv2.imwrite(str(frame), sample_image())
    cfg = str(station_config())
    assert main(["check", "--config", cfg, "--backend", "tensorrt", "--json", str(frame)]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "specimen-edge build-engine" in err
    assert main(["build-engine", "--config", cfg]) == 0
    capsys.readouterr()
    main(["check", "--config", cfg, "--backend", "tensorrt", "--json", str(frame)])
    trt_line = capsys.readouterr().out.strip()
    main(["check", "--config", cfg, "--backend", "onnxruntime", "--json", str(frame)])
    ort_line = capsys.readouterr().out.strip()
    import json

    trt_v, ort_v = json.loads(trt_line), json.loads(ort_line)
    assert trt_v["model"]["backend"] == "tensorrt" and ort_v["model"]["backend"] == "onnxruntime"
    assert [r["bbox"] for r in trt_v["regions"]] == [r["bbox"] for r in ort_v["regions"]]


def test_verify_engine_prints_per_class_agreement(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, tmp_path: Path,
        station_config: Callable[..., Path], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    install_trt("10.3.0")
    frames = tmp_path / "frames"
    frames.mkdir()
    for seed in range(2):
        cv2.imwrite(str(frames / f"f{seed}.png"), sample_image(seed))
    cfg = str(station_config())
    assert main(["build-engine", "--config", cfg]) == 0
    capsys.readouterr()
    assert main(["verify-engine", "--config", cfg, str(frames)]) == 0
    out = capsys.readouterr().out
    assert "PASS: fp32 engine" in out and "f0.png" in out and "f1.png" in out
    for name in ("background", "specimen", "label", "colour_chart", "all pixels"):
        assert name in out
    # An engine that drifts by 0.01 in every logit fails the fp32 tolerance.
    from edge.segmentation.tensorrt_backend import TensorRtSegmenter

    original = TensorRtSegmenter.logits
    monkeypatch.setattr(TensorRtSegmenter, "logits", lambda self, t: original(self, t) + 0.01)
    assert main(["verify-engine", "--config", cfg, str(frames)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_verify_engine_agreement_counts() -> None:
    from edge.engine_cli import Agreement

    ref = np.zeros((1, 8, 2, 2), np.float32)
    cand = ref.copy()
    ref[0, 1, 0, 0] = 5  # pixel (0,0): specimen in the reference
    cand[0, 2, 0, 0] = 5  # ... label in the candidate
    cand[0, 1, 1, 1] = 5  # pixel (1,1): specimen only in the candidate
    a = Agreement()
    assert a.add(ref, cand) == 5.0
    assert a.total == 4 and a.same == 2 and a.percent == 50.0
    assert a.class_percent(0) == pytest.approx(100 * 2 / 3)  # background: 2 shared of 3 in either map
    assert a.class_percent(1) == 0.0 and a.class_percent(7) is None


# -- ONNX Runtime execution provider ------------------------------------------------------------

def test_cuda_provider_requested_but_absent(toy_card: Any) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime has CUDA")
    with pytest.raises(ConfigError, match="onnxruntime-gpu"):
        orb.OnnxRuntimeSegmenter(toy_card, threads=1, provider="cuda")
    assert orb.OnnxRuntimeSegmenter(toy_card, threads=1, provider="auto").info.device == "cpu"


def test_cuda_provider_order_and_fallback(toy_card: Any, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert orb.choose_providers("auto", 1) == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    assert orb.choose_providers("cpu", 1) == ["CPUExecutionProvider"]
    real = ort.InferenceSession
    requested: list[Any] = []

    class Session(real):  # type: ignore[misc, valid-type]
        def __init__(self, path: str, options: Any, providers: Any) -> None:
            requested.append(providers)
            super().__init__(path, options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "InferenceSession", Session)
    with caplog.at_level(logging.WARNING):
        seg = orb.OnnxRuntimeSegmenter(toy_card, threads=1, provider="auto", gpu=1)
    assert requested[0][0] == ("CUDAExecutionProvider", {"device_id": 1})
    assert seg.info.device == "cpu" and "did not start" in caplog.text  # CUDA libraries failed to load
    with pytest.raises(ConfigError, match="could not start its CUDA provider"):
        orb.OnnxRuntimeSegmenter(toy_card, threads=1, provider="cuda")
    monkeypatch.setattr(Session, "get_providers", lambda self: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert orb.OnnxRuntimeSegmenter(toy_card, threads=1, provider="cuda", gpu=1).info.device == "cuda:1"
