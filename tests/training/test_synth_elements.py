"""Class maps of the generator's drawn elements: target strips, label stacks, rulers and hard negatives,
tilted and turned frames, slides and slide trays, specimen habits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.synth import (
    camera,
    compose,
    generate,
    labels,
    negatives,
    paper,
    plants,
    rulers,
    slides,
    stacks,
    targets,
    victorian,
)
from training.synth.barcodes import BARCODE, sticker
from training.synth.layer import KEEP, Layer

CHART, SCALE, LABEL, TYPE_LABEL, SPECIMEN = 5, 6, 2, 3, 1


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True))


@pytest.mark.parametrize("seed", range(6))
def test_target_strip_is_chart_on_its_patch_columns_and_scale_bar_on_its_tick_bands(seed: int) -> None:
    strip = targets.target_strip(np.random.default_rng(seed), 900, float(2.5 + seed * 0.5))
    cls = strip.cls
    assert set(np.unique(cls).tolist()) <= {0, CHART, SCALE}
    # Tick bands: whole rows of scale bar at the long edges, nowhere else, never chart.
    band_rows = (cls == SCALE).any(axis=1)
    assert (cls[band_rows] == SCALE).all()
    runs = _runs(band_rows)
    assert 1 <= len(runs) <= 2
    assert all(a == 0 or b == strip.h for a, b in runs)
    # Patch columns: chart in two blocks, one at each end; the ramp between them is background.
    chart_cols = (cls == CHART).any(axis=0)
    blocks = _runs(chart_cols)
    assert len(blocks) == 2
    (a0, a1), (b0, b1) = blocks
    assert a1 < strip.w * 0.3 and b0 > strip.w * 0.7
    inner = ~band_rows
    assert (cls[inner][:, a0:a1] == CHART).all() or (cls[inner][:, a0:a1] == CHART).mean() > 0.9
    middle = cls[inner][:, a1 + 4 : b0 - 4]
    assert (middle == 0).all()
    # ... and the ramp really is there: a run of greys from light to dark between the blocks.
    grey = strip.bgr[inner][:, a1 + 4 : b0 - 4].mean(axis=(0, 2))
    assert grey.max() - grey.min() > 150


def test_target_strip_laid_along_a_frame_edge_keeps_its_classes() -> None:
    rng = np.random.default_rng(3)
    canvas = Layer.solid(900, 600, (30, 30, 30), 0)
    strip = targets.target_strip(rng, 800, 3.0)
    targets.along_edge(rng, canvas, (0, 0, 600, 900), strip, "left")
    assert set(np.unique(canvas.cls).tolist()) == {0, CHART, SCALE}
    # turned upright along the left edge: tick bands are columns, chart blocks at the top and bottom
    rows = _runs((canvas.cls == CHART).any(axis=1))
    assert len(rows) == 2 and rows[0][1] < 300 and rows[1][0] > 600
    cols = (canvas.cls == SCALE).any(axis=0)
    assert cols[: strip.h + 10].any() and not cols[strip.h + 10 :].any()


def test_grey_step_card_is_one_chart() -> None:
    card = targets.grey_card(np.random.default_rng(0), 300)
    assert (card.cls == CHART).all()
    steps = card.bgr[card.h // 3, :, 0].astype(int)
    assert steps.max() - steps.min() > 150


@pytest.mark.parametrize("seed", range(4))
def test_label_stack_slips_are_label_on_their_own_pixels_with_shadow_edges(seed: int) -> None:
    rng = np.random.default_rng(seed)
    st = stacks.label_stack(rng, 300, 180, n=3 + seed)
    assert set(np.unique(st.cls).tolist()) <= {LABEL, KEEP}
    on = st.cls == LABEL
    assert float(st.alpha[on].min()) >= 0.45  # a slip's class stops at its own edge
    assert float(st.alpha[~on].max()) < 0.75  # what is not label is shadow or edge, never paper
    shadow = (~on) & (st.alpha > 0.05)
    assert shadow.sum() > 0.005 * st.alpha.size
    canvas = Layer.solid(st.h + 20, st.w + 20, (200, 200, 200), 0)
    canvas.paste(st, 10, 10)
    assert set(np.unique(canvas.cls).tolist()) == {0, LABEL}
    assert (canvas.cls == LABEL).sum() >= 300 * 180 * 0.5


def test_old_labels_are_low_contrast_tan_and_label_class() -> None:
    lab = labels.label(np.random.default_rng(1), 300, 180, "old")
    assert (lab.cls == LABEL).all()
    b, g, r = (float(lab.bgr[..., i].mean()) for i in range(3))
    assert r > g > b
    grey = cv2.cvtColor(lab.bgr, cv2.COLOR_BGR2GRAY).astype(float)
    assert np.percentile(grey, 99) - np.percentile(grey, 1) < 110


def test_text_and_accession_strips_are_label() -> None:
    rng = np.random.default_rng(2)
    strip = labels.text_strip(rng, 200, 24)
    assert strip.h > strip.w and (strip.cls == LABEL).all()
    acc = labels.accession_strip(rng, 40)
    assert acc.w > 3 * acc.h and (acc.cls == LABEL).all()


def test_inch_ruler_ticks_every_sixteenth_and_is_all_scale_bar() -> None:
    r = rulers.ruler(np.random.default_rng(0), 8.0, 101.6, rulers.RULER_COLOURS[0], inch=True)
    assert (r.cls == SCALE).all()
    grey = cv2.cvtColor(r.bgr, cv2.COLOR_BGR2GRAY)
    counts = [len(_runs(grey[row] < 128)) for row in (3, r.h - 4)]
    assert 60 <= max(counts) <= 68  # 4 inches: 64 sixteenths and the zero tick


def test_bare_line_scale_is_scale_bar_over_its_box_with_only_ink_drawn() -> None:
    ls = rulers.line_scale(np.random.default_rng(0), 4.0, (30, 30, 30), cm=5)
    assert (ls.cls == SCALE).all()
    assert 0.005 < float((ls.alpha > 0.5).mean()) < 0.5
    assert ls.w >= 5 * 10 * 4


def test_blue_and_clear_plastic_rulers_show_what_is_under_them() -> None:
    for i, lo, hi in ((6, 0.1, 0.4), (7, 0.4, 0.8)):
        r = rulers.ruler(np.random.default_rng(i), 4.0, 100, rulers.RULER_COLOURS[i])
        assert (r.cls == SCALE).all()
        assert lo < float(np.median(r.alpha)) < hi
        assert float(r.alpha.max()) > 0.9  # the printed ticks are opaque
    blue = rulers.RULER_COLOURS[7][0]
    assert blue[0] > blue[2] + 60


def test_hard_negatives_never_change_the_class_under_them() -> None:
    rng = np.random.default_rng(5)
    for lay in (
        negatives.wordmark(rng, 60, True),
        negatives.wordmark(rng, 60, False),
        negatives.ruled_form(rng, 400, 120),
        negatives.handwriting_line(rng, 300, 30),
    ):
        assert (lay.cls == KEEP).all()
        assert float(lay.alpha.max()) > 0.5  # something is drawn
        canvas = Layer.solid(lay.h, lay.w, (230, 230, 230), 0)
        canvas.paste(lay, 0, 0)
        assert not canvas.cls.any()


@pytest.mark.parametrize("style", ["mottled", "mat", "metal"])
def test_new_surrounds_are_textured(style: str) -> None:
    img = paper.surround(np.random.default_rng(1), 300, 200, style)
    assert img.shape == (300, 200, 3) and img.dtype == np.uint8
    assert float(img.std()) > 3


def test_cutting_mat_has_a_regular_grid() -> None:
    mat = paper.surround(np.random.default_rng(2), 400, 400, "mat").astype(float).mean(axis=2)
    cols = mat.mean(axis=0)
    lines = _runs(cols > np.median(cols) + 0.5 * (cols.max() - np.median(cols)))
    assert len(lines) >= 8
    gaps = np.diff([a for a, _ in lines])
    assert gaps.std() < 0.25 * gaps.mean()


@pytest.mark.parametrize("tilt,quarter", [(40.0, 0), (-33.0, 0), (0.0, 1), (25.0, 3)])
def test_tilted_and_turned_frames_carry_the_class_map_with_the_image(tilt: float, quarter: int) -> None:
    # a canvas whose image encodes its classes: the warped image must still agree with the warped mask
    rng = np.random.default_rng(0)
    out_w, out_h = 300, 420
    pad = max(20, camera.tilt_pad(out_w, out_h, tilt, 0.8))
    h, w = out_h + 2 * pad, out_w + 2 * pad
    cls = np.zeros((h, w), np.uint8)
    for k in range(1, 8):
        x0, y0 = int(rng.integers(pad, pad + out_w - 60)), int(rng.integers(pad, pad + out_h - 60))
        cls[y0 : y0 + 50, x0 : x0 + 50] = k
    img = np.repeat((cls * 30 + 10)[..., None], 3, axis=2).astype(np.uint8)
    hm = camera.frame_warp(rng, out_w, out_h, pad, tilt_deg=tilt, zoom=0.8)
    im, mk = camera.apply_warp(img, cls, hm, out_w, out_h)
    if quarter:
        im, mk, _ = camera.quarter_turn(im, mk, quarter)
        assert mk.shape == (out_w, out_h)
    # away from class edges, every pixel's value says its class
    edges = cv2.dilate(cv2.Canny(mk * 30, 1, 1), np.ones((3, 3), np.uint8)) > 0
    agree = np.abs(im[..., 0].astype(int) - (mk.astype(int) * 30 + 10)) <= 2
    assert agree[~edges].mean() > 0.999
    assert len(np.unique(mk)) == 8
    # the padding covers the whole tilted frame: no border smear needed
    ones = cv2.warpPerspective(np.ones((h, w), np.uint8), hm, (out_w, out_h), flags=cv2.INTER_NEAREST)
    assert ones.all()


def test_quarter_turned_frame_moves_barcode_boxes_with_it() -> None:
    rng = np.random.default_rng(4)
    canvas = Layer.solid(700, 500, (240, 240, 240), 0)
    bc = sticker(rng, "ABC-123456", "Code128", 4.0, (250, 250, 250))
    canvas.paste(bc, 60, 400)
    scene = compose.Scene(canvas, 400, 600, 50, quarter=1)
    img, mask, boxes = compose._shoot(rng, scene, 0.0, max_rot=0.0)
    assert mask.shape == (400, 600) and img.shape[:2] == (400, 600)
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]["bbox"]
    assert (mask[y0:y1, x0:x1] == BARCODE).mean() > 0.9


def test_big_tilts_are_a_minority_and_reach_45_degrees() -> None:
    rng = np.random.default_rng(0)
    draws = [camera.big_tilt(rng, 0.1) for _ in range(2000)]
    tilted = [a for a, _ in draws if a]
    assert 0.07 < len(tilted) / len(draws) < 0.13
    assert max(abs(a) for a in tilted) > 40 and min(abs(a) for a in tilted) >= 8


def test_generated_frames_are_reproducible_across_kinds() -> None:
    # 25 and 31 are sheets shot at a large tilt
    for seed in [*range(12), 25, 31]:
        kind = "herbarium_sheet" if seed % 3 else "microscope_slide"
        a, b = generate(seed, kind, 256), generate(seed, kind, 256)
        assert a.image.tobytes() == b.image.tobytes() and a.mask.tobytes() == b.mask.tobytes()
        assert a.barcodes == b.barcodes


@pytest.mark.parametrize("seed", range(3))
def test_slide_trays_hold_20_slides_each_with_label_and_specimen(seed: int) -> None:
    canvas, out_w, out_h, pad, boxes = slides.tray_scene(np.random.default_rng(seed), 700, False)
    assert len(boxes) == 20
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        cell = canvas.cls[max(y0, 0) : y1, max(x0, 0) : x1]
        assert ((cell == LABEL) | (cell == TYPE_LABEL)).any(), i
        assert (cell == SPECIMEN).any(), i
        for j, (a0, b0, a1, b1) in enumerate(boxes[:i]):
            assert min(x1, a1) - max(x0, a0) <= 2 or min(y1, b1) - max(y0, b0) <= 2, (i, j)


def test_tiny_mount_is_specimen_not_the_whole_coverslip() -> None:
    for seed in range(5):
        m = slides._tiny_mount(np.random.default_rng(seed), 200, bool(seed % 2))
        spec = m.cls == SPECIMEN
        assert 0 < spec.sum() < 0.06 * m.w * m.h
        assert not spec[0].any() and not spec[:, 0].any()  # the coverslip rim is glass


def test_thin_sections_are_specimen_inside_a_glass_coverslip() -> None:
    m = slides._sections(np.random.default_rng(1), 300, 200)
    spec = m.cls == SPECIMEN
    assert 0.15 < spec.mean() < 0.85
    assert not spec[0].any() and not spec[-1].any()
    assert set(np.unique(m.cls).tolist()) == {SPECIMEN, KEEP}


def test_ringed_type_label_and_makers_seals_follow_their_outline() -> None:
    tl = slides.ringed_type_label(np.random.default_rng(0), 120)
    assert set(np.unique(tl.cls).tolist()) == {TYPE_LABEL, KEEP}
    assert tl.cls[0, 0] == KEEP and tl.cls[60, 60] == TYPE_LABEL
    b, g, r = (tl.bgr[..., i].astype(int) for i in range(3))
    red = (r > 150) & (g < 90) & (b < 90) & (tl.cls == TYPE_LABEL)
    assert red.sum() > 200
    for seed in range(6):
        seal = slides.maker_seal(np.random.default_rng(seed), 100)
        assert set(np.unique(seal.cls).tolist()) == {LABEL, KEEP}
        assert seal.cls[-1, 0] == KEEP and seal.cls[-1, -1] == KEEP  # rounded or pointed below


def test_station_slides_have_two_labels_and_a_datamatrix() -> None:
    for seed in range(4):
        s = slides.slide(np.random.default_rng(seed), 12.0, 20.0, station=True)
        n, _, _, _ = cv2.connectedComponentsWithStats(((s.cls == LABEL) | (s.cls == TYPE_LABEL)).astype(np.uint8))
        assert n - 1 >= 2
        assert [b.format for b in s.barcodes] == ["DataMatrix"]


def test_white_station_surrounds_have_card_texture_and_mostly_a_ledge_with_a_shadow() -> None:
    ledges = 0
    for seed in range(10):
        flat = np.full((300, 900, 3), 238, np.uint8)
        out = slides._white_station_surround(np.random.default_rng(seed), flat, 30, 240).astype(np.float32)
        assert out[100:200, 100:800].std() > 1.0  # card grain, not a flat light box
        rows = out.mean(axis=(1, 2))
        ledges += bool(rows.min() < 225)  # the shadow under the ledge's edge
    assert 3 <= ledges <= 9


def test_old_slide_labels_are_tan_or_yellow_paper_with_large_writing() -> None:
    warm = 0
    for seed in range(12):
        lab = victorian.old_label(np.random.default_rng(seed), 240, 220)
        paper_px = lab.cls == LABEL
        assert set(np.unique(lab.cls).tolist()) <= {LABEL, KEEP} and paper_px.mean() > 0.6
        b, g, r = (np.median(lab.bgr[..., i][paper_px]) for i in range(3))
        warm += r - b > 25  # tan, buff or yellow rather than white
        tone = lab.bgr.mean(axis=2)
        ink = paper_px & (tone < np.median(tone[paper_px]) - 60)
        # the writing spans the label: a slide label carries a few big words, not a herbarium label's lines
        rows = np.nonzero(ink.any(axis=1))[0]
        assert ink.mean() > 0.02 and rows.max() - rows.min() > 0.45 * lab.h, seed
    assert warm >= 9


def test_ring_cell_is_specimen_over_the_whole_cell() -> None:
    cell = victorian.ring_cell(np.random.default_rng(3), 200)
    assert set(np.unique(cell.cls).tolist()) == {SPECIMEN, KEEP}
    assert cell.cls[100, 100] == SPECIMEN and cell.cls[100, 3] == SPECIMEN and cell.cls[0, 0] == KEEP


def test_old_slide_has_two_labels_a_mount_and_cover_paper_as_background() -> None:
    covered = 0
    for seed in range(10):
        s = victorian.victorian_slide(np.random.default_rng(seed), 12.0, across=bool(seed % 2))
        n, _, _, _ = cv2.connectedComponentsWithStats((s.cls == LABEL).astype(np.uint8))
        assert n - 1 >= 1 and (s.cls == SPECIMEN).any()
        assert set(np.unique(s.cls).tolist()) <= {0, SPECIMEN, LABEL}
        covered += bool((s.alpha[s.cls == 0] > 0.95).mean() > 0.5)  # opaque cover paper, still background
    assert 1 <= covered <= 7


def test_old_slide_close_ups_fill_the_frame_and_most_stand_upright() -> None:
    upright = 0
    old = compose.VICTORIAN_P
    compose.VICTORIAN_P = 1.0
    try:
        for seed in range(10):
            smp = generate(seed, "microscope_slide", 600, with_chart=False)
            h, w = smp.mask.shape
            upright += h > w
            assert 2.6 < max(h, w) / min(h, w) < 3.4
            assert (smp.mask > 0).mean() > 0.2 and (smp.mask == LABEL).mean() > 0.1
    finally:
        compose.VICTORIAN_P = old
    assert 3 <= upright <= 9


def _specimen(habit: str, seed: int) -> np.ndarray:
    img = np.full((600, 420, 3), 230, np.uint8)
    mask = np.zeros((600, 420), np.uint8)
    plants.draw_specimen(np.random.default_rng(seed), img, mask, (20, 20, 400, 580), habit)
    return mask == plants.SPECIMEN


def test_broad_leaves_are_large_and_stems_are_long_and_thin_and_parts_are_separate() -> None:
    for seed in range(3):
        assert _specimen("broad", seed).mean() > 0.06
        stems = _specimen("stems", seed)
        ys = np.nonzero(stems.any(axis=1))[0]
        assert ys.max() - ys.min() > 0.6 * 560 and stems.mean() < 0.03
        n, _ = cv2.connectedComponents(_specimen("parts", seed).astype(np.uint8))
        assert n - 1 >= 2
