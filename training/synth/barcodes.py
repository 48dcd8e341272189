"""Real, decodable barcodes (zxing-cpp writer) carrying catalogue-number-like values, as sticker layers."""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from .fonts import InkCanvas, pick_font
from .layer import BarcodeMark, Layer

BARCODE = 4
FORMATS = {
    "Code128": zxingcpp.BarcodeFormat.Code128,
    "Code39": zxingcpp.BarcodeFormat.Code39,
    "DataMatrix": zxingcpp.BarcodeFormat.DataMatrix,
    "QRCode": zxingcpp.BarcodeFormat.QRCode,
}
PREFIXES = [
    "BM",
    "E",
    "K",
    "P",
    "L.",
    "NHMUK",
    "US",
    "MO-",
    "NY",
    "WAG.",
    "B 10 ",
    "GH",
    "A",
    "CAS",
    "PH",
    "MICH",
    "YU.",
    "BR",
    "G",
    "LE",
    "PE",
    "TEX",
    "BRU-",
    "NHA-",
    "CCNL-",
    "MASS",
]
URIS = [
    "https://data.rbge.org.uk/herb/{}",
    "http://specimens.kew.org/herbarium/{}",
    "https://data.nhm.ac.uk/object/{}",
    "http://coldb.mnhn.fr/catalognumber/mnhn/p/{}",
    "https://herbarium.bgbm.org/object/{}",
    "http://id.luomus.fi/{}",
]


def catalogue_number(rng: np.random.Generator) -> str:
    pre = PREFIXES[int(rng.integers(len(PREFIXES)))]
    n = int(rng.integers(5, 10))
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, n))
    return pre + digits


def value_for(rng: np.random.Generator, fmt: str) -> str:
    cat = catalogue_number(rng)
    if fmt == "QRCode" and rng.random() < 0.7:
        return URIS[int(rng.integers(len(URIS)))].format(cat.replace(" ", "").replace(".", ""))
    if fmt == "Code39":
        return cat.upper()
    return cat


def modules(text: str, fmt: str) -> np.ndarray:
    """The symbol as a 0/1 module array (1 = dark), without quiet zone: 1 row for linear codes."""
    bc = zxingcpp.create_barcode(text, FORMATS[fmt])
    img = np.asarray(bc.to_image(scale=1, add_quiet_zones=False))
    if img.ndim == 3:
        img = img[..., 0]
    dark = (img < 128).astype(np.uint8)
    if fmt in ("Code128", "Code39"):
        return dark[dark.shape[0] // 2 : dark.shape[0] // 2 + 1]
    return dark


def sticker(
    rng: np.random.Generator,
    text: str,
    fmt: str,
    px_per_mm: float,
    paper_bgr: tuple[float, float, float],
    ink_bgr: tuple[float, float, float] = (25, 25, 25),
    hrt: bool = True,
    cls_all: bool = True,
    module_mm: float | None = None,
    header: str | None = None,
) -> Layer:
    """A barcode on a small white sticker; the class map marks the code, quiet zone and printed text.

    px_per_mm sets physical size; modules are drawn at an integer size and then area-resized, which keeps
    bar edges as honest grey transitions the way a camera records them.
    """
    mod = modules(text, fmt)
    linear = mod.shape[0] == 1
    if linear:
        mod_mm = float(rng.uniform(0.3, 0.5)) if fmt == "Code128" else float(rng.uniform(0.36, 0.55))
        qz = 10
        # Institution stickers with a printed header often have short bars on a wide strip.
        height_mm = float(rng.uniform(4, 7)) if header else float(rng.uniform(7, 14))
    else:
        mod_mm = float(rng.uniform(0.45, 0.8)) if fmt == "DataMatrix" else float(rng.uniform(0.4, 0.6))
        qz = 2 if fmt == "DataMatrix" else 4
        height_mm = 0.0
    if module_mm is not None:
        mod_mm = module_mm
    n_w = mod.shape[1] + 2 * qz
    code_w = max(int(round(n_w * mod_mm * px_per_mm)), n_w)
    if linear:
        code_h = max(int(round(height_mm * px_per_mm)), 8)
    else:
        code_h = max(int(round((mod.shape[0] + 2 * qz) * mod_mm * px_per_mm)), mod.shape[0] + 2 * qz)
    # Draw modules at an integer scale large enough to resize down cleanly.
    s = max(1, int(np.ceil(code_w / n_w)))
    if linear:
        row = np.pad(mod[0], qz)
        big = np.repeat(row, s)[None, :].repeat(max(code_h, 1), 0)
    else:
        full = np.pad(mod, qz)
        big = np.kron(full, np.ones((s, s), np.uint8))
    dark = cv2.resize(big.astype(np.float32), (code_w, code_h), interpolation=cv2.INTER_AREA)
    text_h = 0
    if linear and hrt:
        text_h = max(int(round(3.0 * px_per_mm)), 6)
    head_h = max(int(round(2.2 * px_per_mm)), 5) if (header and linear) else 0
    margin = int(round(float(rng.uniform(0.5, 2.5)) * px_per_mm))
    side = int(round(float(rng.uniform(2, 12)) * px_per_mm)) if head_h else margin
    sh, sw = head_h + code_h + text_h + 2 * margin, code_w + 2 * side
    lay = Layer.solid(sh, sw, paper_bgr, BARCODE if cls_all else 0)
    ink = np.zeros((sh, sw), np.float32)
    top = margin + head_h
    if head_h:
        hc = InkCanvas(head_h, sw - 2)
        font = pick_font(rng, "sans")
        size = max(int(head_h * 0.75), 4)
        tw, _ = hc.text_size(header or "", font, "sans", size)
        hc.text(max(0, (sw - 2 - tw) // 2), 0, header or "", font, "sans", size)
        ink[margin : margin + head_h, 1 : sw - 1] = hc.array() / 255.0
    ink[top : top + code_h, side : side + code_w] = dark * float(rng.uniform(0.85, 1.0))
    if text_h:
        tc = InkCanvas(text_h, code_w)
        style = "mono" if rng.random() < 0.5 else "sans"
        font = pick_font(rng, style)
        size = max(int(text_h * 0.8), 5)
        tw, _ = tc.text_size(text, font, style, size)
        tc.text(max(0, (code_w - tw) // 2), 0, text, font, style, size)
        ink[top + code_h : top + code_h + text_h, side : side + code_w] = tc.array() / 255.0
    ink_arr = np.array(ink_bgr, np.float32)
    lay.bgr = (lay.bgr * (1 - ink[..., None]) + ink_arr * ink[..., None]).astype(np.uint8)
    if not cls_all:
        lay.cls[margin : top + code_h + text_h, side : side + code_w] = BARCODE
    # Barcode box: the code with its quiet zone.
    x0, y0, x1, y1 = side, top, side + code_w, top + code_h
    lay.barcodes.append(
        BarcodeMark(text, fmt, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64))
    )
    return lay


def random_format(rng: np.random.Generator, slide: bool = False) -> str:
    if slide:
        return str(rng.choice(["DataMatrix", "QRCode", "Code128"], p=[0.8, 0.15, 0.05]))
    return str(rng.choice(["Code128", "Code39", "DataMatrix", "QRCode"], p=[0.55, 0.2, 0.12, 0.13]))
