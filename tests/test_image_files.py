"""One list of image extensions and one folder expansion for the command line, demo and engine tools."""

from __future__ import annotations

from pathlib import Path

from edge.config import load_settings
from edge.demo import sample_frames
from edge.image_files import IMAGE_EXTENSIONS, image_files


def test_the_default_configuration_watches_the_same_extensions() -> None:
    assert sorted(load_settings(None).watch.extensions) == sorted(IMAGE_EXTENSIONS)


def test_folders_expand_to_their_image_files_and_missing_paths_are_named(tmp_path: Path) -> None:
    for name in ("b.JPG", "a.tiff", "c.png", ".hidden.jpg", "notes.txt", "d.jpeg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.jpg").mkdir()
    (tmp_path / "sub.jpg" / "inner.jpg").write_bytes(b"x")
    single = tmp_path / "notes.txt"
    files, missing = image_files([tmp_path, single, tmp_path / "gone.jpg"])
    assert [p.name for p in files] == ["a.tiff", "b.JPG", "c.png", "d.jpeg", "notes.txt"]
    assert missing == [str(tmp_path / "gone.jpg")]
    only_png, _ = image_files([tmp_path], [".PNG"])
    assert [p.name for p in only_png] == ["c.png"]


def test_the_demo_finds_its_bundled_samples() -> None:
    assert [p.name for p in sample_frames()] == ["BM000100001.jpg", "BM000100002.jpg", "BM000100003_no_chart.jpg",
                                                 "BM000100004_out_of_focus.jpg", "BM000100005.jpg"]
