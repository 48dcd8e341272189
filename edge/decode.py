"""Reading a frame: integrity checks, size limits, and two decodes from one read.

The file is read into memory once; its hash and both decodes come from those bytes, so a file
replaced while we work cannot mix two versions. The segmenter only needs a small copy: for
JPEG that comes from libjpeg's reduced-size decoding (DCT scaling), several times cheaper than
a full decode, and it runs while the full-resolution decode for the quality checks proceeds on
another thread (both decoders release the GIL).

JPEG goes through simplejpeg (libjpeg-turbo 3 behind TurboJPEG's API): on camera frames it decodes
the same pixels as OpenCV's own libjpeg in about 60 % of the time, and in strict mode it reports
libjpeg's "corrupt data" warnings as errors, so a frame with damaged scan data is refused instead
of judged with shifted rows. Other formats, and JPEGs TurboJPEG cannot convert, use OpenCV.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

try:
    import simplejpeg
except ImportError:  # a platform without its wheel: OpenCV decodes everything, without the corruption check
    simplejpeg = None

# libjpeg's "premature end" warnings would only clutter the log: completeness is checked explicitly.
if hasattr(cv2, "setLogLevel"):
    cv2.setLogLevel(2)

Image.MAX_IMAGE_PIXELS = None  # our own limit applies, with a clearer message

_FORMATS = {"JPEG": "jpeg", "PNG": "png", "TIFF": "tiff", "MPO": "jpeg"}
_ORIENTATION_SWAPS = {5, 6, 7, 8}


class UnreadableFrame(Exception):
    """The file is not a frame that can be judged; the message says why, for the verdict."""


@dataclass(frozen=True)
class FrameHeader:
    format: str
    width: int
    height: int
    mode: str
    # the camera set-up that took the frame (EXIF make, model, serial and the stored size), so a
    # station compares a frame's sharpness only with frames of the same camera
    camera: str = ""
    # the embedded ICC profile (JPEG APP2, PNG iCCP, TIFF tag), read once here; None: none
    icc_profile: bytes | None = None
    # EXIF orientation (1-8; 1: stored upright), applied after decoding
    orientation: int = 1


@dataclass
class RawFrame:
    """The file's bytes, hash and header: everything known before pixels are decoded."""

    path: Path
    data: np.ndarray
    sha256: str
    size_bytes: int
    header: FrameHeader


@dataclass
class DecodedFrame:
    raw: RawFrame
    full: np.ndarray  # H x W x 3 BGR, uint8 or uint16, orientation applied

    @property
    def height(self) -> int:
        return int(self.full.shape[0])

    @property
    def width(self) -> int:
        return int(self.full.shape[1])


def read_frame(path: Path, max_megapixels: float) -> RawFrame:
    """Read and vet a file: existence, size, format, dimensions, completeness."""
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise UnreadableFrame("is a folder, not an image file") from None
    except OSError as exc:
        raise UnreadableFrame(f"cannot be read: {exc.strerror or exc}") from None
    if not blob:
        raise UnreadableFrame("is empty (0 bytes)")
    header = probe_header(blob)
    if header.width <= 0 or header.height <= 0:
        raise UnreadableFrame(f"has no pixels ({header.width}x{header.height})")
    megapixels = header.width * header.height / 1e6
    if megapixels > max_megapixels:
        raise UnreadableFrame(f"is {header.width}x{header.height} ({megapixels:.0f} MP), over the "
                              f"{max_megapixels:g} MP limit (decode.max_megapixels)")
    check_complete(blob, header.format)
    return RawFrame(path=path, data=np.frombuffer(blob, dtype=np.uint8), sha256=hashlib.sha256(blob).hexdigest(),
                    size_bytes=len(blob), header=header)


def probe_header(blob: bytes) -> FrameHeader:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(blob)) as im:
                fmt = _FORMATS.get(im.format or "")
                width, height, mode = im.size[0], im.size[1], im.mode
                if fmt is None:
                    raise UnreadableFrame(f"is a {im.format} image; accepted are JPEG, PNG and TIFF")
                exif = im.getexif() if fmt in ("jpeg", "tiff") else None
                orientation = exif.get(0x0112, 1) if exif is not None else 1
                camera = camera_set_up(exif, im.size)
                icc_profile = im.info.get("icc_profile") or None
                if fmt == "tiff":
                    _check_tiff_strips(im, len(blob))
    except UnreadableFrame:
        raise
    except Exception as exc:  # Pillow raises many types for junk input
        if blob.startswith(b"\x89PNG\r\n\x1a\n") and blob[12:16] == b"IHDR":
            width, height = struct.unpack(">II", blob[16:24])
            if width == 0 or height == 0:
                raise UnreadableFrame(f"has no pixels ({width}x{height})") from None
        raise UnreadableFrame(f"is not a readable image ({type(exc).__name__})") from None
    if orientation in _ORIENTATION_SWAPS:
        width, height = height, width
    return FrameHeader(format=fmt, width=width, height=height, mode=mode, camera=camera,
                       icc_profile=icc_profile if isinstance(icc_profile, bytes) else None,
                       orientation=orientation if orientation in range(1, 9) else 1)


def camera_set_up(exif: Image.Exif | None, size: tuple[int, int]) -> str:
    """'make model #serial WxH' from EXIF (make 0x010F, model 0x0110, body serial 0xA431 in the Exif
    IFD); frames without EXIF are told apart by their size alone."""
    parts: list[str] = []
    if exif is not None:
        serial = exif.get_ifd(0x8769).get(0xA431)
        for value in (exif.get(0x010F), exif.get(0x0110)):
            if value:
                parts.append(" ".join(str(value).replace("\x00", " ").split()))
        if serial:
            parts.append("#" + " ".join(str(serial).replace("\x00", " ").split()))
    parts.append(f"{size[0]}x{size[1]}")
    return " ".join(parts)


