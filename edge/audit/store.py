"""The audit's results folder: Parquet written as the work goes, merged at the end of each run.

    DIR/parts/<run>-<seq>.parquet   one file per judged batch, written whole or not at all
    DIR/results-<run>.parquet       a finished (or interrupted) run's parts merged into one file

A crash loses at most the batches in flight. A frame is identified by path, size and mtime; a frame
judged again after its file changed has a newer row for the same path, and `latest()` keeps only the
newest row of each path.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from edge.atomic_files import atomic_write
from edge.audit.rows import SCHEMA

Identity = tuple[str, "int | None", "int | None"]


class ResultStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parts = folder / "parts"

    def result_files(self) -> list[Path]:
        return sorted(self.folder.glob("results-*.parquet"))

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("*.parquet")) if self.parts.is_dir() else []

    def has_results(self) -> bool:
        return bool(self.result_files() or self.part_files())

    def write_part(self, table: pa.Table, run: str, seq: int) -> Path:
        path = self.parts / f"{run}-{seq:07d}.parquet"
        atomic_write(path, _parquet_bytes(table))
        return path

    def read(self, columns: list[str] | None = None, files: list[Path] | None = None) -> pa.Table:
        files = self.result_files() + self.part_files() if files is None else files
        tables = [pq.read_table(f, columns=columns, schema=SCHEMA) for f in files]
        if not tables:
            return SCHEMA.empty_table() if columns is None else SCHEMA.empty_table().select(columns)
        return pa.concat_tables(tables)

    def judged(self) -> set[Identity]:
        """(path, size, mtime in µs) of every frame that has a row."""
        table = self.read(["path", "size", "mtime"])
        mtimes = table.column("mtime").cast(pa.int64()).to_pylist()
        return set(zip(table.column("path").to_pylist(), table.column("size").to_pylist(), mtimes, strict=True))

    def merge_parts(self, run: str) -> Path | None:
        """Merge every part (this run's and any a crashed run left) into `results-<run>.parquet`.

        Rows of frames a results file already holds are dropped: they are the copies a crash between
        writing a merged file and removing its parts leaves behind."""
        parts = self.part_files()
        if not parts:
            return None
        merged = self.read(files=parts)
        if self.result_files():
            known = self.read(["path", "size", "mtime"], files=self.result_files())
            merged = _without(merged, known)
        merged = _first_of_each_identity(merged).sort_by([("path", "ascending")])
        target = self.folder / f"results-{run}.parquet"
        if merged.num_rows:
            atomic_write(target, _parquet_bytes(merged))
        for part in parts:
            part.unlink(missing_ok=True)
        try:
            self.parts.rmdir()
        except OSError:
            pass  # another run's parts arrived meanwhile
        return target if merged.num_rows else None

    def latest(self, columns: list[str] | None = None) -> pa.Table:
        """The newest row of each path: one row per file as the collection stands."""
        wanted = None if columns is None else sorted({*columns, "path", "judged_at"})
        table = self.read(wanted)
        if table.num_rows == 0:
            return table if columns is None else table.select(columns)
        table = table.sort_by([("path", "ascending"), ("judged_at", "descending")])
        paths = table.column("path")
        first = pc.not_equal(paths.slice(1), paths.slice(0, len(paths) - 1))
        keep = pa.concat_arrays([pa.array([True]), first.combine_chunks()])
        table = table.filter(keep)
        return table if columns is None else table.select(columns)

    def verdict_json(self, path: str) -> str | None:
        """The stored verdict of the newest row for `path`, as `check --json` prints it."""
        table = self.latest(["path", "verdict_json"])
        matches = table.filter(pc.equal(table.column("path"), path))
        return None if matches.num_rows == 0 else str(matches.column("verdict_json")[0].as_py())


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _identities(table: pa.Table) -> list[tuple[object, object, object]]:
    mtimes = table.column("mtime").cast(pa.int64()).to_pylist()
    return list(zip(table.column("path").to_pylist(), table.column("size").to_pylist(), mtimes, strict=True))


def _without(table: pa.Table, known: pa.Table) -> pa.Table:
    seen = set(_identities(known))
    return table.filter(pa.array([ident not in seen for ident in _identities(table)], pa.bool_()))


def _first_of_each_identity(table: pa.Table) -> pa.Table:
    seen: set[tuple[object, object, object]] = set()
    keep = []
    for ident in _identities(table):
        keep.append(ident not in seen)
        seen.add(ident)
    return table.filter(pa.array(keep, pa.bool_()))
