"""From class map to regions: fragments, unsure parts and split objects."""

from __future__ import annotations

import numpy as np

from edge.classes import CLASS_IDS
from edge.segmentation.base import Segmentation
from edge.segmentation.letterbox import canvas_to_tensor, place_on_canvas
from edge.segmentation.regions import extract_regions

MAP_HW = (192, 128)  # the bundled model's output: canvas 768 x 512 at stride 4


def _segmentation(classes: np.ndarray, confidence: np.ndarray) -> Segmentation:
    # a portrait frame of the canvas's own shape fills the canvas, so map pixel (y, x) = frame (4y, 4x)
    _, placement = place_on_canvas(np.zeros((768, 512, 3), np.uint8), (768, 512))
    return Segmentation(classes=classes, confidence=confidence, placement=placement)


def _maps() -> tuple[np.ndarray, np.ndarray]:
    classes = np.zeros(MAP_HW, np.uint8)
    confidence = np.full(MAP_HW, 0.95, np.float32)
    # a specimen in two parts 3 map pixels apart (a label strip lies across the stem)
    classes[20:80, 30:60] = CLASS_IDS["specimen"]
    classes[83:140, 30:60] = CLASS_IDS["specimen"]
    # a confident barcode and an unsure chart-like smudge
    classes[150:156, 70:110] = CLASS_IDS["barcode"]
    classes[10:20, 100:120] = CLASS_IDS["colour_chart"]
    confidence[10:20, 100:120] = 0.45
    # a two-pixel speck
    classes[170, 10:12] = CLASS_IDS["stamp"]
    return classes, confidence


def test_regions_are_in_frame_pixels_and_specks_are_dropped() -> None:
    classes, confidence = _maps()
    regions = extract_regions(_segmentation(classes, confidence), (768, 512), min_fraction=0.0002)
    by_class = {r.class_name: r for r in regions}
    assert "stamp" not in by_class
    assert by_class["barcode"].bbox == (280, 600, 440, 624)
    assert by_class["barcode"].area_px == 6 * 40 * 16
    assert sorted(r.class_name for r in regions) == ["barcode", "colour_chart", "specimen", "specimen"]


def test_unsure_parts_are_dropped_with_a_score_floor() -> None:
    classes, confidence = _maps()
    regions = extract_regions(_segmentation(classes, confidence), (768, 512), 0.0002, min_score=0.6)
    assert "colour_chart" not in {r.class_name for r in regions}
    assert all(r.score >= 0.6 for r in regions)


def test_join_gap_makes_one_specimen_of_parts_close_together_and_keeps_the_area_honest() -> None:
    classes, confidence = _maps()
    seg = _segmentation(classes, confidence)
    joined = [r for r in extract_regions(seg, (768, 512), 0.0002, join_gap={"specimen": 4})
              if r.class_name == "specimen"]
    assert len(joined) == 1
    assert joined[0].bbox == (120, 80, 240, 560)
    # the gap between the parts is not counted as specimen
    assert joined[0].area_px == (60 + 57) * 30 * 16
    # a gap smaller than the space between the parts leaves them apart
    apart = [r for r in extract_regions(seg, (768, 512), 0.0002, join_gap={"specimen": 2})
             if r.class_name == "specimen"]
    assert len(apart) == 2


def test_a_per_class_score_floor_replaces_the_global_one_for_that_class_only() -> None:
    classes, confidence = _maps()
    confidence[150:156, 70:110] = 0.65  # the barcode, now less sure
    seg = _segmentation(classes, confidence)
    names = [r.class_name for r in extract_regions(seg, (768, 512), 0.0002, min_score=0.6,
                                                   class_min_score={"barcode": 0.7})]
    assert "barcode" not in names and names.count("specimen") == 2
    # a lower floor for one class lets its unsure part through while the global floor holds elsewhere
    confidence[10:20, 100:120] = 0.45
    names = [r.class_name for r in extract_regions(seg, (768, 512), 0.0002, min_score=0.6,
                                                   class_min_score={"colour_chart": 0.4})]
    assert "colour_chart" in names and "barcode" in names


