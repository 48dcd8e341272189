"""TensorRtSegmenter against the fake TensorRT, pycuda and cuda-python: I/O discovery, buffers,
copies, execution, output reshaping, engine mismatch handling and the owning thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge.segmentation import tensorrt_backend as trb
from edge.segmentation import tensorrt_build as trbuild
from edge.segmentation.engine_cache import EngineMismatch, EngineMissing, engine_paths
from edge.segmentation.model_card import ModelCard, load_model_card
from edge.segmentation.onnxruntime_backend import OnnxRuntimeSegmenter
from edge.segmentation.settings import SegmenterSettings
from tests.tensorrt import fake_device
from tests.tensorrt.conftest import sample_image, write_fp16_copy
from tests.toy_model import build_toy_model

VERSIONS = ["8.5.2.2", "8.6.2", "10.3.0", "11.4.0"]


def build(trt: ModuleType, card: ModelCard, settings: SegmenterSettings) -> trbuild.BuiltEngine:
    return trb.run_on_device_thread(settings, lambda t, device: trbuild.build_and_store(
        t, device, card, precision=settings.precision, engine_dir=Path(str(settings.engine_dir)),
        workspace_gib=settings.workspace_gib))


@pytest.mark.parametrize("version", VERSIONS)
def test_fp32_engine_matches_onnx_runtime(version: str, install_trt: Callable[[str], ModuleType],
                                          pycuda: ModuleType, toy_card: ModelCard,
                                          make_settings: Callable[..., SegmenterSettings]) -> None:
    trt = install_trt(version)
    settings = make_settings(backend="tensorrt")
    build(trt, toy_card, settings)
    seg = trb.TensorRtSegmenter(toy_card, settings)
    ref = OnnxRuntimeSegmenter(toy_card, threads=1)
    try:
        assert seg.info.backend == "tensorrt" and seg.info.device.startswith("cuda:0 Orin (nvgpu)")
        assert f"TensorRT {version}, fp32" in seg.info.device
        for seed in range(3):
            image = sample_image(seed)
            got, want = seg.segment(image), ref.segment(image)
            assert got.classes.dtype == np.uint8 and got.classes.shape == want.classes.shape == (192, 128)
            assert np.array_equal(got.classes, want.classes)
            assert np.allclose(got.confidence, want.confidence, atol=1e-5)
            assert got.placement == want.placement
            assert set(np.unique(got.classes)) >= {0, 1, 2, 5}
    finally:
        seg.close()
    assert fake_device.STATE.executions == 3


@pytest.mark.parametrize("version", ["8.6.2", "10.3.0", "11.4.0"])
def test_fp16_engine_agrees_per_pixel(version: str, install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                      toy_card: ModelCard, make_settings: Callable[..., SegmenterSettings]) -> None:
    trt = install_trt(version)
    if version.startswith("11"):
        write_fp16_copy(toy_card.path)
    settings = make_settings(backend="tensorrt", precision="fp16")
    build(trt, toy_card, settings)
    seg = trb.TensorRtSegmenter(toy_card, settings)
    ref = OnnxRuntimeSegmenter(toy_card, threads=1)
    try:
        got, want = seg.segment(sample_image(1)), ref.segment(sample_image(1))
        assert (got.classes == want.classes).mean() >= 0.995
        assert seg.key.precision == "fp16"
    finally:
        seg.close()


def test_buffers_are_sized_from_the_engine_and_released(install_trt: Callable[[str], ModuleType],
                                                        pycuda: ModuleType, toy_card: ModelCard,
                                                        make_settings: Callable[..., SegmenterSettings]) -> None:
    trt = install_trt("10.3.0")
    settings = make_settings()
    build(trt, toy_card, settings)
    seg = trb.TensorRtSegmenter(toy_card, settings)
    tensors = {t.name: t for t in seg._tensors}
    assert tensors["image"].shape == (1, 3, 192, 128) and tensors["image"].is_input
    assert tensors["logits"].shape == (1, 8, 192, 128) and not tensors["logits"].is_input
    assert tensors["logits"].dtype == np.float32
    sizes = sorted(buf.nbytes for buf in fake_device.STATE.device_memory.values())
    assert sizes == sorted([3 * 192 * 128 * 4, 8 * 192 * 128 * 4])
    assert len(fake_device.STATE.host_memory) == 2  # pinned, once, not per frame
    seg.segment(sample_image())
    seg.segment(sample_image(2))
    assert len(fake_device.STATE.device_memory) == 2 and len(fake_device.STATE.host_memory) == 2
    seg.close()
    seg.close()  # idempotent
    assert fake_device.STATE.device_memory == {} and fake_device.STATE.host_memory == {}
    with pytest.raises(RuntimeError, match="closed"):
        seg.segment(sample_image())


def test_one_thread_owns_the_context_whoever_calls(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                                   toy_card: ModelCard,
                                                   make_settings: Callable[..., SegmenterSettings]) -> None:
    trt = install_trt("10.3.0")
    settings = make_settings()
    build(trt, toy_card, settings)
    seg = trb.TensorRtSegmenter(toy_card, settings)
    seen: set[str] = set()
    original = seg._infer_on_thread

    def spy(tensor: np.ndarray) -> np.ndarray:
        seen.add(threading.current_thread().name)
        return original(tensor)

    seg._infer_on_thread = spy  # type: ignore[method-assign]
    try:
        # the fake pycuda raises LogicError when no context is current on the calling thread
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda s: seg.segment(sample_image(s)).classes, range(4)))
        assert all(r.shape == (192, 128) for r in results)
        assert len(seen) == 1 and next(iter(seen)).startswith("tensorrt")
        assert fake_device.context_depth() == 0  # nothing was pushed on this thread
    finally:
        seg.close()


def test_pycuda_without_a_current_context_fails_loudly(pycuda: ModuleType) -> None:
    pycuda.init()
    with pytest.raises(pycuda.LogicError, match="no currently active context"):
        pycuda.mem_alloc(16)


@pytest.mark.parametrize("library", ["cuda-python", "auto"])
def test_cuda_python_when_pycuda_is_absent(library: str, install_trt: Callable[[str], ModuleType],
                                           no_pycuda: None, cuda_bindings: ModuleType, toy_card: ModelCard,
                                           make_settings: Callable[..., SegmenterSettings]) -> None:
    trt = install_trt("10.3.0")
    settings = make_settings(cuda_library=library)
    build(trt, toy_card, settings)
    seg = trb.TensorRtSegmenter(toy_card, settings)
    ref = OnnxRuntimeSegmenter(toy_card, threads=1)
    try:
        assert seg._device is not None and seg._device.library == "cuda-python"
        assert seg.key.gpu_name == "Orin (nvgpu)"  # NUL padding stripped
        assert np.array_equal(seg.segment(sample_image()).classes, ref.segment(sample_image()).classes)
    finally:
        seg.close()
    assert fake_device.STATE.device_memory == {} and fake_device.STATE.host_memory == {}
    assert fake_device.STATE.streams == {}


def test_no_cuda_library_at_all(install_trt: Callable[[str], ModuleType], no_pycuda: None,
                                monkeypatch: pytest.MonkeyPatch, toy_card: ModelCard,
                                make_settings: Callable[..., SegmenterSettings]) -> None:
    install_trt("10.3.0")
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime"):
        monkeypatch.setitem(__import__("sys").modules, name, None)
    with pytest.raises(trbuild.TensorRtUnavailable, match="pycuda does not import.*cuda-python"):
        trb.TensorRtSegmenter(toy_card, make_settings())


def test_missing_engine_is_refused_or_built_when_configured(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, toy_card: ModelCard,
        make_settings: Callable[..., SegmenterSettings]) -> None:
    trt = install_trt("10.3.0")
    with pytest.raises(EngineMissing, match="build-engine"):
        trb.TensorRtSegmenter(toy_card, make_settings())
    # released on failure (pycuda destroys its stream when the object goes)
    assert fake_device.STATE.device_memory == {} and fake_device.STATE.host_memory == {}
    seg = trb.TensorRtSegmenter(toy_card, make_settings(rebuild_engine=True))
    try:
        assert trt.fake_stats["builds"] == 1  # type: ignore[attr-defined]
        assert seg.segment(sample_image()).classes.shape == (192, 128)
    finally:
        seg.close()


def test_engine_from_another_tensorrt_is_refused_then_rebuilt(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, toy_card: ModelCard,
        make_settings: Callable[..., SegmenterSettings]) -> None:
    build(install_trt("10.3.0"), toy_card, make_settings())
    newer = install_trt("10.4.0")
    with pytest.raises(EngineMismatch) as err:
        trb.TensorRtSegmenter(toy_card, make_settings())
    assert "tensorrt version: engine built for 10.3.0, this setup needs 10.4.0" in str(err.value)
    assert "specimen-edge build-engine" in str(err.value)
    seg = trb.TensorRtSegmenter(toy_card, make_settings(rebuild_engine=True))
    seg.close()
    assert newer.fake_stats["builds"] == 1  # type: ignore[attr-defined]


def test_engine_from_another_gpu_is_refused(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                            toy_card: ModelCard,
                                            make_settings: Callable[..., SegmenterSettings]) -> None:
    build(install_trt("10.3.0"), toy_card, make_settings())
    fake_device.reset(gpus=[fake_device.FakeGpu("NVIDIA L4", (8, 9))])
    with pytest.raises(EngineMismatch, match=r"compute capability: engine built for 8\.7, this setup needs 8\.9"):
        trb.TensorRtSegmenter(toy_card, make_settings())


def test_plan_tensorrt_refuses_is_an_error_not_a_crash(
        install_trt: Callable[[str], ModuleType], pycuda: ModuleType, toy_card: ModelCard,
        make_settings: Callable[..., SegmenterSettings]) -> None:
    trt = install_trt("10.3.0")
    settings = make_settings()
    built = build(trt, toy_card, settings)
    # The sidecar fits, but the plan is one TensorRT rejects (say, after a driver change).
    from edge.segmentation.engine_cache import write_engine

    write_engine(built.paths, b"garbage plan", built.key, source=built.source)
    with pytest.raises(EngineMismatch, match="could not deserialise"):
        trb.TensorRtSegmenter(toy_card, settings)
    seg = trb.TensorRtSegmenter(toy_card, make_settings(rebuild_engine=True))
    seg.close()
    assert built.paths.plan.read_bytes().startswith(b"FAKETRT")


def test_execute_failure_raises(install_trt: Callable[[str], ModuleType], pycuda: ModuleType, toy_card: ModelCard,
                                make_settings: Callable[..., SegmenterSettings]) -> None:
    trt = install_trt("10.3.0")
    settings = make_settings()
    build(trt, toy_card, settings)
    seg = trb.TensorRtSegmenter(toy_card, settings)
    try:
        seg._context.addresses.pop("logits")  # as if the output address had never been set
        with pytest.raises(RuntimeError, match="execute_async_v3 failed"):
            seg.segment(sample_image())
    finally:
        seg.close()


def _model_with(tmp_path: Path, edit: Callable[[Any], None], name: str = "edited") -> ModelCard:
    src = build_toy_model(tmp_path / name, name=name)
    proto = onnx.load(str(src))
    edit(proto)
    onnx.save(proto, str(src))
    return load_model_card(src)


def test_half_output_is_read_as_float(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                      tmp_path: Path, make_settings: Callable[..., SegmenterSettings]) -> None:
    def half_output(proto: Any) -> None:
        g = proto.graph
        g.node[0].output[0] = "logits_f"
        g.node.append(helper.make_node("Cast", ["logits_f"], ["logits"], to=TensorProto.FLOAT16))
        g.output[0].type.tensor_type.elem_type = TensorProto.FLOAT16

    card = _model_with(tmp_path, half_output)
    trt = install_trt("10.3.0")
    settings = make_settings(model=str(card.path))
    build(trt, card, settings)
    seg = trb.TensorRtSegmenter(card, settings)
    ref = OnnxRuntimeSegmenter(card, threads=1)
    try:
        assert {t.name: t.dtype for t in seg._tensors}["logits"] == np.float16
        tensor = np.zeros((1, 3, 192, 128), np.float32)
        out = seg.logits(tensor)
        assert out.dtype == np.float32 and out.shape == (1, 8, 192, 128)
        assert np.array_equal(seg.segment(sample_image()).classes, ref.segment(sample_image()).classes)
    finally:
        seg.close()


def test_dynamic_batch_is_set_to_one(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                     tmp_path: Path, make_settings: Callable[..., SegmenterSettings]) -> None:
    def dynamic(proto: Any) -> None:
        proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "n"
        proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "n"

    card = _model_with(tmp_path, dynamic)
    trt = install_trt("8.6.2")
    settings = make_settings(model=str(card.path))
    build(trt, card, settings)
    seg = trb.TensorRtSegmenter(card, settings)
    try:
        assert seg._context.input_shapes == {"image": (1, 3, 192, 128)}
        assert {t.name: t.shape for t in seg._tensors}["logits"] == (1, 8, 192, 128)
        assert seg.segment(sample_image()).classes.shape == (192, 128)
    finally:
        seg.close()


def test_card_and_engine_must_agree_on_names(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                             tmp_path: Path, make_settings: Callable[..., SegmenterSettings]) -> None:
    def rename_input(proto: Any) -> None:
        proto.graph.input[0].name = "pixels"
        proto.graph.node[0].input[0] = "pixels"

    card = _model_with(tmp_path, rename_input)  # card still says "image"
    trt = install_trt("10.3.0")
    settings = make_settings(model=str(card.path))
    build(trt, card, settings)
    with pytest.raises(EngineMismatch, match=r"engine inputs \['pixels'\] differ from the model card's \['image'\]"):
        trb.TensorRtSegmenter(card, settings)
    assert fake_device.STATE.device_memory == {}


def test_wrong_class_count_is_refused(install_trt: Callable[[str], ModuleType], pycuda: ModuleType,
                                      tmp_path: Path, make_settings: Callable[..., SegmenterSettings]) -> None:
    def five_classes(proto: Any) -> None:
        from onnx import numpy_helper

        g = proto.graph
        for init in g.initializer:
            arr = numpy_helper.to_array(init)[:5]
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
        g.output[0].type.tensor_type.shape.dim[1].dim_value = 5

    card = _model_with(tmp_path, five_classes)
    trt = install_trt("10.3.0")
    settings = make_settings(model=str(card.path))
    build(trt, card, settings)
    with pytest.raises(EngineMismatch, match=r"expected 1 x 8 x h x w"):
        trb.TensorRtSegmenter(card, settings)


def test_engine_paths_are_per_model(toy_card: ModelCard, tmp_path: Path) -> None:
    from edge.segmentation.engine_cache import EngineKey

    key = EngineKey("a" * 64, "10.3.0", "Orin", "8.7", "fp32", (1, 3, 192, 128))
    assert engine_paths(tmp_path, toy_card.name, key).plan.name.startswith("toy-segmenter.fp32.")
