"""Engine cache key, sidecar, lookup and mismatch messages (no TensorRT involved)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from edge.config_files import ConfigError
from edge.segmentation import engine_cache as ec
from edge.segmentation.model_card import ModelCard
from tests.tensorrt.conftest import write_fp16_copy

KEY = ec.EngineKey(onnx_sha256="a" * 64, tensorrt_version="10.3.0", gpu_name="Orin (nvgpu)",
                   compute_capability="8.7", precision="fp16", input_shape=(1, 3, 768, 512))


def test_digest_is_stable_and_covers_every_field() -> None:
    assert KEY.digest() == ec.EngineKey.from_json(json.loads(json.dumps(KEY.to_json()))).digest()
    variants = [replace(KEY, onnx_sha256="b" * 64), replace(KEY, tensorrt_version="10.3.1"),
                replace(KEY, gpu_name="NVIDIA A100"), replace(KEY, compute_capability="8.0"),
                replace(KEY, precision="fp32"), replace(KEY, input_shape=(1, 3, 1024, 672))]
    digests = {KEY.digest(), *(v.digest() for v in variants)}
    assert len(digests) == 7


def test_differences_name_each_field() -> None:
    other = replace(KEY, tensorrt_version="8.6.2", input_shape=(1, 3, 512, 512))
    lines = other.differences(KEY)
    assert lines == ["tensorrt version: engine built for 8.6.2, this setup needs 10.3.0",
                     "input shape: engine built for 1x3x512x512, this setup needs 1x3x768x512"]
    assert KEY.differences(KEY) == []


def _store(engine_dir: Path, key: ec.EngineKey, plan: bytes = b"plan-bytes") -> ec.EnginePaths:
    paths = ec.engine_paths(engine_dir, "toy-segmenter", key)
    ec.write_engine(paths, plan, key, source=Path("toy.onnx"))
    return paths


def test_find_engine_accepts_only_the_exact_key(tmp_path: Path) -> None:
    paths = _store(tmp_path, KEY)
    assert ec.find_engine(tmp_path, "toy-segmenter", KEY) == paths
    sidecar = json.loads(paths.sidecar.read_text())
    assert sidecar["schema"] == ec.SIDECAR_SCHEMA and sidecar["key"]["precision"] == "fp16"
    assert sidecar["plan_size_bytes"] == len(b"plan-bytes") and sidecar["source_onnx"] == "toy.onnx"


def test_missing_engine_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(ec.EngineMissing) as err:
        ec.find_engine(tmp_path / "none", "toy-segmenter", KEY, "station.yaml")
    assert isinstance(err.value, ConfigError)
    assert "specimen-edge build-engine --config station.yaml --fp16" in str(err.value)
    assert "rebuild_engine: true" in str(err.value)


def test_engine_for_another_tensorrt_and_gpu_is_refused_with_the_differences(tmp_path: Path) -> None:
    _store(tmp_path, replace(KEY, tensorrt_version="8.6.2", gpu_name="NVIDIA A100", compute_capability="8.0"))
    with pytest.raises(ec.EngineMismatch) as err:
        ec.find_engine(tmp_path, "toy-segmenter", KEY)
    text = str(err.value)
    assert "tensorrt version: engine built for 8.6.2, this setup needs 10.3.0" in text
    assert "gpu name: engine built for NVIDIA A100, this setup needs Orin (nvgpu)" in text
    assert "compute capability: engine built for 8.0, this setup needs 8.7" in text
    assert "specimen-edge build-engine" in text


def test_changed_onnx_is_a_mismatch(tmp_path: Path) -> None:
    _store(tmp_path, replace(KEY, onnx_sha256="c" * 64))
    with pytest.raises(ec.EngineMismatch, match="onnx sha256: engine built for cccccccccccc"):
        ec.find_engine(tmp_path, "toy-segmenter", KEY)


def test_damaged_plan_and_bad_sidecar_are_refused(tmp_path: Path) -> None:
    paths = _store(tmp_path, KEY)
    paths.plan.write_bytes(b"plan-bytez")
    with pytest.raises(ec.EngineMismatch, match="damaged"):
        ec.find_engine(tmp_path, "toy-segmenter", KEY)
    paths.sidecar.write_text("{not json")
    with pytest.raises(ec.EngineMismatch, match="unreadable"):
        ec.find_engine(tmp_path, "toy-segmenter", KEY)


def test_tampered_sidecar_key_is_a_mismatch(tmp_path: Path) -> None:
    paths = _store(tmp_path, KEY)
    data = json.loads(paths.sidecar.read_text())
    data["key"]["precision"] = "fp32"  # file name says fp16, sidecar says otherwise
    paths.sidecar.write_text(json.dumps(data))
    with pytest.raises(ec.EngineMismatch, match="precision: engine built for fp32, this setup needs fp16"):
        ec.find_engine(tmp_path, "toy-segmenter", KEY)


def test_plan_without_sidecar_does_not_count(tmp_path: Path) -> None:
    paths = ec.engine_paths(tmp_path, "toy-segmenter", KEY)
    ec.atomic_write(paths.plan, b"half-finished")
    with pytest.raises(ec.EngineMissing):
        ec.find_engine(tmp_path, "toy-segmenter", KEY)


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "x.plan"
    ec.atomic_write(target, b"one")
    ec.atomic_write(target, memoryview(b"two"))
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.plan"]


def test_timing_cache_lives_beside_the_engine_per_tensorrt_and_gpu(tmp_path: Path) -> None:
    a = ec.engine_paths(tmp_path, "m", KEY)
    b = ec.engine_paths(tmp_path, "m", replace(KEY, precision="fp32"))
    c = ec.engine_paths(tmp_path, "m", replace(KEY, tensorrt_version="10.4.0"))
    assert a.timing_cache.parent == a.plan.parent == tmp_path
    assert a.timing_cache == b.timing_cache != c.timing_cache
    assert a.plan != b.plan


def test_default_engine_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CACHE_DIRECTORY", f"{tmp_path}/cache:/other")
    assert ec.default_engine_dir() == tmp_path / "cache" / "engines"
    monkeypatch.delenv("CACHE_DIRECTORY")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ec.default_engine_dir() == tmp_path / "xdg" / "specimen-edge" / "engines"
    assert ec.resolve_engine_dir("~/e") == Path.home() / "e"


def test_source_onnx_for_strongly_typed_fp16(toy_card: ModelCard) -> None:
    assert ec.source_onnx(toy_card, "fp16", strongly_typed=False) == toy_card.path
    assert ec.source_onnx(toy_card, "fp32", strongly_typed=True) == toy_card.path
    with pytest.raises(ec.EngineCacheError, match=r"strongly typed.*training\.export CHECKPOINT --fp16"):
        ec.source_onnx(toy_card, "fp16", strongly_typed=True)
    fp16 = write_fp16_copy(toy_card.path)
    assert ec.source_onnx(toy_card, "fp16", strongly_typed=True) == fp16


def test_source_onnx_follows_the_card_fp16_entry(toy_card: ModelCard) -> None:
    other = write_fp16_copy(toy_card.path).rename(toy_card.path.parent / "half.onnx")
    card_path = toy_card.path.with_suffix(".yaml")
    card_path.write_text(card_path.read_text() + "fp16:\n  file: half.onnx\n")
    assert ec.source_onnx(toy_card, "fp16", strongly_typed=True) == other
