"""Settings of the segmenter: backend, model, device, and the rules that turn its map into regions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from edge.classes import CLASS_NAMES
from edge.settings_base import Strict

# per-class settings of the segmenter: what each value is, and its bounds
_PER_CLASS_BOUNDS = {"region_join_gap": ("gap", 0, 32, " map pixels"), "min_region_score_by_class": ("score", 0, 1, "")}


class SegmenterSettings(Strict):
    # auto: TensorRT where it imports and a GPU exists, else ONNX Runtime
    backend: Literal["onnxruntime", "tensorrt", "auto"]
    model: str | None
    threads: int = Field(ge=1, le=64)
    min_region_fraction: float = Field(ge=0, lt=1)
    # parts whose mean class probability is below this are dropped: the network was unsure
    min_region_score: float = Field(default=0.0, ge=0, le=1)
    # per class, replacing min_region_score for that class
    min_region_score_by_class: dict[str, float] = Field(default_factory=dict)
    # per class: parts closer than this many output-map pixels (4 canvas pixels each) are one object
    region_join_gap: dict[str, int] = Field(default_factory=dict)
    # a scale-bar region is kept only where the frame shows a ruler in it: at least this many bands
    # across it repeating at ruler units at one scale (0: every region kept, nothing read)
    scale_bar_min_ruler_bands: int = Field(default=0, ge=0, le=64)
    # a scale-bar region with a ruler reading grown along its ruler (edge/qc/ruler_extent.py)
    grow_scale_bars: bool = False
    # a scale-bar region with a ruler reading cut back, for the verdict, at an end that shows no
    # ruler at all (edge/qc/ruler_extent.py)
    trim_scale_bars: bool = False
    # chart regions settled on the full frame: a target strip's end blocks joined, a ruler called
    # chart made scale bar (edge/qc/chart_regions.py)
    check_chart_regions: bool = False
    # with check_chart_regions: a chart region that shows no patch grid, is one hue and has at least
    # this many agreeing ruler bands is a ruler, reported as scale bar (0: never)
    chart_ruler_min_bands: int = Field(default=0, ge=0, le=64)
    # in a frame without a scale-bar region, a stamp region with at least this many agreeing ruler
    # bands is a ruler, reported as scale bar (edge/qc/stamp_regions.py; 0: never)
    stamp_ruler_min_bands: int = Field(default=0, ge=0, le=64)

    @field_validator("region_join_gap", "min_region_score_by_class")
    @classmethod
    def _per_class(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        what, low, high, unit = _PER_CLASS_BOUNDS[str(info.field_name)]
        for name, v in value.items():
            if name not in CLASS_NAMES[1:]:
                raise ValueError(f"unknown class {name!r}; expected one of {', '.join(CLASS_NAMES[1:])}")
            if not low <= v <= high:
                raise ValueError(f"{name}: {what} {v} must be between {low} and {high}{unit}")
        return value
    # ONNX Runtime execution provider; auto takes CUDA when onnxruntime-gpu offers it
    onnxruntime_provider: Literal["auto", "cpu", "cuda"] = "auto"
    # CUDA device index, for TensorRT and ONNX Runtime's CUDA provider alike
    gpu: int = Field(default=0, ge=0)
    # TensorRT engine precision; fp16 on TensorRT 11 needs the model's float16 ONNX
    precision: Literal["fp32", "fp16"] = "fp32"
    # null: $CACHE_DIRECTORY/engines under systemd, else ~/.cache/specimen-edge/engines
    engine_dir: str | None = None
    # build the engine at start-up when it is missing or was built for another setup
    rebuild_engine: bool = False
    workspace_gib: float = Field(default=2.0, gt=0, le=256)
    # auto: pycuda when it imports, else cuda-python (cuda.bindings)
    cuda_library: Literal["auto", "pycuda", "cuda-python"] = "auto"
