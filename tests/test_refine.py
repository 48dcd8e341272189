"""The class map `check --masks` writes: the network's coarse scores drawn along the frame's edges."""

from __future__ import annotations

import cv2
import numpy as np

from edge.classes import CLASS_IDS
from edge.segmentation.base import Segmentation
from edge.segmentation.letterbox import place_on_canvas
from edge.segmentation.refine import guided_filter, refined_class_map

CANVAS_HW = (768, 512)  # the bundled model's canvas; its output map is a stride of 4 coarser
SPECIMEN = CLASS_IDS["specimen"]
PAPER = (225, 225, 225)
PLANT = (40, 90, 60)


def _leaf_and_stem() -> tuple[np.ndarray, np.ndarray]:
    """A round leaf and a stem 6 px wide (1.5 output cells) on the canvas."""
    yy, xx = np.mgrid[0:CANVAS_HW[0], 0:CANVAS_HW[1]]
    leaf = (yy - 380.3) ** 2 + (xx - 250.7) ** 2 < 141.0 ** 2
    stem = (np.abs(xx - 100.5) < 3) & (yy > 100) & (yy < 700)
    return leaf, stem


def _plant_on_canvas() -> np.ndarray:
    leaf, stem = _leaf_and_stem()
    return np.asarray(leaf | stem)


def _network_scores(plant: np.ndarray, shift_px: int) -> np.ndarray:
    """Scores as a coarse network gives them: the plant's share of each 4 x 4 cell, blurred and
    `shift_px` off, specimen against background, every other class far below."""
    soft = np.roll(cv2.GaussianBlur(plant.astype(np.float32), (0, 0), 4), shift_px, axis=1)
    h, w = plant.shape
    share = soft.reshape(h // 4, 4, w // 4, 4).mean(axis=(1, 3))
    logits = np.full((len(CLASS_IDS), h // 4, w // 4), -8.0, np.float32)
    logits[SPECIMEN] = 4 * (share - 0.5)
    logits[0] = -logits[SPECIMEN]
    return logits


def _segmentation(logits: np.ndarray | None, source: np.ndarray) -> Segmentation:
    _, placement = place_on_canvas(source, CANVAS_HW)
    classes = (logits if logits is not None else np.zeros((1, 192, 128), np.float32)).argmax(axis=0)
    return Segmentation(classes=classes.astype(np.uint8), confidence=np.ones(classes.shape, np.float32),
                        placement=placement, logits=logits, stride=4)


def test_outlines_follow_the_frames_edges_where_the_scores_are_off() -> None:
    leaf, stem = _leaf_and_stem()
    plant = leaf | stem
    image = np.full((*CANVAS_HW, 3), PAPER, np.uint8)
    image[plant] = PLANT
    logits = _network_scores(plant, shift_px=3)
    seg = _segmentation(logits, image)

    smooth = cv2.resize(np.ascontiguousarray(logits.transpose(1, 2, 0)), CANVAS_HW[::-1],
                        interpolation=cv2.INTER_LINEAR).argmax(axis=2) == SPECIMEN  # the scores alone
    refined = refined_class_map(seg, image, CANVAS_HW) == SPECIMEN
    assert refined.shape == CANVAS_HW

    def wrong(found: np.ndarray) -> int:
        return int((found != plant).sum())

    assert wrong(refined) < 0.6 * wrong(smooth)
    assert (refined & ~plant).sum() < 0.6 * (smooth & ~plant).sum()  # paper called plant
    assert (smooth & stem).sum() < 0.05 * stem.sum()  # the stem the coarse scores lose ...
    assert (refined & stem).sum() > 0.25 * stem.sum()  # ... is partly found along its edges


def test_landscape_frame_at_its_own_size_in_its_own_orientation() -> None:
    # a landscape frame is turned onto the portrait canvas; the map comes back the frame's way up
    frame_plant = np.rot90(_plant_on_canvas())  # 512 x 768, as the frame lies
    frame = np.full((*frame_plant.shape, 3), PAPER, np.uint8)
    frame[frame_plant] = PLANT
    canvas_plant = cv2.rotate(frame_plant.astype(np.uint8), cv2.ROTATE_90_CLOCKWISE) > 0
    seg = _segmentation(_network_scores(canvas_plant, shift_px=0), frame)
    assert seg.placement.rotated
    big = cv2.resize(frame, (1536, 1024), interpolation=cv2.INTER_LINEAR)  # the frame, twice the canvas
    found = refined_class_map(seg, big, (1024, 1536)) == SPECIMEN
    truth = cv2.resize(frame_plant.astype(np.uint8), (1536, 1024), interpolation=cv2.INTER_NEAREST) > 0
    assert found.shape == (1024, 1536)
    assert (found & truth).sum() / (found | truth).sum() > 0.95


def test_a_sixteen_bit_frame_guides_as_its_eight_bit_copy() -> None:
    plant = _plant_on_canvas()
    image = np.full((*CANVAS_HW, 3), PAPER, np.uint8)
    image[plant] = PLANT
    seg = _segmentation(_network_scores(plant, shift_px=3), image)
    eight = refined_class_map(seg, image, CANVAS_HW)
    sixteen = refined_class_map(seg, image.astype(np.uint16) * 257, CANVAS_HW)
    assert (eight != sixteen).mean() < 1e-4


def test_without_scores_the_output_map_is_scaled_as_it_is() -> None:
    image = np.zeros((*CANVAS_HW, 3), np.uint8)
    seg = _segmentation(None, image)
    seg.classes[10:20, 30:40] = SPECIMEN
    out = refined_class_map(seg, image, CANVAS_HW)
    assert np.array_equal(out, seg.placement.to_size(seg.classes, *CANVAS_HW))


def test_guided_filter_keeps_what_the_guide_explains_and_smooths_the_rest() -> None:
    guide = np.zeros((200, 200), np.float32)
    guide[:, 100:] = 1.0  # one sharp edge
    explained = 0.5 * guide + 0.1  # a linear function of the guide passes through unchanged
    assert np.abs(guided_filter(guide, explained, 8, 1e-6) - explained).max() < 1e-3
    # a step in the source half a window away from the guide's edge: the output's sharpest change
    # lies on the guide's edge, and the source's own step is smoothed away
    shifted = np.zeros_like(guide)
    shifted[:, 96:] = 1.0
    out = guided_filter(guide, shifted, 8, 1e-4)
    steps = np.diff(out, axis=1)
    assert (steps.argmax(axis=1) == 99).all()
    assert steps[:, 95].max() < 0.1 and steps[:, 99].min() > 0.3
