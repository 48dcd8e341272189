"""CIELAB and CIEDE2000 in numpy, the ColorChecker Classic 24 reference, and the tolerances of
the imaging guidelines (FADGI, Metamorfoze) that colour accuracy is judged by.

Charts are judged in CIELAB D50, the illuminant the reference data is given in; camera sRGB
(D65) is adapted to D50 with the Bradford transform, as ICC colour management does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

# X-Rite ColorChecker Classic, "November 2014 and newer" formulation, CIELAB D50 2 degree,
# row by row from dark skin (top left, with the neutral row at the bottom).
COLORCHECKER24_NAMES: tuple[str, ...] = (
    "dark skin", "light skin", "blue sky", "foliage", "blue flower", "bluish green",
    "orange", "purplish blue", "moderate red", "purple", "yellow green", "orange yellow",
    "blue", "green", "red", "yellow", "magenta", "cyan",
    "white 9.5", "neutral 8", "neutral 6.5", "neutral 5", "neutral 3.5", "black 2",
)
COLORCHECKER24_LAB_D50 = np.array([
    [37.54, 14.37, 14.92], [64.66, 19.27, 17.50], [49.32, -3.82, -22.54],
    [43.46, -12.74, 22.72], [54.94, 9.61, -24.79], [70.48, -32.26, -0.37],
    [62.73, 35.83, 56.50], [39.43, 10.75, -45.17], [50.57, 48.64, 16.67],
    [30.10, 22.54, -20.87], [71.77, -24.13, 58.19], [71.51, 18.24, 67.37],
    [28.37, 15.42, -49.80], [54.38, -39.72, 32.27], [42.43, 51.05, 28.62],
    [81.80, 2.67, 80.41], [50.63, 51.28, -14.12], [49.57, -29.71, -28.32],
    [95.19, -1.03, 2.93], [81.29, -0.57, 0.44], [66.89, -0.75, -0.06],
    [50.76, -0.13, 0.14], [35.63, -0.46, -0.48], [20.64, 0.07, -0.46],
])
COLORCHECKER24_ROWS, COLORCHECKER24_COLS = 4, 6
NEUTRAL_PATCHES = tuple(range(18, 24))  # zero-based indices of the bottom row

D50_WHITE = np.array([0.96422, 1.0, 0.82521])
_SRGB_TO_XYZ_D65 = np.array([[0.4124564, 0.3575761, 0.1804375],
                             [0.2126729, 0.7151522, 0.0721750],
                             [0.0193339, 0.1191920, 0.9503041]])
# Bradford chromatic adaptation D65 -> D50 (as used by ICC v4 profiles).
_BRADFORD_D65_TO_D50 = np.array([[1.0478112, 0.0228866, -0.0501270],
                                 [0.0295424, 0.9904844, -0.0170491],
                                 [-0.0092345, 0.0150436, 0.7521316]])
_SRGB_TO_XYZ_D50 = _BRADFORD_D65_TO_D50 @ _SRGB_TO_XYZ_D65


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] to linear light."""
    rgb = np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def xyz_to_lab(xyz: np.ndarray, white: np.ndarray = D50_WHITE) -> np.ndarray:
    t = np.asarray(xyz, dtype=np.float64) / white
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(t > eps, np.cbrt(t), (kappa * t + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_xyz(lab: np.ndarray, white: np.ndarray = D50_WHITE) -> np.ndarray:
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    fx, fz = fy + lab[..., 1] / 500, fy - lab[..., 2] / 200
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.stack([fx, fy, fz], axis=-1)
    t = np.where(f ** 3 > eps, f ** 3, (116 * f - 16) / kappa)
    return t * white


def srgb_to_lab_d50(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (last axis R, G, B) to CIELAB D50."""
    return xyz_to_lab(srgb_to_linear(rgb) @ _SRGB_TO_XYZ_D50.T)


def lab_d50_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB D50 to sRGB in [0, 1], clipped to the gamut (cyan of the ColorChecker is outside it)."""
    return linear_to_srgb(lab_to_xyz(lab) @ np.linalg.inv(_SRGB_TO_XYZ_D50).T)


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray, unit_lightness_weight: bool = False) -> np.ndarray:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal 2005), kL = kC = kH = 1.
    unit_lightness_weight: S_L = 1, as Metamorfoze computes colour accuracy."""
    lab1, lab2 = np.asarray(lab1, dtype=np.float64), np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl = l2 - l1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    d_big_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean = (l1 + l2) / 2
    cp_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    hp_mean = np.where(np.abs(h1p - h2p) <= 180, h_sum / 2,
                       np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2))
    hp_mean = np.where(c1p * c2p == 0, h_sum, hp_mean)
    t = (1 - 0.17 * np.cos(np.radians(hp_mean - 30)) + 0.24 * np.cos(np.radians(2 * hp_mean))
         + 0.32 * np.cos(np.radians(3 * hp_mean + 6)) - 0.20 * np.cos(np.radians(4 * hp_mean - 63)))
    d_theta = 30 * np.exp(-(((hp_mean - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_mean ** 7 / (cp_mean ** 7 + 25.0 ** 7))
    s_l = 1.0 if unit_lightness_weight else 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.asarray(np.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (d_big_h / s_h) ** 2
                              + r_t * (dc / s_c) * (d_big_h / s_h)))


def white_balance_error(measured_lab: np.ndarray, reference_lab: np.ndarray) -> np.ndarray:
    """CIEDE2000 with the measured lightness replaced by the reference: the colour cast alone."""
    measured = np.array(measured_lab, dtype=np.float64, copy=True)
    measured[..., 0] = np.asarray(reference_lab)[..., 0]
    return delta_e_2000(measured, reference_lab)


def exposure_scale(measured_lab: np.ndarray, reference_lab: np.ndarray) -> float:
    """The factor on linear light (XYZ) that best brings the measured lightness of grey patches to
    the reference lightness (least squares in L*, which is a cube root of luminance)."""
    measured = np.asarray(measured_lab, dtype=np.float64)[..., 0]
    reference = np.asarray(reference_lab, dtype=np.float64)[..., 0]
    cube_root = measured + 16  # 116 * Y^(1/3)
    denominator = float((cube_root * cube_root).sum())
    if denominator <= 0:
        return 1.0
    return float((cube_root * (reference + 16)).sum() / denominator) ** 3


def scale_exposure(lab: np.ndarray, scale: float) -> np.ndarray:
    """CIELAB of the same colours with linear light multiplied by scale."""
    return xyz_to_lab(lab_to_xyz(lab) * scale)


ColourGuideline = Literal["fadgi_4_star", "fadgi_3_star", "fadgi_2_star", "fadgi_1_star",
                          "metamorfoze", "metamorfoze_light", "metamorfoze_extra_light"]


@dataclass(frozen=True)
class GuidelineLimits:
    """Object-level tolerances of one guideline level; None: the level sets no limit."""

    title: str
    mean_delta_e: float | None
    p90_delta_e: float | None
    max_delta_e: float | None
    white_balance: float | None  # CIEDE2000 of the grey patches with lightness removed
    tone_delta_l: float | None  # lightness of the grey patches, reported only
    unit_lightness_weight: bool = False  # Metamorfoze: CIEDE2000 with S_L = 1


# FADGI 2023 star levels and Metamorfoze 2.0 (Full, Light, Extra Light).
GUIDELINES: dict[str, GuidelineLimits] = {
    "fadgi_4_star": GuidelineLimits("FADGI 4-star", 2.0, 4.0, None, 2.0, 1.5),
    "fadgi_3_star": GuidelineLimits("FADGI 3-star", 3.5, 7.0, None, 4.0, 3.0),
    "fadgi_2_star": GuidelineLimits("FADGI 2-star", 5.0, 10.0, None, 6.0, 4.5),
    "fadgi_1_star": GuidelineLimits("FADGI 1-star", 6.5, 13.0, None, 8.0, 6.0),
    "metamorfoze": GuidelineLimits("Metamorfoze", 3.0, None, 7.0, 3.0, 2.0, True),
    "metamorfoze_light": GuidelineLimits("Metamorfoze Light", 4.0, None, 14.0, 3.0, 2.0, True),
    "metamorfoze_extra_light": GuidelineLimits("Metamorfoze Extra Light", None, None, None, 5.0, 4.0, True),
}
