"""Fixtures for the TensorRT tests: a fresh simulated GPU, the toy model, settings, fake modules."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml

from edge.config import load_settings
from edge.segmentation.model_card import ModelCard, load_model_card
from edge.segmentation.settings import SegmenterSettings
from tests.tensorrt import fake_cuda_bindings, fake_device, fake_pycuda, fake_tensorrt
from tests.toy_model import CANVAS_HW, CHART_BGR, LABEL_BGR, SPECIMEN_BGR, build_toy_model
from training.fp16 import convert_fp16


@pytest.fixture(autouse=True)
def fake_gpu() -> Iterator[fake_device.State]:
    yield fake_device.reset()


@pytest.fixture
def toy_model(tmp_path: Path) -> Path:
    return build_toy_model(tmp_path / "model")


@pytest.fixture
def toy_card(toy_model: Path) -> ModelCard:
    return load_model_card(toy_model)


@pytest.fixture
def engine_dir(tmp_path: Path) -> Path:
    return tmp_path / "engines"


@pytest.fixture
def make_settings(toy_model: Path, engine_dir: Path) -> Callable[..., SegmenterSettings]:
    def make(**changes: Any) -> SegmenterSettings:
        segmenter = {"model": str(toy_model), "engine_dir": str(engine_dir), "threads": 1, **changes}
        return load_settings(None, {"segmenter": segmenter}).segmenter
    return make


@pytest.fixture
def station_config(tmp_path: Path, toy_model: Path, engine_dir: Path) -> Callable[..., Path]:
    def write(**segmenter: Any) -> Path:
        path = tmp_path / "station.yaml"
        data = {"segmenter": {"model": str(toy_model), "engine_dir": str(engine_dir), "threads": 1, **segmenter}}
        path.write_text(yaml.safe_dump(data))
        return path
    return write


@pytest.fixture
def install_trt(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    return lambda version: fake_tensorrt.install(monkeypatch, version)


@pytest.fixture
def pycuda(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return fake_pycuda.install(monkeypatch)


@pytest.fixture
def cuda_bindings(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return fake_cuda_bindings.install(monkeypatch)


@pytest.fixture
def no_pycuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pycuda", None)  # import pycuda -> ImportError
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)


def sample_image(seed: int = 0) -> np.ndarray:
    """A BGR frame with specimen, label and chart patches on noise, larger than the canvas."""
    rng = np.random.default_rng(seed)
    h, w = CANVAS_HW[0] * 2, CANVAS_HW[1] * 2
    image = rng.integers(150, 230, (h, w, 3), dtype=np.uint8)
    image[40:200, 30:120] = SPECIMEN_BGR
    image[220:300, 150:250] = LABEL_BGR
    image[300:360, 20:90] = CHART_BGR
    noise = rng.integers(-30, 30, image.shape)
    return np.clip(image.astype(np.int32) + noise, 0, 255).astype(np.uint8)


def write_fp16_copy(model: Path) -> Path:
    """What `training.export --fp16` makes: float16 weights, float32 I/O through Casts."""
    dst = model.with_suffix(".fp16.onnx")
    convert_fp16(model, dst)
    return dst
