"""Colours of a frame that carries an ICC profile, converted to sRGB with LittleCMS (Pillow's ImageCms).

Only the pixels that are measured (the chart's patch windows) are converted, never the whole
frame. A transform is built once per distinct profile: a station sends the same one every frame.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageCms


@dataclass(frozen=True)
class ProfileConverter:
    """Converts BGR pixels encoded in the frame's profile to sRGB (relative colorimetric)."""

    description: str
    transform: ImageCms.ImageCmsTransform

    def to_srgb(self, bgr: np.ndarray) -> np.ndarray:
        """(..., 3) BGR, uint8 or uint16, to BGR sRGB in the same 0..255 (or 0..65535) scale, float.
        LittleCMS converts 8-bit pixels here; averaging a patch's many pixels afterwards keeps the
        mean finer than one step."""
        shape = bgr.shape
        pixels = np.asarray(bgr).reshape(-1, 3)
        full = 65535.0 if pixels.dtype == np.uint16 else 255.0
        eight = pixels if pixels.dtype == np.uint8 else np.clip(np.round(pixels / 257.0), 0, 255).astype(np.uint8)
        rgb = np.ascontiguousarray(eight[:, ::-1]).reshape(1, -1, 3)
        converted = ImageCms.applyTransform(Image.fromarray(rgb, "RGB"), self.transform)
        assert converted is not None  # a transform applied out of place returns the new image
        out = np.asarray(converted, dtype=np.float64).reshape(-1, 3)[:, ::-1]
        return np.asarray(out * (full / 255.0)).reshape(shape)


class UnusableProfile(ValueError):
    """The embedded profile cannot convert RGB frames (damaged, or for grey or CMYK data)."""


def profile_converter(icc_profile: bytes) -> ProfileConverter:
    """The converter for a profile's bytes; raises UnusableProfile with the reason."""
    return _converter(icc_profile)


@lru_cache(maxsize=8)
def _converter(icc_profile: bytes) -> ProfileConverter:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    except (OSError, ImageCms.PyCMSError, ValueError) as exc:
        raise UnusableProfile(f"the embedded ICC profile cannot be read ({exc})") from None
    description = (ImageCms.getProfileDescription(source) or "unnamed").strip()
    space = source.profile.xcolor_space.strip()
    if space != "RGB":
        raise UnusableProfile(f"the embedded ICC profile {description!r} is for {space} data, not RGB")
    try:
        transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), "RGB", "RGB",
                                            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    except ImageCms.PyCMSError as exc:
        raise UnusableProfile(f"the embedded ICC profile {description!r} cannot convert to sRGB ({exc})") from None
    return ProfileConverter(description, transform)
