"""The model card (YAML beside the ONNX file) says how to feed the network and read it back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from edge.classes import CLASS_NAMES
from edge.config_files import ConfigError, packaged_file, parse_yaml


@dataclass(frozen=True)
class ModelCard:
    path: Path  # the ONNX file
    name: str
    sha256: str | None
    input_name: str
    input_hw: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output_name: str


# the general model, for every kind of frame; a profile may name another bundled model
GENERAL_MODEL = "segmenter.onnx"


def bundled_model_path(name: str = GENERAL_MODEL) -> Path:
    return packaged_file("engines", name)


def bundled_model_names() -> list[str]:
    return sorted(p.name for p in bundled_model_path().parent.glob("*.onnx"))


def model_path(model: str | None, profile_model: str | None = None) -> Path:
    """The ONNX file to run: segmenter.model when set, else the profile's bundled model, else the general one."""
    if model:
        return Path(model).expanduser()
    return bundled_model_path(profile_model or GENERAL_MODEL)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model_card(model_path: Path) -> ModelCard:
    """Read `<model>.yaml` beside the ONNX file; its class list must match ours exactly."""
    card_path = model_path.with_suffix(".yaml")
    if not model_path.is_file():
        raise ConfigError(f"segmenter.model: model file {str(model_path)!r} does not exist")
    try:
        data = parse_yaml(card_path.read_text())
        inp, out = data["input"], data["output"]
        classes = list(data["classes"])
        card = ModelCard(
            path=model_path, name=str(data["name"]), sha256=data.get("sha256"),
            input_name=str(inp["name"]), input_hw=(int(inp["height"]), int(inp["width"])),
            mean=tuple(float(v) for v in inp["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in inp["std"]),  # type: ignore[arg-type]
            output_name=str(out["name"]))
    except OSError as exc:
        raise ConfigError(f"{card_path}: model card missing or unreadable: {exc.strerror or exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{card_path}: model card incomplete or malformed ({exc!r})") from None
    if classes != list(CLASS_NAMES):
        raise ConfigError(f"{card_path}: classes {classes} differ from specimen-edge's {list(CLASS_NAMES)}")
    return card
