"""Where serialized TensorRT engines live, what they were built for, and whether one fits.

A plan only runs on the TensorRT version and GPU it was built with, so every plan has a sidecar
JSON recording its key: the sha256 of the ONNX it came from, the TensorRT version, the GPU name and
compute capability, the precision and the input shape. The daemon computes the key it needs and
uses only a plan whose sidecar matches; anything else is refused with the differences spelled out
and the command that rebuilds it. Nothing here imports TensorRT.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from edge.atomic_files import atomic_write
from edge.config_files import ConfigError, parse_yaml
from edge.segmentation.model_card import ModelCard, file_sha256

SIDECAR_SCHEMA = "specimen-edge/engine/1"


class EngineCacheError(ConfigError):
    """No usable engine for this device; the message says why and how to build one."""


class EngineMissing(EngineCacheError):
    pass


class EngineMismatch(EngineCacheError):
    pass


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "8.7"
    precision: str  # "fp32" | "fp16"
    input_shape: tuple[int, ...]

    def digest(self) -> str:
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineKey:
        try:
            return cls(onnx_sha256=str(data["onnx_sha256"]), tensorrt_version=str(data["tensorrt_version"]),
                       gpu_name=str(data["gpu_name"]), compute_capability=str(data["compute_capability"]),
                       precision=str(data["precision"]),
                       input_shape=tuple(int(v) for v in data["input_shape"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"engine key incomplete or malformed ({exc!r})") from None

    def differences(self, wanted: EngineKey) -> list[str]:
        """Human-readable 'field: built for X, this device needs Y' lines."""
        out = []
        for f in fields(self):
            have, need = getattr(self, f.name), getattr(wanted, f.name)
            if have != need:
                if f.name == "onnx_sha256":
                    have, need = f"{have[:12]}…", f"{need[:12]}…"
                elif f.name == "input_shape":
                    have, need = "x".join(map(str, have)), "x".join(map(str, need))
                out.append(f"{f.name.replace('_', ' ')}: engine built for {have}, this setup needs {need}")
        return out


@dataclass(frozen=True)
class EnginePaths:
    plan: Path
    sidecar: Path
    timing_cache: Path


def default_engine_dir() -> Path:
    """systemd's CacheDirectory= when set (first entry), else the user's cache folder."""
    cache_env = os.environ.get("CACHE_DIRECTORY")
    if cache_env:
        return Path(cache_env.split(":")[0]) / "engines"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "specimen-edge" / "engines"


def resolve_engine_dir(configured: str | None) -> Path:
    return Path(configured).expanduser() if configured else default_engine_dir()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower() or "model"


def engine_paths(engine_dir: Path, model_name: str, key: EngineKey) -> EnginePaths:
    stem = f"{_slug(model_name)}.{key.precision}.{key.digest()}"
    # Timing caches are only valid for one TensorRT version and GPU; other keys share them.
    cache = f"timing.trt{_slug(key.tensorrt_version)}.sm{key.compute_capability.replace('.', '')}.cache"
    return EnginePaths(engine_dir / f"{stem}.plan", engine_dir / f"{stem}.json", engine_dir / cache)


def fp16_onnx_for(card: ModelCard) -> Path | None:
    """The float16 copy of the model that `training.export --fp16` writes, when there is one."""
    try:
        data = parse_yaml(card.path.with_suffix(".yaml").read_text())
        named = data.get("fp16", {}).get("file") if isinstance(data, dict) else None
    except (OSError, AttributeError):
        named = None
    candidates = [card.path.parent / str(named)] if named else []
    candidates.append(card.path.with_suffix(".fp16.onnx"))
    return next((c for c in candidates if c.is_file()), None)


def source_onnx(card: ModelCard, precision: str, strongly_typed: bool) -> Path:
    """The ONNX file an engine of this precision is built from.

    Strongly typed TensorRT (11 on) takes every precision from the ONNX graph, so an FP16 engine
    needs the float16 export; earlier versions build FP16 from the float32 file with a builder flag.
    """
    if precision != "fp16" or not strongly_typed:
        return card.path
    fp16 = fp16_onnx_for(card)
    if fp16 is None:
        raise EngineCacheError(
            f"TensorRT 11 and later are strongly typed: an FP16 engine must come from a float16 ONNX, and "
            f"there is none beside {card.path} (expected {card.path.with_suffix('.fp16.onnx').name}). "
            f"Make one with `python -m training.export CHECKPOINT --fp16`, pass it with "
            f"`specimen-edge build-engine --onnx FILE.fp16.onnx --fp16`, or use precision fp32.")
    return fp16


def rebuild_hint(precision: str, config_path: str | None = None) -> str:
    cfg = f" --config {config_path}" if config_path else ""
    fp16 = " --fp16" if precision == "fp16" else ""
    return (f"rebuild it on this device with `specimen-edge build-engine{cfg}{fp16}`, "
            f"or set segmenter.rebuild_engine: true to build it at start-up")


def read_sidecar(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("schema") != SIDECAR_SCHEMA:
        raise ValueError(f"not a {SIDECAR_SCHEMA} sidecar")
    return data


def find_engine(engine_dir: Path, model_name: str, wanted: EngineKey, config_path: str | None = None) -> EnginePaths:
    """The plan built for exactly this key, checked against its sidecar and its own sha256.

    Raises EngineMissing when no engine was built for this model here, EngineMismatch when one was
    built for another setup or is damaged; both messages end with how to rebuild.
    """
    paths = engine_paths(engine_dir, model_name, wanted)
    hint = rebuild_hint(wanted.precision, config_path)
    if paths.plan.is_file() and paths.sidecar.is_file():
        try:
            sidecar = read_sidecar(paths.sidecar)
            recorded = EngineKey.from_json(sidecar["key"])
        except (OSError, ValueError, KeyError) as exc:
            raise EngineMismatch(f"engine sidecar {paths.sidecar} is unreadable ({exc}); {hint}") from None
        diffs = recorded.differences(wanted)
        if diffs:
            raise EngineMismatch(f"engine {paths.plan} does not fit this setup:\n  " + "\n  ".join(diffs)
                                 + f"\n{hint}")
        if file_sha256(paths.plan) != sidecar.get("plan_sha256"):
            raise EngineMismatch(f"engine {paths.plan} is damaged (its sha256 differs from {paths.sidecar.name}); "
                                 f"{hint}")
        return paths
    others = _other_engines(engine_dir, model_name, paths.sidecar)
    if others:
        newest, recorded = others[0]
        diffs = recorded.differences(wanted)
        raise EngineMismatch(
            f"no engine in {engine_dir} fits this setup; the newest one for {model_name!r} ({newest.name}) "
            f"differs:\n  " + "\n  ".join(diffs or ["its plan file is missing"]) + f"\n{hint}")
    raise EngineMissing(f"no TensorRT engine for {model_name!r} in {engine_dir} yet; "
                        f"{hint.replace('rebuild', 'build', 1)}")


def _other_engines(engine_dir: Path, model_name: str, skip: Path) -> list[tuple[Path, EngineKey]]:
    found: list[tuple[float, Path, EngineKey]] = []
    if not engine_dir.is_dir():
        return []
    for sidecar in engine_dir.glob(f"{_slug(model_name)}.*.json"):
        if sidecar == skip:
            continue
        try:
            key = EngineKey.from_json(read_sidecar(sidecar)["key"])
            found.append((sidecar.stat().st_mtime, sidecar.with_suffix(".plan"), key))
        except (OSError, ValueError, KeyError):
            continue
    found.sort(key=lambda item: item[0], reverse=True)
    return [(plan, key) for _, plan, key in found]


def write_engine(paths: EnginePaths, plan: bytes | bytearray | memoryview, key: EngineKey, *,
                 source: Path, extra: dict[str, Any] | None = None) -> None:
    """Plan first, sidecar last: the sidecar is what makes a plan count, so a crash in between
    leaves a plan that is simply not used."""
    atomic_write(paths.plan, plan)
    sidecar = {
        "schema": SIDECAR_SCHEMA,
        "key": key.to_json(),
        "digest": key.digest(),
        "plan_file": paths.plan.name,
        "plan_sha256": hashlib.sha256(memoryview(plan)).hexdigest(),
        "plan_size_bytes": len(memoryview(plan).cast("B")),
        "source_onnx": source.name,
        **(extra or {}),
    }
    atomic_write(paths.sidecar, (json.dumps(sidecar, indent=2) + "\n").encode())
