"""`pip install .` must give a CLI that finds its model, default configuration and samples anywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (found,) = out.glob("specimen_edge-*.whl")
    return found


def test_wheel_carries_model_config_schema_and_samples(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("edge/engines/segmenter.onnx", "edge/engines/segmenter.yaml", "edge/configs/default.yaml",
                     "edge/contracts/verdict.schema.json", "edge/cli.py"):
        assert required in names, required
    assert any(n.startswith("edge/samples/") and n.endswith(".jpg") for n in names)
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "specimen-edge = edge.cli:main" in entry


def test_installed_cli_works_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    """The wheel unpacked on its own (no source tree on the path) judges a sample frame."""
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    sample = sorted((target / "edge" / "samples").glob("*.jpg"))[0]
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.path = [p for p in sys.path if p != sys.argv[2]]; "
            "import edge; assert edge.__file__.startswith(sys.argv[1]), edge.__file__; "
            "from edge.cli import main; sys.exit(main(['check', '--json', sys.argv[3]]))")
    p = subprocess.run([sys.executable, "-c", code, str(target), str(REPO), str(sample)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr[-2000:]
    assert '"schema":"specimen-edge/verdict/1"' in p.stdout
