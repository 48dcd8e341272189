"""Segmenting a tilted frame upright.

The segmenter learnt sheets square to the frame: on a sheet photographed tilted by 30-40 degrees it
finds almost nothing, while the same pixels turned upright give labels, barcode and chart. So a
frame whose dominant edges are tilted is turned upright (on the small copy given to the segmenter,
a cheap rotation of about 1000 pixels), segmented, and its class map is turned back into the
frame's own pixels, so regions and the full-resolution class map keep describing the frame as
delivered. Quarter turns need nothing: the skew estimate folds them away, and the segmenter judges
sheets lying at 90 or 180 degrees as well as upright ones.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.segmentation.base import Segmentation, Segmenter
from edge.segmentation.letterbox import CanvasPlacement

# Frames tilted less than this are segmented as they are: the segmenter copes with small tilts,
# and every turn costs it a little resolution (the grown canvas is scaled down to fit).
DESKEW_MIN_DEG = 1.5
# A pixel belongs to the sheet, not the surround, when a channel differs from the surround's
# colour by more than this; the kept box reaches this share of the long side past them.
_CONTENT_LEVEL = 40
_CONTENT_MARGIN = 0.02
# The background score given to map pixels the turned image did not cover (the others get 0), so
# the refined class map (`edge.segmentation.refine`) calls them background as the class map does.
_OUTSIDE_BACKGROUND = 1e4


def surround_colour(image: np.ndarray) -> tuple[int, ...]:
    """The median colour of the frame's outermost pixels: what lies around the sheet."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).reshape(-1, image.shape[2])
    return tuple(int(v) for v in np.median(border, axis=0))


def upright(image: np.ndarray, tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned by `tilt_deg` (as `skew_degrees` measures it) so its edges are square, on a
    canvas grown to hold all of it, the new corners filled with the surround's colour, then cut to
    what differs from the surround; and the 2 x 3 matrix taking the image's pixel coordinates to the
    upright image's."""
    h, w = image.shape[:2]
    # skew_degrees reports -a for a frame OpenCV turned by +a, so turning by the measured value undoes it
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), tilt_deg, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    out_w, out_h = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    matrix[0, 2] += out_w / 2 - w / 2
    matrix[1, 2] += out_h / 2 - h / 2
    fill = surround_colour(image)
    turned = cv2.warpAffine(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    # The grown canvas is mostly surround at its corners; keeping only what differs from the
    # surround (the sheet and whatever lies beside it) gives the segmenter back the resolution
    # the turn took.
    x0, y0, x1, y1 = _content_box(turned, fill)
    matrix[0, 2] -= x0
    matrix[1, 2] -= y0
    return np.ascontiguousarray(turned[y0:y1, x0:x1]), matrix


def _content_box(image: np.ndarray, fill: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = image.shape[:2]
    # plane by plane with OpenCV: numpy's reductions over the 3-long channel axis and over rows took
    # several times the segmenter's own time on a 1500 px copy
    planes = list(cv2.split(image))
    steepest = cv2.absdiff(planes[0], np.full_like(planes[0], fill[0]))
    for plane, level in zip(planes[1:], fill[1:], strict=False):
        steepest = cv2.max(steepest, cv2.absdiff(plane, np.full_like(plane, level)))
    _, differs = cv2.threshold(steepest, _CONTENT_LEVEL, 1, cv2.THRESH_BINARY)  # 1 where above the level
    differs = cv2.morphologyEx(differs, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    rows = np.flatnonzero(cv2.reduce(differs, 1, cv2.REDUCE_MAX).ravel())
    cols = np.flatnonzero(cv2.reduce(differs, 0, cv2.REDUCE_MAX).ravel())
    if rows.size == 0 or (rows[-1] - rows[0]) * (cols[-1] - cols[0]) < 0.1 * h * w:
        return 0, 0, w, h
    pad = int(round(_CONTENT_MARGIN * max(h, w)))
    return (max(0, int(cols[0]) - pad), max(0, int(rows[0]) - pad),
            min(w, int(cols[-1]) + 1 + pad), min(h, int(rows[-1]) + 1 + pad))


def back_to_frame(seg: Segmentation, matrix: np.ndarray, image_hw: tuple[int, int]) -> Segmentation:
    """The segmentation of an upright image (see `upright`) in the pixels of the image it was
    turned from, at the density the segmenter's output map had: the class map is turned back
    (nearest neighbour, background where the upright image had no pixels of the frame)."""
    classes = seg.placement.crop_to_source_orientation(seg.classes)
    confidence = seg.placement.crop_to_source_orientation(seg.confidence)
    up_h, up_w = seg.placement.source_hw
    # map pixels per upright-image pixel, the same along both axes up to rounding
    density = 0.5 * (classes.shape[0] / up_h + classes.shape[1] / up_w)
    out_h = max(1, int(round(image_hw[0] * density)))
    out_w = max(1, int(round(image_hw[1] * density)))
    # frame-map coordinates -> frame pixels -> upright pixels -> upright-map coordinates, each map
    # pixel standing for the centre of the block of image pixels it covers
    shift = 0.5 * density - 0.5
    scale = np.array([[density, 0.0, shift], [0.0, density, shift], [0.0, 0.0, 1.0]])
    to_upright_map = scale @ np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(scale)
    flags = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    back_classes = cv2.warpAffine(classes, to_upright_map[:2], (out_w, out_h), flags=flags,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    back_confidence = cv2.warpAffine(confidence, to_upright_map[:2], (out_w, out_h), flags=flags,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    back_logits = None
    if seg.logits is not None:
        # scores turn back smoothly; where the upright image had no pixels of the frame, background
        # (channels last, as OpenCV warps them)
        logits = seg.placement.crop_to_source_orientation(np.ascontiguousarray(seg.logits.transpose(1, 2, 0)))
        warped = cv2.warpAffine(logits, to_upright_map[:2], (out_w, out_h),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE).reshape(out_h, out_w, -1)
        outside = cv2.warpAffine(np.ones(logits.shape[:2], np.uint8), to_upright_map[:2], (out_w, out_h),
                                 flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0) == 0
        warped[outside, 0] = _OUTSIDE_BACKGROUND
        warped[outside, 1:] = 0.0
        back_logits = warped.transpose(2, 0, 1)
    placement = CanvasPlacement(source_hw=image_hw, canvas_hw=(out_h, out_w), rotated=False,
                                placed_hw=(out_h, out_w), offset_yx=(0, 0))
    return Segmentation(classes=back_classes, confidence=back_confidence, placement=placement, logits=back_logits,
                        stride=seg.stride)


def segment_square(segmenter: Segmenter, image: np.ndarray, tilt_deg: float, min_tilt_deg: float) -> Segmentation:
    """Segment `image`, turned upright first when it is tilted by `min_tilt_deg` or more; the result
    always describes `image` as given."""
    if abs(tilt_deg) < min_tilt_deg:
        return segmenter.segment(image)
    turned, matrix = upright(image, tilt_deg)
    return back_to_frame(segmenter.segment(turned), matrix, (int(image.shape[0]), int(image.shape[1])))