def test_a_speck_is_not_joined_to_an_object_nearby() -> None:
    classes, confidence = _maps()
    classes[50:52, 26:28] = CLASS_IDS["specimen"]  # 4 map pixels, under the 5-pixel floor, 2 from the plant
    specimens = [r for r in extract_regions(_segmentation(classes, confidence), (768, 512), 0.0002,
                                            join_gap={"specimen": 4}) if r.class_name == "specimen"]
    assert len(specimens) == 1
    assert specimens[0].bbox == (120, 80, 240, 560)
    assert specimens[0].area_px == (60 + 57) * 30 * 16


def test_joining_parts_does_not_stretch_a_box_to_the_frame_edge() -> None:
    classes = np.zeros(MAP_HW, np.uint8)
    confidence = np.full(MAP_HW, 0.95, np.float32)
    classes[40:100, 2:50] = CLASS_IDS["specimen"]  # two map pixels from the left edge
    regions = extract_regions(_segmentation(classes, confidence), (768, 512), 0.0002, join_gap={"specimen": 4})
    assert [r.bbox for r in regions] == [(8, 160, 200, 400)]


def test_a_line_along_the_frame_edge_is_no_object_and_is_not_joined_to_one() -> None:
    classes = np.zeros(MAP_HW, np.uint8)
    confidence = np.full(MAP_HW, 0.95, np.float32)
    classes[40:100, 100:125] = CLASS_IDS["specimen"]  # a leaf three map pixels from the right edge
    classes[30:90, 127] = CLASS_IDS["specimen"]  # the scan's dark border, one map pixel wide
    classes[0, 10:60] = CLASS_IDS["stamp"]  # and one along the top edge
    seg = _segmentation(classes, confidence)
    regions = extract_regions(seg, (768, 512), 0.0002, join_gap={"specimen": 4})
    assert [(r.class_name, r.bbox) for r in regions] == [("specimen", (400, 160, 500, 400))]
    # two map pixels thick, it is an object cut by the edge
    classes[30:90, 126] = CLASS_IDS["specimen"]
    regions = extract_regions(seg, (768, 512), 0.0002, join_gap={"specimen": 4})
    assert [r.bbox for r in regions if r.class_name == "specimen"] == [(400, 120, 512, 400)]


def test_joining_accounts_for_every_pixel_of_every_part() -> None:
    """Parts scattered near each other and the map edge: each pixel lands in exactly one region,
    inside that region's box (the grouping must never shift or drop a part)."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        classes = np.zeros(MAP_HW, np.uint8)
        for _ in range(int(rng.integers(2, 12))):
            y, x = int(rng.integers(0, MAP_HW[0] - 3)), int(rng.integers(0, MAP_HW[1] - 3))
            classes[y:y + int(rng.integers(2, 4)), x:x + int(rng.integers(2, 4))] = CLASS_IDS["specimen"]
        seg = _segmentation(classes, np.full(MAP_HW, 0.9, np.float32))
        regions = extract_regions(seg, (768, 512), 0.0, join_gap={"specimen": 3})
        assert sum(r.area_px for r in regions) == int((classes > 0).sum()) * 16
        for y, x in zip(*np.nonzero(classes), strict=True):
            assert sum(r.bbox[0] <= 4 * x < r.bbox[2] and r.bbox[1] <= 4 * y < r.bbox[3] for r in regions) >= 1


def test_uint8_canvas_tensor_is_the_float_formula_exactly() -> None:
    # the uint8 path uses per-value lookup tables; it must equal the plain float computation
    canvas = np.random.default_rng(5).integers(0, 256, (96, 64, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    fast = canvas_to_tensor(canvas, mean, std)
    plain = canvas_to_tensor(canvas.astype(np.float32), mean, std)
    assert fast.shape == (1, 3, 96, 64) and fast.dtype == np.float32
    assert np.array_equal(fast, plain)
    # channel 0 is red: BGR's last plane
    expected_red = (canvas[..., 2].astype(np.float32) * np.float32(1 / 255) - np.float32(0.485)) / np.float32(0.229)
    assert np.allclose(fast[0, 0], expected_red, atol=1e-6)
