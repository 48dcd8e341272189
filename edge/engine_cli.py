"""`specimen-edge build-engine` and `specimen-edge verify-engine`: TensorRT engines on the device."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.classes import CLASS_NAMES
from edge.config import load_settings
from edge.config_files import ConfigError
from edge.segmentation.settings import SegmenterSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_engine_commands(subparsers: Any) -> None:
    build = subparsers.add_parser(
        "build-engine", help="build the TensorRT engine for this device from the ONNX segmenter",
        description="Build a serialized TensorRT engine for this GPU and TensorRT version, with its sidecar JSON "
                    "and the timing cache beside it. Does nothing when a fitting engine is already there.")
    build.add_argument("--config", help="station configuration (YAML): model, engine_dir, precision, gpu")
    build.add_argument("--onnx", metavar="F", help="ONNX file to build from (default: segmenter.model or the profile's "
                                                   "bundled model; on TensorRT 11 with --fp16 its .fp16.onnx copy)")
    precision = build.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="FP16 engine (default: segmenter.precision)")
    precision.add_argument("--fp32", action="store_true", help="FP32 engine")
    build.add_argument("--workspace-gib", type=float, metavar="N", help="builder workspace limit in GiB "
                                                                        "(default: segmenter.workspace_gib)")
    build.add_argument("--out", metavar="DIR", help="engine folder (default: segmenter.engine_dir)")
    build.add_argument("--force", action="store_true", help="rebuild even when a fitting engine exists")
    build.set_defaults(func=cmd_build_engine)

    verify = subparsers.add_parser(
        "verify-engine", help="compare the TensorRT engine with ONNX Runtime on sample frames",
        description="Segment frames with the TensorRT engine and with ONNX Runtime on the CPU and print the "
                    "per-class agreement. Exit 0 when the engine agrees, 1 when not.")
    verify.add_argument("--config", help="station configuration (YAML)")
    vprec = verify.add_mutually_exclusive_group()
    vprec.add_argument("--fp16", action="store_true", help="check the FP16 engine (default: segmenter.precision)")
    vprec.add_argument("--fp32", action="store_true", help="check the FP32 engine")
    verify.add_argument("--min-agreement", type=float, default=99.5, metavar="PERCENT",
                        help="least share of pixels with the same class (default 99.5)")
    verify.add_argument("--max-logit-diff", type=float, default=None, metavar="D",
                        help="largest allowed logit difference (default 1e-3 for fp32, unchecked for fp16)")
    verify.add_argument("paths", nargs="*", metavar="PATH", help="images or folders (default: the bundled samples)")
    verify.set_defaults(func=cmd_verify_engine)


def _precision(args: argparse.Namespace, configured: str) -> str:
    return "fp16" if args.fp16 else "fp32" if args.fp32 else configured


def _model_card(settings: SegmenterSettings, profile_model: str | None) -> Any:
    from edge.segmentation.model_card import load_model_card, model_path

    return load_model_card(model_path(settings.model, profile_model))


def _is_float16_onnx(path: Path) -> bool | None:
    """Whether the graph carries float16 weights; None when the onnx package is not installed."""
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(path), load_external_data=False)
    return any(init.data_type == onnx.TensorProto.FLOAT16 for init in model.graph.initializer)


def cmd_build_engine(args: argparse.Namespace) -> int:
    from edge.segmentation.engine_cache import EngineCacheError, engine_paths, find_engine, resolve_engine_dir
    from edge.segmentation.tensorrt_backend import run_on_device_thread
    from edge.segmentation.tensorrt_build import EngineBuildFailed, build_and_store, engine_key, strongly_typed

    station = load_settings(args.config)
    base = station.segmenter
    precision = _precision(args, base.precision)
    changes: dict[str, Any] = {"precision": precision}
    if args.out:
        changes["engine_dir"] = args.out
    if args.workspace_gib is not None:
        if args.workspace_gib <= 0:
            raise ConfigError("--workspace-gib must be positive")
        changes["workspace_gib"] = args.workspace_gib
    source: Path | None = None
    if args.onnx:
        onnx_path = Path(args.onnx).expanduser()
        if not onnx_path.is_file():
            raise ConfigError(f"--onnx: {onnx_path} does not exist")
        if onnx_path.with_suffix(".yaml").is_file():
            changes["model"] = str(onnx_path)  # a model with its own card: the engine serves that model
        else:
            source = onnx_path  # e.g. the .fp16.onnx export, which shares the configured model's card
    settings = base.model_copy(update=changes)
    card = _model_card(settings, station.active_profile.segmenter_model)
    engine_dir = resolve_engine_dir(settings.engine_dir)

    def build(trt: Any, device: Any) -> int:
        if source is not None and precision == "fp16" and strongly_typed(trt) and _is_float16_onnx(source) is False:
            raise ConfigError(f"--onnx {source}: TensorRT {trt.__version__} is strongly typed and this file has no "
                              f"float16 weights, so the engine would not be FP16; pass the float16 export "
                              f"(python -m training.export CHECKPOINT --fp16) or build with --fp32")
        key, src = engine_key(trt, device, card, precision, source)
        if not args.force:
            try:
                found = find_engine(engine_dir, card.name, key, args.config)
                print(f"engine up to date: {found.plan} (TensorRT {key.tensorrt_version}, {key.gpu_name} "
                      f"sm {key.compute_capability}, {precision})")
                return EXIT_OK
            except EngineCacheError:
                pass
        paths = engine_paths(engine_dir, card.name, key)
        print(f"building {precision} engine for {card.name} from {src} with TensorRT {key.tensorrt_version} on "
              f"{key.gpu_name} (sm {key.compute_capability}); this can take minutes", file=sys.stderr)
        try:
            built = build_and_store(trt, device, card, precision=precision, engine_dir=engine_dir,
                                    workspace_gib=settings.workspace_gib, source=source)
        except EngineBuildFailed as exc:
            print(f"specimen-edge build-engine: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(f"built {built.paths.plan} in {built.seconds:.0f} s\n  sidecar {built.paths.sidecar}\n"
              f"  timing cache {paths.timing_cache}")
        return EXIT_OK

    return int(run_on_device_thread(settings, build))


# -- verify ------------------------------------------------------------------------------------

@dataclass
class Agreement:
    """Pixel counts of two class maps, per class and overall."""

    total: int = 0
    same: int = 0
    max_logit_diff: float = 0.0
    reference: np.ndarray = field(default_factory=lambda: np.zeros(len(CLASS_NAMES), np.int64))
    candidate: np.ndarray = field(default_factory=lambda: np.zeros(len(CLASS_NAMES), np.int64))
    both: np.ndarray = field(default_factory=lambda: np.zeros(len(CLASS_NAMES), np.int64))

    def add(self, ref_logits: np.ndarray, cand_logits: np.ndarray) -> float:
        ref, cand = ref_logits.argmax(axis=1).ravel(), cand_logits.argmax(axis=1).ravel()
        diff = float(np.abs(ref_logits.astype(np.float64) - cand_logits.astype(np.float64)).max())
        self.max_logit_diff = max(self.max_logit_diff, diff)
        self.total += ref.size
        self.same += int((ref == cand).sum())
        n = len(CLASS_NAMES)
        self.reference += np.bincount(ref, minlength=n)[:n]
        self.candidate += np.bincount(cand, minlength=n)[:n]
        self.both += np.bincount(ref[ref == cand], minlength=n)[:n]
        return diff

    @property
    def percent(self) -> float:
        return 100.0 * self.same / self.total if self.total else 100.0

    def class_percent(self, class_id: int) -> float | None:
        """Intersection over union of one class between the two maps; None when neither has it."""
        union = int(self.reference[class_id] + self.candidate[class_id] - self.both[class_id])
        return 100.0 * int(self.both[class_id]) / union if union else None

    def table(self) -> str:
        lines = [f"{'class':<14}{'ONNX Rt px':>12}{'TensorRT px':>13}{'agreement %':>13}"]
        for i, name in enumerate(CLASS_NAMES):
            pct = self.class_percent(i)
            shown = "-" if pct is None else f"{pct:.2f}"
            lines.append(f"{name:<14}{int(self.reference[i]):>12}{int(self.candidate[i]):>13}{shown:>13}")
        lines.append(f"{'all pixels':<14}{self.total:>12}{self.total:>13}{self.percent:>13.3f}")
        return "\n".join(lines)


def _frames(paths: list[str]) -> list[Path]:
    from edge.demo import sample_frames
    from edge.image_files import image_files

    if not paths:
        frames = sample_frames()
        if not frames:
            raise ConfigError("no sample frames are bundled with this installation; pass image files or folders")
        return frames
    files, missing = image_files(paths)
    if missing:
        raise ConfigError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise ConfigError("no image files found")
    return files


def cmd_verify_engine(args: argparse.Namespace) -> int:
    import cv2

    from edge.decode import shrink
    from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas
    from edge.segmentation.onnxruntime_backend import OnnxRuntimeSegmenter
    from edge.segmentation.tensorrt_backend import TensorRtSegmenter

    station = load_settings(args.config)
    base = station.segmenter
    precision = _precision(args, base.precision)
    settings = base.model_copy(update={"precision": precision, "backend": "tensorrt"})
    max_diff = args.max_logit_diff if args.max_logit_diff is not None else (1e-3 if precision == "fp32" else None)
    frames = _frames(args.paths)
    card = _model_card(settings, station.active_profile.segmenter_model)
    reference = OnnxRuntimeSegmenter(card, threads=settings.threads, provider="cpu")
    candidate = TensorRtSegmenter(card, settings, config_path=args.config)
    agreement = Agreement()
    print(f"TensorRT engine {candidate.engine_path.name} on {candidate.info.device}\n"
          f"against ONNX Runtime on the CPU, {len(frames)} frame(s)\n")
    print(f"{'frame':<40}{'agree %':>10}{'max |dlogit|':>14}")
    try:
        for path in frames:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                print(f"{path.name:<40}{'unreadable':>10}")
                continue
            canvas, _ = place_on_canvas(shrink(image, max(card.input_hw)), card.input_hw)
            tensor = canvas_to_tensor(canvas, card.mean, card.std)
            frame = Agreement()
            ref, cand = reference.logits(tensor), candidate.logits(tensor)
            frame.add(ref, cand)
            agreement.add(ref, cand)
            print(f"{path.name[:39]:<40}{frame.percent:>10.3f}{frame.max_logit_diff:>14.2e}")
    finally:
        candidate.close()
        reference.close()
    if agreement.total == 0:
        print("specimen-edge verify-engine: no frame could be read", file=sys.stderr)
        return EXIT_USAGE
    print("\n" + agreement.table())
    ok = agreement.percent >= args.min_agreement
    verdict = [f"pixel agreement {agreement.percent:.3f}% (at least {args.min_agreement}%)"]
    if max_diff is not None:
        ok = ok and agreement.max_logit_diff <= max_diff
        verdict.append(f"max logit difference {agreement.max_logit_diff:.2e} (at most {max_diff:.0e})")
    print(f"\n{'PASS' if ok else 'FAIL'}: {precision} engine, " + ", ".join(verdict))
    return EXIT_OK if ok else EXIT_FAILED