def _check_tiff_strips(im: Image.Image, file_size: int) -> None:
    """A TIFF whose strips or tiles point past the end of the file was cut off while written."""
    tags = getattr(im, "tag_v2", {})
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets is None or counts is None:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,)
        end = max(int(o) + int(c) for o, c in zip(offsets, counts, strict=False))
        if end > file_size:
            raise UnreadableFrame(f"is truncated: TIFF image data ends at byte {end}, the file has {file_size}")


def check_complete(blob: bytes, fmt: str) -> None:
    """Refuse partly written files: decoders happily return a partial image for them."""
    if fmt == "jpeg":
        tail = blob.rstrip(b"\x00")
        if not tail.endswith(b"\xff\xd9"):
            raise UnreadableFrame("is truncated: the JPEG end marker is missing (file still being written?)")
    elif fmt == "png":
        if len(blob) < 12 or blob[-12:-8] != struct.pack(">I", 0) or blob[-8:-4] != b"IEND":
            raise UnreadableFrame("is truncated: the PNG end chunk is missing (file still being written?)")


_FULL_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH


def decode_full(raw: RawFrame) -> DecodedFrame:
    image = decode_jpeg(raw, 1) if raw.header.format == "jpeg" else None
    if image is None:
        image = cv2.imdecode(raw.data, _FULL_FLAGS)
    if image is None or image.size == 0:
        raise UnreadableFrame(f"could not be decoded as {raw.header.format.upper()}")
    if (image.shape[1], image.shape[0]) != (raw.header.width, raw.header.height):
        raise UnreadableFrame(f"decoded to {image.shape[1]}x{image.shape[0]}, but its header says "
                              f"{raw.header.width}x{raw.header.height}")
    return DecodedFrame(raw=raw, full=image)


def reduction_for(raw: RawFrame, min_long_side: int) -> int:
    """The largest JPEG DCT scaling (1, 2, 4, 8) that keeps the long side >= min_long_side."""
    long_side = max(raw.header.width, raw.header.height)
    for factor in (8, 4, 2):
        if long_side / factor >= min_long_side:
            return factor
    return 1


_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def decode_small(raw: RawFrame, min_long_side: int) -> np.ndarray | None:
    """A reduced 8-bit copy straight from the JPEG bitstream, or None where the format has no
    cheap path (PNG, TIFF: the caller then downsizes the full decode)."""
    if raw.header.format != "jpeg":
        return None
    factor = reduction_for(raw, min_long_side)
    if factor == 1:
        return None
    image = decode_jpeg(raw, factor)
    if image is None:
        image = cv2.imdecode(raw.data, _REDUCED_FLAGS[factor])
    if image is None or image.size == 0:
        raise UnreadableFrame("could not be decoded as JPEG")
    return image


def decode_jpeg(raw: RawFrame, factor: int) -> np.ndarray | None:
    """8-bit BGR at 1/factor of the stored size (factor 1, 2, 4 or 8), EXIF orientation applied.

    Raises UnreadableFrame for damaged scan data. None where TurboJPEG cannot decode the file
    at all (an unusual JPEG variant): the caller then tries OpenCV."""
    if simplejpeg is None:
        return None
    stored_w, stored_h = raw.header.width, raw.header.height
    if raw.header.orientation in _ORIENTATION_SWAPS:
        stored_w, stored_h = stored_h, stored_w
    # TurboJPEG picks the largest scaling that keeps both minimums: ask for exactly 1/factor
    size = {"min_factor": factor, "min_width": -(-stored_w // factor), "min_height": -(-stored_h // factor)}
    try:
        image = simplejpeg.decode_jpeg(raw.data, colorspace="BGR", strict=True, **size)
    except ValueError as strict_error:
        # strict mode turns libjpeg's recoverable warnings into errors; if the lenient decode
        # succeeds, the warning was about the data itself (damaged or missing scan data)
        try:
            simplejpeg.decode_jpeg(raw.data, colorspace="BGR", min_factor=8, min_width=1, min_height=1,
                                   strict=False)
        except ValueError:
            return None
        raise UnreadableFrame(f"is corrupt: {strict_error} (damaged in writing or copying; "
                              "take or copy the frame again)") from None
    return apply_orientation(image, raw.header.orientation)


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a stored image upright by its EXIF orientation, as OpenCV's imread does."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.flip(image, -1)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation in _ORIENTATION_SWAPS:
        turned = cv2.transpose(image)
        flip = {5: None, 6: 1, 7: -1, 8: 0}[orientation]
        return turned if flip is None else cv2.flip(turned, flip)
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    return cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)  # type: ignore[call-overload]


def shrink(image: np.ndarray, long_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    small = image if scale >= 1 else cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                interpolation=cv2.INTER_AREA)
    return to_uint8(small)


class FrameDecoder:
    """Runs the full decode on a helper thread while the caller works on the small copy."""

    def __init__(self, max_megapixels: float) -> None:
        self.max_megapixels = max_megapixels
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode-full")

    def read(self, path: Path) -> RawFrame:
        return read_frame(path, self.max_megapixels)

    def start_full(self, raw: RawFrame) -> Future[DecodedFrame]:
        return self._pool.submit(decode_full, raw)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def file_identity(path: Path) -> tuple[int, int]:
    """(size, mtime_ns) of a file, following no symlinks beyond the one given."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns
