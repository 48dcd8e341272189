from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from edge.decode import UnreadableFrame, decode_full, decode_small, read_frame
from tests.frames import draw_sheet, jpeg_bytes


def roundtrip(path: Path, max_mp: float = 200.0) -> np.ndarray:
    return decode_full(read_frame(path, max_mp)).full


def test_jpeg_full_and_reduced(tmp_path: Path) -> None:
    p = tmp_path / "a.jpg"
    p.write_bytes(jpeg_bytes(draw_sheet(1600, 2400)))
    raw = read_frame(p, 200)
    assert raw.header.format == "jpeg" and (raw.header.width, raw.header.height) == (1600, 2400)
    small = decode_small(raw, 512)
    assert small is not None and small.shape == (600, 400, 3)  # 1/4: the largest factor keeping >= 512
    assert decode_full(raw).full.shape == (2400, 1600, 3)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    img = np.zeros((200, 400, 3), np.uint8)
    img[:, :100] = 255
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    p = tmp_path / "o.jpg"
    pil.save(p, exif=exif.tobytes())
    raw = read_frame(p, 200)
    assert (raw.header.width, raw.header.height) == (200, 400)
    full = decode_full(raw).full
    assert full.shape[:2] == (400, 200)
    assert full[:100].mean() > 200 and full[300:].mean() < 50  # the white band is now on top


def test_16bit_tiff_kept_16bit(tmp_path: Path) -> None:
    img = (np.random.default_rng(0).random((120, 80, 3)) * 65535).astype(np.uint16)
    p = tmp_path / "a.tif"
    cv2.imwrite(str(p), img)
    out = roundtrip(p)
    assert out.dtype == np.uint16 and np.array_equal(out, img)


def test_8bit_tiff_png_grey_and_cmyk(tmp_path: Path) -> None:
    rgb = np.zeros((60, 90, 3), np.uint8)
    rgb[:, :30] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "a.tif")
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "grey.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.tif")
    for name in ("a.tif", "a.png", "cmyk.jpg", "cmyk.tif"):
        out = roundtrip(tmp_path / name)
        assert out.shape == (60, 90, 3), name
        assert out[:, :30, 2].mean() > 200 and out[:, :30, 0].mean() < 60, name  # red in BGR
        assert out[:, 40:, :].mean() < 30, name
    assert roundtrip(tmp_path / "grey.png").shape == (60, 90, 3)


def _png_with_size(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("name,content,expect", [
    ("empty.jpg", b"", "empty"),
    ("text.jpg", b"this is not an image at all", "not a readable image"),
    ("zero.png", None, "no pixels"),
])
def test_unreadable_inputs(tmp_path: Path, name: str, content: bytes | None, expect: str) -> None:
    p = tmp_path / name
    p.write_bytes(_png_with_size(0, 0) if content is None else content)
    with pytest.raises(UnreadableFrame, match=expect):
        read_frame(p, 200)


def test_truncated_files_are_refused(tmp_path: Path) -> None:
    data = jpeg_bytes(draw_sheet(400, 600))
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFrame, match="truncated"):
        read_frame(tmp_path / "t.jpg", 200)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(buf, "PNG")
    (tmp_path / "t.png").write_bytes(buf.getvalue()[:-200])
    with pytest.raises(UnreadableFrame, match="truncated"):
        read_frame(tmp_path / "t.png", 200)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(buf, "TIFF")
    (tmp_path / "t.tif").write_bytes(buf.getvalue()[:-5000])
    with pytest.raises(UnreadableFrame, match="truncated"):
        read_frame(tmp_path / "t.tif", 200)


def test_trailing_zero_padding_after_jpeg_end_is_fine(tmp_path: Path) -> None:
    p = tmp_path / "pad.jpg"
    p.write_bytes(jpeg_bytes(draw_sheet(300, 450)) + b"\x00" * 64)
    assert roundtrip(p).shape == (450, 300, 3)


def test_pixel_limit(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    cv2.imwrite(str(p), np.zeros((2000, 1500, 3), np.uint8))
    with pytest.raises(UnreadableFrame, match="over the 2 MP limit"):
        read_frame(p, 2.0)
    assert read_frame(p, 3.5).header.width == 1500


def test_folder_and_other_formats(tmp_path: Path) -> None:
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(UnreadableFrame, match="folder"):
        read_frame(tmp_path / "dir.jpg", 200)
    Image.new("RGB", (20, 20)).save(tmp_path / "a.jpg", format="BMP")
    with pytest.raises(UnreadableFrame, match="BMP"):
        read_frame(tmp_path / "a.jpg", 200)
    with pytest.raises(FileNotFoundError):
        read_frame(tmp_path / "gone.jpg", 200)
