"""build-engine against the fake TensorRT of each API generation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from edge.cli import main
from edge.segmentation import tensorrt_build as trbuild
from edge.segmentation.engine_cache import EngineKey
from edge.segmentation.model_card import file_sha256
from tests.tensorrt.conftest import write_fp16_copy

VERSIONS = ["8.5.2.2", "8.6.2", "10.3.0", "11.4.0"]


def _sidecars(engine_dir: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(engine_dir.glob("*.json"))]


@pytest.mark.parametrize("version", VERSIONS)
def test_build_engine_fp32_writes_plan_sidecar_and_timing_cache(
        version: str, install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
        station_config: Callable[..., Path], engine_dir: Path, toy_model: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    trt = install_trt(version)
    cfg = station_config()
    assert main(["build-engine", "--config", str(cfg), "--workspace-gib", "1"]) == 0
    stats = trt.fake_stats  # type: ignore[attr-defined]
    explicit = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if version[0] == "8" else 0
    assert stats["network_flags"] == [explicit]
    assert stats["fp16_flag"] == [False]
    (sidecar,) = _sidecars(engine_dir)
    key = EngineKey.from_json(sidecar["key"])  # type: ignore[arg-type]
    assert key == EngineKey(file_sha256(toy_model), version, "Orin (nvgpu)", "8.7", "fp32", (1, 3, 192, 128))
    plan = engine_dir / str(sidecar["plan_file"])
    assert file_sha256(plan) == sidecar["plan_sha256"]
    assert len(list(engine_dir.glob("timing.*.cache"))) == 1
    assert not list(engine_dir.glob(".*"))  # no temp files left behind
    assert "built" in capsys.readouterr().out


@pytest.mark.parametrize("version", ["8.6.2", "10.3.0"])
def test_fp16_uses_the_builder_flag_before_tensorrt_11(
        version: str, install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
        station_config: Callable[..., Path], engine_dir: Path, toy_model: Path) -> None:
    trt = install_trt(version)
    assert main(["build-engine", "--config", str(station_config()), "--fp16"]) == 0
    assert trt.fake_stats["fp16_flag"] == [True]  # type: ignore[attr-defined]
    (sidecar,) = _sidecars(engine_dir)
    assert sidecar["key"]["precision"] == "fp16"  # type: ignore[index]
    assert sidecar["source_onnx"] == toy_model.name


def test_tensorrt_11_fp16_needs_the_float16_onnx(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, station_config: Callable[..., Path],
        engine_dir: Path, toy_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trt = install_trt("11.4.0")
    assert not hasattr(trt.BuilderFlag, "FP16")
    cfg = station_config()
    assert main(["build-engine", "--config", str(cfg), "--fp16"]) == 2
    assert "strongly typed" in capsys.readouterr().err
    # a float32 file passed explicitly would silently give an FP32 engine: refused too
    plain = toy_model.parent / "plain-copy.onnx"
    plain.write_bytes(toy_model.read_bytes())
    assert main(["build-engine", "--config", str(cfg), "--fp16", "--onnx", str(plain)]) == 2
    assert "no float16 weights" in capsys.readouterr().err
    fp16 = write_fp16_copy(toy_model)
    assert main(["build-engine", "--config", str(cfg), "--fp16"]) == 0
    (sidecar,) = _sidecars(engine_dir)
    assert sidecar["source_onnx"] == fp16.name
    assert sidecar["key"]["onnx_sha256"] == file_sha256(fp16)  # type: ignore[index]
    assert trt.fake_stats["fp16_flag"] == [False]  # type: ignore[attr-defined]


def test_existing_engine_is_kept_and_force_rebuilds_with_the_timing_cache(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, station_config: Callable[..., Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    trt = install_trt("10.3.0")
    cfg = str(station_config())
    assert main(["build-engine", "--config", cfg]) == 0
    assert main(["build-engine", "--config", cfg]) == 0
    assert "engine up to date" in capsys.readouterr().out
    assert trt.fake_stats["builds"] == 1  # type: ignore[attr-defined]
    assert main(["build-engine", "--config", cfg, "--force"]) == 0
    assert trt.fake_stats["cache_entries_loaded"] == [0, 3]  # type: ignore[attr-defined]


def test_out_dir_and_garbage_onnx(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                  station_config: Callable[..., Path], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    install_trt("10.3.0")
    cfg = str(station_config())
    out = tmp_path / "elsewhere"
    assert main(["build-engine", "--config", cfg, "--out", str(out)]) == 0
    assert len(list(out.glob("*.plan"))) == 1
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx file")
    assert main(["build-engine", "--config", cfg, "--onnx", str(garbage)]) == 1
    assert "cannot parse" in capsys.readouterr().err


def test_dynamic_input_gets_a_profile_pinned_to_the_canvas(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, tmp_path: Path) -> None:
    import onnx

    trt = install_trt("10.3.0")
    model = tmp_path / "dyn.onnx"
    from tests.toy_model import build_toy_model

    src = build_toy_model(tmp_path / "m")
    proto = onnx.load(str(src))
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(proto, str(model))
    plan = trbuild.build_serialized_engine(trt, model, fp16=False, workspace_bytes=1 << 20,
                                       input_shape=(1, 3, 192, 128))
    assert plan.startswith(b"FAKETRT")
    assert trt.fake_stats["profiles"] == [{"image": [[1, 3, 192, 128]] * 3}]  # type: ignore[attr-defined]


def test_too_old_or_missing_tensorrt_is_a_clear_error(
        install_trt: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch,
        station_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    install_trt("8.4.3")
    assert main(["build-engine", "--config", str(station_config())]) == 2
    assert "needs the named-tensor API of TensorRT 8.5" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", None)
    assert main(["build-engine", "--config", str(station_config())]) == 2
    assert "--system-site-packages" in capsys.readouterr().err


def test_no_gpu_is_a_clear_error(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                 station_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    from tests.tensorrt import fake_device

    fake_device.reset(gpus=[])
    install_trt("10.3.0")
    assert main(["build-engine", "--config", str(station_config())]) == 2
    assert "CUDA device 0 requested, 0 present" in capsys.readouterr().err


def test_a_slide_station_builds_the_engine_of_its_profiles_model(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, tmp_path: Path, engine_dir: Path) -> None:
    from edge.segmentation.model_card import bundled_model_path

    install_trt("10.3.0")
    cfg = tmp_path / "slides.yaml"
    cfg.write_text(f"profile: microscope_slide\nsegmenter:\n  engine_dir: {engine_dir}\n  threads: 1\n")
    assert main(["build-engine", "--config", str(cfg)]) == 0
    (sidecar,) = _sidecars(engine_dir)
    key = EngineKey.from_json(sidecar["key"])  # type: ignore[arg-type]
    assert key.onnx_sha256 == file_sha256(bundled_model_path("segmenter-slides.onnx"))
    assert key.onnx_sha256 != file_sha256(bundled_model_path())
