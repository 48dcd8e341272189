"""Is a 4 x 6 patch grid a ColorChecker Classic 24? Other targets share its grid but not its colours.

A CameraTrax 24ColorCard, the creative side of a ColorChecker Passport or a home-made card may
also be four rows of six patches; judging them against the Classic 24 reference gives large,
meaningless colour errors. The Classic 24 is recognised by its own layout: a row of six greys,
neutral among themselves and in lightness order from white to black, and eighteen colour patches
whose hues follow the reference. A colour cast or an exposure error leaves all of these intact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.qc.colour_science import COLORCHECKER24_LAB_D50, NEUTRAL_PATCHES

_COLOUR_PATCHES = slice(0, 18)
# The inner greys (neutral 8 to 3.5) set the frame's cast: the white may be clipped, the black noisy.
_INNER_GREYS = slice(19, 23)
# Agreement of the colour patches' a*, b* (cast removed) with the reference, as a cosine: a Classic 24
# under any reasonable light and camera profile scores above 0.9, a differently laid-out card far less.
MIN_COLOUR_AGREEMENT = 0.8
# Greys may differ from their common cast by this much chroma (a*, b* units)...
MAX_GREY_CHROMA = 8.0
# ...and must span at least this much lightness from the white to the black patch.
MIN_GREY_RANGE = 30.0
# A step down the grey row may rise by this much lightness (noise, a clipped white and neutral 8).
_GREY_STEP_TOLERANCE = 2.0
# ColorChecker patches (Classic, Mini, Passport) are set apart by black gaps; look-alike cards with the
# same layout and nominal colours but other paints (the CameraTrax 24ColorCard) have patches almost
# touching. Measured on real frames: ColorCheckers 0.74 of the pitch, CameraTrax cards 0.94-0.97.
MAX_PATCH_FRACTION = 0.9


@dataclass(frozen=True)
class TargetMatch:
    colour_agreement: float  # cosine of measured and reference a*, b* of the 18 colour patches
    grey_chroma: float  # largest chroma of an inner grey around the greys' common cast
    grey_range: float  # lightness from the white to the black patch
    greys_ordered: bool
    patch_fraction: float | None = None  # share of the pitch a patch covers; None: not measured

    @property
    def is_classic24(self) -> bool:
        return not self.reasons

    @property
    def reasons(self) -> list[str]:
        """Why the grid is not a Classic 24; empty when it is."""
        out = []
        if self.colour_agreement < MIN_COLOUR_AGREEMENT:
            out.append(f"its colours do not follow the Classic 24 layout (agreement {self.colour_agreement:.2f}, "
                       f"at least {MIN_COLOUR_AGREEMENT} expected)")
        if self.grey_chroma > MAX_GREY_CHROMA:
            out.append(f"no neutral grey row (chroma {self.grey_chroma:.1f} among the greys)")
        if not self.greys_ordered or self.grey_range < MIN_GREY_RANGE:
            out.append(f"no grey row stepping from white to black (lightness range {self.grey_range:.0f})")
        if self.patch_fraction is not None and self.patch_fraction > MAX_PATCH_FRACTION:
            out.append(f"its patches almost touch ({self.patch_fraction:.2f} of the pitch; a ColorChecker's "
                       "black gaps are wider): a look-alike card such as the CameraTrax 24ColorCard, "
                       "whose paints differ from the Classic 24 reference")
        return out


def match_classic24(lab: np.ndarray, patch_fraction: float | None = None) -> TargetMatch:
    """How well 24 measured CIELAB colours, in the Classic 24's patch order, fit its layout;
    patch_fraction: the share of the pitch a patch covers, where measured."""
    lab = np.asarray(lab, dtype=np.float64)
    cast = lab[_INNER_GREYS, 1:].mean(axis=0)
    grey_chroma = float(np.linalg.norm(lab[_INNER_GREYS, 1:] - cast, axis=1).max())
    colours = (lab[_COLOUR_PATCHES, 1:] - cast).ravel()
    reference = COLORCHECKER24_LAB_D50[_COLOUR_PATCHES, 1:].ravel()
    norm = float(np.linalg.norm(colours) * np.linalg.norm(reference))
    agreement = float(colours @ reference) / norm if norm > 0 else 0.0
    grey_l = lab[list(NEUTRAL_PATCHES), 0]
    ordered = bool(np.all(np.diff(grey_l) <= _GREY_STEP_TOLERANCE))
    return TargetMatch(agreement, grey_chroma, float(grey_l[0] - grey_l[-1]), ordered, patch_fraction)


def layout_score(lab: np.ndarray) -> float:
    """A single figure to choose the chart's orientation by: the colour agreement, less for a grey
    row that is out of order."""
    match = match_classic24(lab)
    return match.colour_agreement + (0.5 if match.greys_ordered else 0.0)
