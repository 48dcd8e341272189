"""What an audit judges: the frames named by its sources (folders, list files, globs).

A folder is read recursively with the hot folder's rules (`intake.is_candidate`): the configured
extensions, no temp or sidecar files, no dot-folders or capture-software folders. A list file holds
one path per line (relative paths are read from the list's folder; blank lines and `#` comments are
skipped). A glob is expanded as Python's `glob` does, `**` included.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.intake import is_candidate
from edge.watch_settings import WatchSettings

GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class Frame:
    """One file to judge, identified as the journal identifies frames: path, size and mtime."""

    path: str  # absolute
    size: int | None  # None: the file could not be read at listing time (a dangling link, removed)
    mtime_ns: int | None
    folder: str  # the top-level folder it belongs to, for the summary

    @property
    def mtime_us(self) -> int | None:
        return None if self.mtime_ns is None else self.mtime_ns // 1000

    @property
    def identity(self) -> tuple[str, int | None, int | None]:
        """Path, size and mtime in microseconds, the resolution the results store keeps."""
        return (self.path, self.size, self.mtime_us)


class SourceError(Exception):
    """A source that names nothing: no such folder, list file or matching glob."""


def expand_sources(sources: Sequence[str], watch: WatchSettings) -> list[Frame]:
    """Every frame the sources name, each path once, in the order given (folders sorted)."""
    rules = watch.model_copy(update={"recursive": True})
    frames: dict[str, Frame] = {}
    for source in sources:
        for frame in _expand(source, rules):
            frames.setdefault(frame.path, frame)
    return list(frames.values())


def _expand(source: str, rules: WatchSettings) -> Iterable[Frame]:
    path = Path(source).expanduser()
    if path.is_dir():
        root = path.absolute()
        for file in walk_folder(root, rules):
            rel = file.relative_to(root).parts
            yield _frame(file, f"{root.name}/{rel[0]}" if len(rel) > 1 else root.name)
        return
    if path.is_file() and path.suffix.lower() in rules.extensions:
        yield _frame(path.absolute(), path.absolute().parent.name)
        return
    if path.is_file():
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"{source}: neither an image with one of the extensions {' '.join(rules.extensions)} "
                              f"nor a list of paths ({exc})") from None
        for line in text.splitlines():
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            listed = Path(entry).expanduser()
            listed = listed if listed.is_absolute() else path.absolute().parent / listed
            yield _frame(listed, listed.parent.name)
        return
    if GLOB_CHARACTERS & set(source):
        matches = sorted(glob.glob(os.path.expanduser(source), recursive=True))
        files = [Path(m).absolute() for m in matches if not Path(m).is_dir()]
        if not files:
            raise SourceError(f"{source}: no file matches")
        for file in files:
            yield _frame(file, file.parent.name)
        return
    raise SourceError(f"{source}: no such folder, list file or image")


def walk_folder(root: Path, rules: WatchSettings) -> list[Path]:
    """Frames under `root`, recursively, that the hot folder would take (sorted)."""
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in rules.ignore_dirs]
        for name in files:
            file = Path(current) / name
            if is_candidate(file, root, rules):
                found.append(file)
    return sorted(found)


def _frame(path: Path, folder: str) -> Frame:
    # a path as given (no symlinks resolved): a row names the file the way the collection does
    absolute = str(Path(os.path.abspath(path)))
    try:
        st = os.stat(absolute)
    except OSError:
        return Frame(absolute, None, None, folder)
    return Frame(absolute, st.st_size, st.st_mtime_ns, folder)
