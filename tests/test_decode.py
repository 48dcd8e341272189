from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from edge.decode import UnreadableFrame, decode_full, decode_jpeg, decode_small, read_frame
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


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("factor", [1, 2, 8])
def test_jpeg_decode_matches_opencv_for_every_orientation(tmp_path: Path, orientation: int, factor: int) -> None:
    # an asymmetric picture, so a wrong flip or turn shows; the same pixels as OpenCV's imread
    img = draw_sheet(480, 320)
    img[:40, :60] = (0, 0, 255)
    pil = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    exif = pil.getexif()
    exif[0x0112] = orientation
    p = tmp_path / f"o{orientation}.jpg"
    pil.save(p, exif=exif.tobytes(), quality=92)
    raw = read_frame(p, 200)
    ours = decode_jpeg(raw, factor)
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 8: cv2.IMREAD_REDUCED_COLOR_8}[factor]
    theirs = cv2.imread(str(p), flags)
    assert ours is not None and ours.shape == theirs.shape
    assert np.abs(ours.astype(int) - theirs).mean() < 1.0


def test_jpeg_with_damaged_scan_data_is_refused(tmp_path: Path) -> None:
    # the end marker is intact, so only the decoder can tell: zeroed or overwritten scan data
    # desynchronises the entropy decoder and shifts every row after it
    data = bytearray(jpeg_bytes(draw_sheet(1600, 2400, seed=3), quality=95))
    middle = len(data) // 2
    zeroed = bytearray(data)
    zeroed[middle:middle + 20000] = bytes(20000)
    (tmp_path / "zeroed.jpg").write_bytes(zeroed)
    garbage = bytearray(data)
    garbage[middle:middle + 5000] = np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes()
    (tmp_path / "garbage.jpg").write_bytes(garbage)
    (tmp_path / "cut.jpg").write_bytes(bytes(data[:middle]) + b"\xff\xd9")
    for name in ("zeroed.jpg", "garbage.jpg", "cut.jpg"):
        raw = read_frame(tmp_path / name, 200)
        with pytest.raises(UnreadableFrame, match="is corrupt"):
            decode_full(raw)
        with pytest.raises(UnreadableFrame, match="is corrupt"):
            decode_small(raw, 300)
    (tmp_path / "intact.jpg").write_bytes(data)
    assert roundtrip(tmp_path / "intact.jpg").shape == (2400, 1600, 3)


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
