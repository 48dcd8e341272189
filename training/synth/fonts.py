"""Font discovery and text drawing: TrueType fonts from the usual system folders, Hershey fonts otherwise."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Standard places where Linux, macOS and Windows keep fonts; none of them is required.
FONT_DIRS = [
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
]

# Families grouped by look, matched on file name so any installed subset works.
STYLES: dict[str, tuple[str, ...]] = {
    "serif": (
        "DejaVuSerif.ttf",
        "LiberationSerif-Regular.ttf",
        "FreeSerif.ttf",
        "NimbusRoman-Regular",
        "P052-Roman",
        "C059-Roman",
    ),
    "serif_bold": (
        "DejaVuSerif-Bold.ttf",
        "LiberationSerif-Bold.ttf",
        "FreeSerifBold.ttf",
        "NimbusRoman-Bold",
        "P052-Bold",
        "C059-Bold",
    ),
    "serif_italic": (
        "DejaVuSerif-Italic.ttf",
        "LiberationSerif-Italic.ttf",
        "FreeSerifItalic.ttf",
        "NimbusRoman-Italic",
        "P052-Italic",
        "C059-Italic",
    ),
    "serif_bold_italic": (
        "DejaVuSerif-BoldItalic.ttf",
        "LiberationSerif-BoldItalic.ttf",
        "FreeSerifBoldItalic.ttf",
        "NimbusRoman-BoldItalic",
    ),
    "sans": (
        "DejaVuSans.ttf",
        "LiberationSans-Regular.ttf",
        "FreeSans.ttf",
        "NimbusSans-Regular",
        "LiberationSansNarrow-Regular.ttf",
        "DejaVuSansCondensed.ttf",
        "URWGothic-Book",
    ),
    "sans_bold": (
        "DejaVuSans-Bold.ttf",
        "LiberationSans-Bold.ttf",
        "FreeSansBold.ttf",
        "NimbusSans-Bold",
        "DejaVuSansCondensed-Bold.ttf",
        "LiberationSansNarrow-Bold.ttf",
    ),
    "mono": ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf", "FreeMono.ttf", "NimbusMonoPS-Regular"),
    "script": (
        "Z003-MediumItalic",
        "URWChanceryL",
        "LiberationSerif-Italic.ttf",
        "DejaVuSerif-Italic.ttf",
        "FreeSerifItalic.ttf",
        "DejaVuSans-Oblique.ttf",
    ),
}

HERSHEY = {
    "serif": cv2.FONT_HERSHEY_COMPLEX,
    "serif_bold": cv2.FONT_HERSHEY_TRIPLEX,
    "serif_italic": cv2.FONT_HERSHEY_COMPLEX | cv2.FONT_ITALIC,
    "serif_bold_italic": cv2.FONT_HERSHEY_TRIPLEX | cv2.FONT_ITALIC,
    "sans": cv2.FONT_HERSHEY_SIMPLEX,
    "sans_bold": cv2.FONT_HERSHEY_DUPLEX,
    "mono": cv2.FONT_HERSHEY_PLAIN,
    "script": cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
}


@functools.lru_cache(maxsize=1)
def _font_files() -> dict[str, str]:
    found: dict[str, str] = {}
    for d in FONT_DIRS:
        root = Path(os.path.expanduser(d))
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() in (".ttf", ".otf") and p.name not in found:
                found[p.name] = str(p)
    return found


@functools.lru_cache(maxsize=1)
def style_files() -> dict[str, list[str]]:
    """For each style, the installed font files that fit it (possibly none)."""
    files = _font_files()
    out: dict[str, list[str]] = {}
    for style, names in STYLES.items():
        hits: list[str] = []
        for n in names:
            for fname, path in files.items():
                if fname == n or (not n.endswith(".ttf") and fname.startswith(n)):
                    if path not in hits:
                        hits.append(path)
        out[style] = hits
    return out


@functools.lru_cache(maxsize=512)
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def pick_font(rng: np.random.Generator, style: str) -> str | None:
    """A font file for the style, or None when only the built-in Hershey fonts are available."""
    files = style_files().get(style, [])
    if not files:
        return None
    return files[int(rng.integers(len(files)))]


class InkCanvas:
    """A greyscale ink layer (0 = no ink, 255 = full ink) that text and strokes are drawn onto."""

    def __init__(self, h: int, w: int) -> None:
        self.h, self.w = h, w
        self._pil = Image.new("L", (w, h), 0)
        self._draw = ImageDraw.Draw(self._pil)

    def text_size(self, text: str, font: str | None, style: str, size: int) -> tuple[int, int]:
        size = max(size, 4)
        if font is not None:
            x0, y0, x1, y1 = self._draw.textbbox((0, 0), text, font=_truetype(font, size))
            return int(x1 - x0), int(size * 1.15)
        scale = size / 30.0
        (tw, _), _ = cv2.getTextSize(text, HERSHEY[style], scale, max(1, int(size / 14)))
        return int(tw), int(size * 1.15)

    def text(
        self, x: int, y: int, text: str, font: str | None, style: str, size: int, ink: int = 255
    ) -> None:
        """Draw text with its top-left corner at (x, y)."""
        size = max(size, 4)
        if font is not None:
            self._draw.text((x, y), text, fill=ink, font=_truetype(font, size))
            return
        arr = np.asarray(self._pil).copy()
        scale = size / 30.0
        cv2.putText(
            arr,
            text,
            (x, y + int(size * 0.8)),
            HERSHEY[style],
            scale,
            ink,
            max(1, int(size / 14)),
            cv2.LINE_AA,
        )
        self._pil = Image.fromarray(arr)
        self._draw = ImageDraw.Draw(self._pil)

    def array(self) -> np.ndarray:
        return np.asarray(self._pil).copy()


def text_patch(text: str, font: str | None, style: str, size: int) -> np.ndarray:
    """Ink (uint8) of one line of text in a tight box."""
    probe = InkCanvas(1, 1)
    tw, th = probe.text_size(text, font, style, size)
    c = InkCanvas(th + 2, tw + 4)
    c.text(2, 0, text, font, style, size)
    return c.array()
