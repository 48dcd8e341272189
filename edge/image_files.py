"""Which files are frames: the image extensions, and expanding folders given on a command line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# The formats the decoder judges; the default configuration's watch.extensions lists the same.
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".tif", ".tiff", ".png")


def image_files(paths: Sequence[str | Path],
                extensions: Sequence[str] = IMAGE_EXTENSIONS) -> tuple[list[Path], list[str]]:
    """Files as given, and each folder expanded to the image files directly inside it (sorted; no
    hidden files, no subfolders); the second list names the paths that do not exist."""
    files: list[Path] = []
    missing: list[str] = []
    wanted = {e.lower() for e in extensions}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(c for c in p.iterdir()
                            if c.suffix.lower() in wanted and not c.name.startswith(".") and not c.is_dir())
        elif p.exists() or p.is_symlink():
            files.append(p)
        else:
            missing.append(str(raw))
    return files, missing
