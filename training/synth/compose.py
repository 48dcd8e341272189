"""Scene composition: lays out paper, specimen, labels, barcodes, charts, rulers and stamps, then shoots."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from . import (
    barcodes,
    camera,
    charts,
    clutter,
    labels,
    negatives,
    objects,
    paper,
    plants,
    rulers,
    slides,
    stacks,
    stamps,
    targets,
    victorian,
)
from .layer import Layer, grey

KINDS = ("herbarium_sheet", "microscope_slide")


@dataclass
class Sample:
    image: np.ndarray  # H×W×3 uint8 BGR
    mask: np.ndarray  # H×W uint8 class ids
    kind: str
    barcodes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Scene:
    canvas: Layer
    out_w: int
    out_h: int
    pad: int
    tilt: float = 0.0  # extra frame rotation in degrees (camera.big_tilt)
    zoom: float = 1.0
    quarter: int = 0  # quarter turns of the finished frame (a sheet lying sideways in a landscape frame)


# Share of sheets shot at a large tilt, of slides likewise, and of sheets turned a quarter in the frame.
TILT_P_SHEET = 0.1
TILT_P_SLIDE = 0.06
# Share of chart-less slide frames that are close-ups of one old slide (victorian.py).
VICTORIAN_P = 0.3
QUARTER_P = 0.07
WIDE_P = 0.08  # sheets shot from further back, with much of the surround in frame


def _u(rng: np.random.Generator, a: float, b: float) -> float:
    return float(rng.uniform(a, b))


def _fit(lay: Layer, max_w: float, max_h: float) -> Layer:
    """Shrink a layer (area for the image, nearest for classes) so it fits max_w × max_h."""
    s = min(max_w / max(lay.w, 1), max_h / max(lay.h, 1), 1.0)
    if s >= 0.999:
        return lay
    w, h = max(int(lay.w * s), 2), max(int(lay.h * s), 2)
    out = Layer(
        cv2.resize(lay.bgr, (w, h), interpolation=cv2.INTER_AREA),
        cv2.resize(lay.alpha, (w, h), interpolation=cv2.INTER_AREA),
        cv2.resize(lay.cls, (w, h), interpolation=cv2.INTER_NEAREST),
    )
    for b in lay.barcodes:
        out.barcodes.append(type(b)(b.text, b.format, b.corners * np.array([w / lay.w, h / lay.h])))
    return out


def _paper_colour(lay: Layer) -> tuple[float, float, float]:
    """The dominant (paper) colour of a label, whatever its border or text."""
    m = np.median(lay.bgr[::3, ::3].reshape(-1, 3), axis=0)
    return float(m[0]), float(m[1]), float(m[2])


def _sheet_scene(
    rng: np.random.Generator, long_side: int, with_chart: bool, tilt: float = 0.0, zoom: float = 1.0
) -> Scene:
    out_h = long_side
    out_w = int(round(out_h * _u(rng, 0.64, 0.75)))
    pad = max(int(round(0.05 * long_side)), camera.tilt_pad(out_w, out_h, tilt, zoom))
    hc, wc = out_h + 2 * pad, out_w + 2 * pad
    layout = str(rng.choice(["strip", "surround", "fill", "flatbed"], p=[0.5, 0.2, 0.18, 0.12]))
    strip_side = str(rng.choice(["top", "bottom", "left"], p=[0.45, 0.3, 0.25]))
    style = str(
        rng.choice(
            ["black", "perforated", "grey", "white", "wood", "board", "mottled", "mat", "metal"],
            p=[0.38, 0.12, 0.1, 0.08, 0.1, 0.05, 0.07, 0.05, 0.05],
        )
    )
    if layout == "flatbed":
        style = "white"
    bg = paper.surround(rng, hc, wc, style)
    canvas = Layer(bg, np.ones((hc, wc), np.float32), np.zeros((hc, wc), np.uint8))

    # Sheet geometry in canvas pixels.
    if layout in ("fill", "flatbed"):
        sh = out_h * _u(rng, 0.97, 1.08)
        sw = sh * _u(rng, 0.66, 0.71)
        sx = pad + (out_w - sw) / 2 + rng.normal(0, out_w * 0.02)
        sy = pad + (out_h - sh) / 2 + rng.normal(0, out_h * 0.02)
    else:
        strip = _u(rng, 0.07, 0.13) if layout == "strip" else 0.0
        if layout == "strip" and strip_side == "left":
            sh = out_h * _u(rng, 0.9, 1.0)
            sw = min(sh * _u(rng, 0.66, 0.71), out_w * (1 - strip * 1.5))
            sh = min(sh, sw / 0.66)
            sx = pad + out_w * strip * 1.5 + (out_w * (1 - strip * 1.5) - sw) * _u(rng, 0.2, 0.8)
            sy = pad + (out_h - sh) / 2 + rng.normal(0, out_h * 0.01)
        else:
            sh = out_h * (1 - strip) * _u(rng, 0.86, 0.98)
            sw = min(sh * _u(rng, 0.66, 0.71), out_w * 0.97)
            sx = pad + (out_w - sw) / 2 + rng.normal(0, out_w * 0.015)
            free = out_h - sh
            if layout == "strip" and strip_side == "top":
                sy = pad + free * _u(rng, 0.75, 0.95)
            elif layout == "strip":
                sy = pad + free * _u(rng, 0.05, 0.25)
            else:
                sy = pad + free * _u(rng, 0.2, 0.8)
    sx0, sy0, sx1, sy1 = int(sx), int(sy), int(sx + sw), int(sy + sh)
    ppm = sh / 420.0  # a herbarium sheet is about 42 cm tall
    tone = paper.paper_tone(rng)

    if layout not in ("fill", "flatbed") and rng.random() < 0.3:
        # Folder or a second sheet peeking out beside the sheet.
        fh, fw = int(sh * _u(rng, 0.95, 1.05)), int(sw * _u(rng, 0.9, 1.05))
        fol = paper.folder(rng, fh, fw)
        dx = int(rng.choice([-1, 1]) * sw * _u(rng, 0.04, 0.12))
        canvas.paste(fol, sx0 + dx, sy0 + int(rng.normal(0, sh * 0.02)))
    if style not in ("white",):
        paper.soft_shadow(canvas.bgr, sx0, sy0, sx1, sy1, rng, _u(rng, 0.2, 0.6))
    sheet = paper.paper(rng, sy1 - sy0, sx1 - sx0, tone, foxing=bool(tone[0] < 205 and rng.random() < 0.5))
    canvas.paste(sheet, sx0, sy0)
    sheet_box = (sx0, sy0, sx1, sy1)

    def on_sheet(fx: float, fy: float) -> tuple[float, float]:
        return sx0 + fx * (sx1 - sx0), sy0 + fy * (sy1 - sy0)

    # Stamps and printed names sit on the paper, under everything else.
    if rng.random() < 0.12:
        pn = stamps.printed_name(rng, int(ppm * _u(rng, 4, 7)))
        canvas.place(_fit(pn, sw * 0.8, sh * 0.05), *on_sheet(0.5, _u(rng, 0.02, 0.05)))
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        st = stamps.random_stamp(rng, ppm)
        canvas.place(
            _fit(st, sw * 0.4, sh * 0.15),
            *on_sheet(_u(rng, 0.1, 0.9), _u(rng, 0.05, 0.95)),
            _u(rng, -20, 20) if rng.random() < 0.5 else 0.0,
        )

    # Hard negatives printed or written on the sheet itself (background): ruled forms, single lines of ink.
    if rng.random() < 0.15:
        form = negatives.ruled_form(rng, int(sw * _u(rng, 0.3, 0.6)), int(ppm * _u(rng, 10, 35)))
        canvas.place(form, *on_sheet(_u(rng, 0.3, 0.7), _u(rng, 0.5, 0.95)))
    if rng.random() < 0.25:
        hl = negatives.handwriting_line(rng, int(sw * _u(rng, 0.2, 0.5)), int(ppm * _u(rng, 5, 9)))
        canvas.place(hl, *on_sheet(_u(rng, 0.25, 0.75), _u(rng, 0.05, 0.95)), rng.normal(0, 2))

    # Labels.
    label_top = sy1
    right = bool(rng.random() < 0.75)
    lw = int(sw * _u(rng, 0.3, 0.48))
    lh = int(lw * _u(rng, 0.45, 0.75))
    r_kind = rng.random()
    main_kind = "type" if r_kind < 0.08 else "hand" if r_kind < 0.2 else "old" if r_kind < 0.3 else "main"
    stacked = main_kind != "type" and rng.random() < 0.2
    if stacked:
        # Several slips stacked on or around the main label: one label region per slip, all label class.
        lab = _fit(stacks.label_stack(rng, lw, lh), sw * 0.6, sh * 0.45)
    elif main_kind == "old" and rng.random() < 0.5:
        # Tan paper nearly the sheet's own tone.
        lab = labels.label(rng, lw, lh, "old", (tone[0] * 0.82, tone[1] * 0.9, tone[2] * 0.96))
    else:
        lab = labels.label(rng, lw, lh, main_kind)
    if not stacked and rng.random() < 0.2:
        # Barcode printed on the label itself.
        fmt = barcodes.random_format(rng)
        bc = barcodes.sticker(
            rng,
            barcodes.value_for(rng, fmt),
            fmt,
            ppm,
            _paper_colour(lab),
            cls_all=False,
        )
        bc.cls[bc.cls == 0] = 255  # label paper around the code keeps the label class
        if bc.w < lw * 0.9 and bc.h < lh * 0.5:
            lab.paste(bc, int(lw - bc.w - lw * 0.03), int(lh - bc.h - lh * 0.03))
    lw, lh = lab.w, lab.h
    lx = sx1 - lw / 2 - sw * _u(rng, 0.01, 0.06) if right else sx0 + lw / 2 + sw * _u(rng, 0.01, 0.06)
    ly = sy1 - lh / 2 - sh * _u(rng, 0.01, 0.05)
    canvas.place(lab, lx, ly, rng.normal(0, 0.7))
    label_top = int(ly - lh / 2)
    if rng.random() < 0.15:
        # A narrow strip of upright text stuck beside the label.
        ts = labels.text_strip(rng, int(lh * _u(rng, 0.6, 1.0)), max(int(ppm * _u(rng, 4, 8)), 6))
        tx = lx - lw / 2 - ts.w / 2 - sw * 0.005 if right else lx + lw / 2 + ts.w / 2 + sw * 0.005
        canvas.place(ts, tx, ly + rng.normal(0, lh * 0.05), rng.normal(0, 0.7))
    for _ in range(int(rng.choice([0, 0, 1, 1, 2]))):
        dw = int(sw * _u(rng, 0.2, 0.32))
        dh = int(dw * _u(rng, 0.25, 0.4))
        det = labels.label(rng, dw, dh, str(rng.choice(["det", "hand", "old"], p=[0.6, 0.25, 0.15])))
        if rng.random() < 0.12:
            # A slip turned on its side beside the label: long and narrow, like a ruler, but a label.
            canvas.place(det, *on_sheet(_u(rng, 0.05, 0.95), _u(rng, 0.3, 0.85)), 90.0 + rng.normal(0, 1.0))
            continue
        dy = label_top - dh / 2 - sh * _u(rng, 0.005, 0.02)
        canvas.place(det, lx + rng.normal(0, sw * 0.03), dy, rng.normal(0, 1.0))
        label_top = int(dy - dh / 2)
    if rng.random() < 0.2:
        acc = labels.accession_strip(rng, int(ppm * _u(rng, 5, 10)))
        at = on_sheet(_u(rng, 0.2, 0.8), _u(rng, 0.03, 0.9))
        canvas.place(_fit(acc, sw * 0.45, sh * 0.05), *at, rng.normal(0, 1))
    if main_kind != "type" and rng.random() < 0.12:
        tw = int(sw * _u(rng, 0.2, 0.35))
        tl = labels.label(rng, tw, int(tw * _u(rng, 0.45, 0.7)), "type")
        canvas.place(tl, *on_sheet(_u(rng, 0.15, 0.85), _u(rng, 0.05, 0.6)), rng.normal(0, 1.5))
    if rng.random() < 0.3:
        ow = int(sw * _u(rng, 0.25, 0.4))
        old = labels.label(rng, ow, int(ow * _u(rng, 0.4, 0.6)), "hand" if rng.random() < 0.5 else "main")
        canvas.place(
            old, *on_sheet(_u(rng, 0.2, 0.8) if right else 0.75, _u(rng, 0.08, 0.7)), rng.normal(0, 2)
        )

    if rng.random() < 0.15:
        # A colour photograph or painted plate of the living plant, mounted on the sheet: not specimen.
        pw = int(sw * _u(rng, 0.2, 0.55))
        ph = int(pw * _u(rng, 0.45, 1.1))
        photo = clutter.field_photo(rng, pw, ph)
        canvas.place(photo, *on_sheet(_u(rng, 0.2, 0.8), _u(rng, 0.1, 0.5)), rng.normal(0, 1))

    # Specimen: mostly above the labels, sometimes sprawling over the whole sheet.
    top_limit = label_top if rng.random() < 0.7 else sy1 - sh * 0.03
    # Drawn into a view of the sheet so the plant is clipped by the paper edge, never lying on the surround.
    cx0, cy0 = max(sx0, 0), max(sy0, 0)
    cx1, cy1 = min(sx1, canvas.w), min(sy1, canvas.h)
    region = (
        int(sx0 + sw * 0.04) - cx0,
        int(sy0 + sh * 0.03) - cy0,
        int(sx1 - sw * 0.04) - cx0,
        int(max(top_limit, sy0 + sh * 0.5)) - cy0,
    )
    bx0, by0, bx1, by1 = plants.draw_specimen(
        rng, canvas.bgr[cy0:cy1, cx0:cx1], canvas.cls[cy0:cy1, cx0:cx1], region
    )
    spec_box = (bx0 + cx0, by0 + cy0, bx1 + cx0, by1 + cy0)

    # Barcode stickers go on after mounting, so they sit on the paper and mostly avoid the plant.
    for _ in range(int(rng.choice([0, 1, 1, 1, 1, 1, 2]))):
        fmt = barcodes.random_format(rng)
        header = None
        if fmt in ("Code128", "Code39") and rng.random() < 0.5:
            header = "THE " + stamps.INSTITUTIONS[int(rng.integers(len(stamps.INSTITUTIONS)))]
        bc = barcodes.sticker(
            rng, barcodes.value_for(rng, fmt), fmt, ppm, grey(float(rng.uniform(238, 252))), header=header
        )
        ang = 90.0 if rng.random() < 0.08 else float(rng.normal(0, 1.5))
        bw, bh = (bc.h, bc.w) if ang == 90.0 else (bc.w, bc.h)
        for attempt in range(6):
            where = rng.random()
            if where < 0.5:
                bx, by = lx + rng.normal(0, lw * 0.2), label_top - bh / 2 - sh * 0.01
            elif where < 0.75:
                bx, by = on_sheet(_u(rng, 0.08, 0.3) if right else _u(rng, 0.7, 0.92), _u(rng, 0.85, 0.95))
            else:
                bx, by = on_sheet(_u(rng, 0.6, 0.9), _u(rng, 0.03, 0.1))
            x0, y0 = max(int(bx - bw / 2), 0), max(int(by - bh / 2), 0)
            under = canvas.cls[y0 : int(by + bh / 2) + 1, x0 : int(bx + bw / 2) + 1]
            if attempt == 5 or rng.random() < 0.1 or not (under == plants.SPECIMEN).any():
                break
        canvas.place(bc, bx, by, ang)

    if rng.random() < 0.5 and spec_box[2] > spec_box[0]:
        ys, xs = np.nonzero(
            canvas.cls[spec_box[1] : spec_box[3], spec_box[0] : spec_box[2]] == plants.SPECIMEN
        )
        for _ in range(int(rng.integers(1, 6)) if len(xs) else 0):
            k = int(rng.integers(len(xs)))
            t = objects.tape(rng, int(ppm * _u(rng, 15, 40)), int(ppm * _u(rng, 3, 8)))
            canvas.place(t, spec_box[0] + xs[k], spec_box[1] + ys[k], _u(rng, -90, 90))

    if rng.random() < 0.3:
        pw = int(sw * _u(rng, 0.18, 0.35))
        pk = paper.packet(rng, int(pw * _u(rng, 0.55, 0.8)), pw, tone)
        fx = float(rng.choice([0.2, 0.8]))
        canvas.place(pk, *on_sheet(fx, float(rng.choice([0.1, 0.88]))), rng.normal(0, 2))
    for _ in range(int(rng.choice([0, 0, 1, 1, 2]))):
        num = clutter.accession_number(rng, ppm)
        canvas.place(_fit(num, sw * 0.4, sh * 0.05), *on_sheet(_u(rng, 0.05, 0.95), _u(rng, 0.02, 0.98)))
    for _ in range(int(rng.choice([0, 0, 1, 1, 2]))):
        nw, nh = int(sw * _u(rng, 0.15, 0.35)), int(ppm * _u(rng, 4, 8))
        ink, col = labels.pencil_note(rng, nw, nh)
        x0, y0 = int(sx0 + sw * _u(rng, 0.05, 0.6)), int(sy0 + sh * _u(rng, 0.03, 0.95))
        note = Layer(
            np.broadcast_to(col.astype(np.uint8), (nh, nw, 3)).copy(), ink, np.full((nh, nw), 255, np.uint8)
        )
        canvas.paste(note, x0, y0)

    _charts_and_rulers(
        rng,
        canvas,
        layout,
        strip_side,
        sheet_box,
        (pad, pad, pad + out_w, pad + out_h),
        ppm,
        with_chart,
        tone,
    )

    for _ in range(int(rng.choice([0, 0, 0, 1, 1, 2]))):
        if rng.random() < 0.5:
            d = objects.random_distractor(rng, ppm)
        else:
            d = clutter.metal_disc(rng, int(ppm * _u(rng, 15, 35)), _u(rng, 0.3, 0.55) if rng.random() < 0.4 else 0.0)
        canvas.place(d, *on_sheet(_u(rng, -0.05, 1.05), _u(rng, -0.03, 1.03)), _u(rng, 0, 180))
    if rng.random() < 0.35:
        clutter.random_edge_clutter(rng, (pad, pad, pad + out_w, pad + out_h), canvas)
    return Scene(canvas, out_w, out_h, pad, tilt, zoom)


def _charts_and_rulers(
    rng: np.random.Generator,
    canvas: Layer,
    layout: str,
    strip_side: str,
    sheet: tuple[int, int, int, int],
    frame: tuple[int, int, int, int],
    ppm: float,
    with_chart: bool,
    tone: tuple[float, float, float],
) -> None:
    sx0, sy0, sx1, sy1 = sheet
    fx0, fy0, fx1, fy1 = frame
    want_ruler = rng.random() < 0.85
    if with_chart and layout != "flatbed" and rng.random() < 0.22:
        # A long target strip along a frame edge takes the place of the chart (and often of the ruler).
        side = strip_side if layout == "strip" else str(rng.choice(["top", "bottom", "left", "right"]))
        along = (fx1 - fx0) if side in ("top", "bottom") else (fy1 - fy0)
        room = None
        if layout == "strip" and side in ("top", "bottom"):
            room = max(sy0 - fy0 if side == "top" else fy1 - sy1, 12) * 0.95
        strip = targets.target_strip(rng, int(along * _u(rng, 0.7, 1.0)), ppm, room)
        targets.along_edge(rng, canvas, frame, strip, side)
        with_chart = False
        want_ruler = want_ruler and rng.random() < 0.4
    if with_chart and rng.random() < 0.12:
        # A separate grey step card beside whatever chart follows.
        gc = targets.grey_card(rng, int(ppm * _u(rng, 60, 150)))
        gx = sx0 + (sx1 - sx0) * _u(rng, 0.1, 0.9)
        gy = sy0 + gc.h if rng.random() < 0.5 else sy1 - gc.h
        canvas.place(gc, gx, gy, 90.0 if rng.random() < 0.3 else float(rng.normal(0, 1)))
    if layout in ("strip", "surround") and rng.random() < 0.15:
        # A long ruler strip along a frame edge, partly cut by it.
        r = rulers.ruler(rng, ppm, float(rng.choice([300, 400])))
        vertical = bool(rng.random() < 0.5)
        if vertical:
            x = fx0 + r.h * _u(rng, -0.2, 0.5) if rng.random() < 0.5 else fx1 - r.h * _u(rng, -0.2, 0.5)
            canvas.place(r, x, (fy0 + fy1) / 2 + rng.normal(0, (fy1 - fy0) * 0.1), 90.0)
        else:
            y = fy1 - r.h * _u(rng, -0.2, 0.5) if rng.random() < 0.6 else fy0 + r.h * _u(rng, -0.2, 0.5)
            canvas.place(r, (fx0 + fx1) / 2 + rng.normal(0, (fx1 - fx0) * 0.1), y)
    if layout == "strip":
        # Small chart and a ruler on the surround strip beside the sheet.
        if strip_side in ("top", "bottom"):
            band = (fy0, sy0) if strip_side == "top" else (sy1, fy1)
            bh = band[1] - band[0]
            cy = (band[0] + band[1]) / 2
            dark = float(canvas.bgr[int(min(max(cy, 0), canvas.h - 1)), (fx0 + fx1) // 2].mean()) < 100
            if rng.random() < 0.35 and bh > 8:
                # The institution's logo and name on the imaging bar: bold print, not a scale.
                wm = _fit(negatives.wordmark(rng, int(bh * _u(rng, 0.3, 0.6)), dark), (fx1 - fx0) * 0.4, bh * 0.8)
                canvas.place(wm, fx0 + (fx1 - fx0) * _u(rng, 0.55, 0.8), cy + rng.normal(0, bh * 0.05))
            x = fx0 + (fx1 - fx0) * _u(rng, 0.05, 0.2)
            if want_ruler:
                pick = rng.random()
                r = (
                    rulers.scale_strip(rng, ppm, 100.0)
                    if pick < 0.45
                    else rulers.ruler(rng, ppm, float(rng.choice([100, 150])), rulers.RULER_COLOURS[2])
                    if dark and pick < 0.7
                    else rulers.ruler(rng, ppm, float(rng.choice([100, 150])))
                )
                r = _fit(r, (fx1 - fx0) * 0.6, bh * 0.8)
                rx = x + r.w / 2
                canvas.place(r, rx, cy + rng.normal(0, bh * 0.05), rng.normal(0, 0.5))
                x = rx + r.w / 2 + (fx1 - fx0) * _u(rng, 0.03, 0.2)
            if with_chart:
                c = _fit(charts.random_chart(rng, ppm, small=True), (fx1 - fx0) * 0.3, bh * 0.85)
                if rng.random() < 0.5 and not want_ruler:
                    x = fx0 + (fx1 - fx0) * _u(rng, 0.5, 0.85)
                canvas.place(
                    c, min(x + c.w / 2, fx1 - c.w * 0.3), cy + rng.normal(0, bh * 0.05), rng.normal(0, 1)
                )
        else:
            bw = sx0 - fx0
            cx = (fx0 + sx0) / 2
            y = fy0 + (fy1 - fy0) * _u(rng, 0.03, 0.15)
            if with_chart:
                c = _fit(charts.random_chart(rng, ppm, small=True), bw * 0.9, (fy1 - fy0) * 0.2)
                canvas.place(c, cx, y + c.h / 2, 90.0 if rng.random() < 0.5 and c.w > c.h else 0.0)
                y += max(c.w, c.h) + (fy1 - fy0) * 0.03
            if want_ruler:
                r = rulers.scale_strip(rng, ppm, 100.0) if rng.random() < 0.5 else rulers.ruler(rng, ppm, 100)
                r = _fit(r, (fy1 - fy0) * 0.6, bw * 0.85)
                canvas.place(r, cx, y + r.w / 2, 90.0)
        return
    if layout in ("fill", "flatbed") and rng.random() < 0.6:
        # Targets laid along the frame edges, often cut by them.
        if with_chart:
            length = (fy1 - fy0) * _u(rng, 0.3, 0.7)
            if rng.random() < 0.5:
                c = charts.q13(rng, int(length), bool(rng.random() < 0.5))
            else:
                c = charts.patch_column(rng, int(ppm * _u(rng, 12, 25)), int(length))
                c = Layer(
                    np.ascontiguousarray(np.rot90(c.bgr, 1)),
                    np.ascontiguousarray(np.rot90(c.alpha, 1)),
                    np.ascontiguousarray(np.rot90(c.cls, 1)),
                )
            left = bool(rng.random() < 0.6)
            x = fx0 + c.h / 2 - c.h * _u(rng, 0.0, 0.4) if left else fx1 - c.h / 2 + c.h * _u(rng, 0.0, 0.4)
            canvas.place(c, x, fy0 + (fy1 - fy0) * _u(rng, 0.25, 0.7), 90.0)
        if want_ruler:
            r = rulers.ruler(rng, ppm, float(rng.choice([200, 300])))
            r = _fit(r, (fx1 - fx0) * 0.95, (fy1 - fy0) * 0.05)
            y = (
                fy1 - r.h / 2 + r.h * _u(rng, 0.0, 0.5)
                if rng.random() < 0.6
                else fy0 + r.h / 2 - r.h * _u(rng, 0, 0.5)
            )
            canvas.place(r, (fx0 + fx1) / 2 + rng.normal(0, (fx1 - fx0) * 0.05), y)
        return
    # On the sheet (or on the surround just beside it).
    sw, sh = sx1 - sx0, sy1 - sy0
    if with_chart:
        small = bool(rng.random() < 0.5)
        c = _fit(charts.random_chart(rng, ppm, small=small), sw * 0.5, sh * 0.3)
        if rng.random() < 0.3 and c.w > c.h:
            c = Layer(
                np.ascontiguousarray(np.rot90(c.bgr)),
                np.ascontiguousarray(np.rot90(c.alpha)),
                np.ascontiguousarray(np.rot90(c.cls)),
            )
        corner = int(rng.integers(4))
        cx = sx0 + c.w / 2 + sw * 0.02 if corner in (0, 2) else sx1 - c.w / 2 - sw * 0.02
        cy = sy0 + c.h / 2 + sh * 0.02 if corner in (0, 1) else sy0 + sh * _u(rng, 0.3, 0.6)
        if rng.random() < 0.15:
            cx += float(rng.choice([-1, 1])) * sw * 0.5  # off the sheet, maybe cut by the frame
        # Whatever the layout, most of the chart stays in frame: a chart cut away entirely is not in shot.
        cx = min(max(cx, fx0 + c.w * 0.25), fx1 - c.w * 0.25)
        cy = min(max(cy, fy0 + c.h * 0.25), fy1 - c.h * 0.25)
        canvas.place(c, cx, cy, rng.normal(0, 1))
    if want_ruler:
        if rng.random() < 0.4 and with_chart:
            # Combined strip (NSII style): a long bare ruler with a column of colour patches at one end;
            # each part keeps its class.
            r = rulers.ruler(rng, ppm, float(rng.choice([100, 150, 200])))
            pc = charts.patch_column(rng, max(int(r.h * 0.45), 2), max(int(r.w * _u(rng, 0.2, 0.45)), 2))
            pc = Layer(
                np.ascontiguousarray(np.rot90(pc.bgr)),
                np.ascontiguousarray(np.rot90(pc.alpha)),
                np.ascontiguousarray(np.rot90(pc.cls)),
            )
            r.paste(pc, r.w - pc.w - 2, r.h - pc.h)
        else:
            pick = rng.random()
            r = (
                rulers.ruler(rng, ppm)
                if pick < 0.45
                else rulers.ruler(rng, ppm, float(rng.choice([102, 152])), inch=True)
                if pick < 0.55
                else rulers.scale_strip(rng, ppm, 100.0)
                if pick < 0.7
                else rulers.scale_bar(rng, ppm, (30, 30, 30), tone)
                if pick < 0.82
                else rulers.line_scale(rng, ppm, (30, 30, 30))
            )
        r = _fit(r, sh * 0.9, sh * 0.9)
        vertical = bool(rng.random() < 0.5)
        if vertical:
            canvas.place(r, sx1 - r.h / 2 - sw * _u(rng, 0.01, 0.05), sy0 + sh * _u(rng, 0.2, 0.6), 90.0)
        else:
            canvas.place(r, sx0 + sw * _u(rng, 0.25, 0.6), sy0 + r.h / 2 + sh * _u(rng, 0.005, 0.03))


def _shoot(
    rng: np.random.Generator, scene: Scene, blur_sigma: float, max_rot: float = 3.0, defocus_radius: float = 0.0
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    hm = camera.frame_warp(
        rng, scene.out_w, scene.out_h, scene.pad, max_rot=max_rot, tilt_deg=scene.tilt, zoom=scene.zoom
    )
    img, mask = camera.apply_warp(scene.canvas.bgr, scene.canvas.cls, hm, scene.out_w, scene.out_h)
    if scene.quarter:
        img, mask, turn = camera.quarter_turn(img, mask, scene.quarter)
        hm = turn @ hm
    out_h, out_w = mask.shape
    img = camera.develop(rng, img, blur_sigma, defocus_radius)
    out: list[dict[str, Any]] = []
    for b in scene.canvas.barcodes:
        pts = camera.warp_points(b.corners, hm)
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        if x0 < 0 or y0 < 0 or x1 > out_w or y1 > out_h:
            continue  # cut by the frame: unreadable, but still in the mask
        box = [int(math.floor(x0)), int(math.floor(y0)), int(math.ceil(x1)), int(math.ceil(y1))]
        # Skip codes mostly hidden under later layers (packets, other stickers).
        # Leave out codes that a leaf, a packet or another sticker lies across: the inner part of the box must
        # be barcode class throughout (the margin allows for the slight rotation of the box).
        mx, my = (box[2] - box[0]) * 0.08, (box[3] - box[1]) * 0.08
        sub = mask[int(box[1] + my) : int(box[3] - my) + 1, int(box[0] + mx) : int(box[2] - mx) + 1]
        if sub.size == 0 or float(np.mean(sub == barcodes.BARCODE)) < 0.995:
            continue
        out.append({"text": b.text, "format": b.format, "bbox": box})
    return img, np.ascontiguousarray(mask), out


def generate(
    seed: int,
    kind: str = "auto",
    long_side: int = 1024,
    *,
    with_chart: bool | None = None,
    blur_sigma: float = 0.0,
    defocus_radius: float = 0.0,
) -> Sample:
    """One synthetic frame with its pixel-exact class map. Same arguments give byte-identical output.

    blur_sigma (a Gaussian) and defocus_radius (a uniform disc, as a lens out of focus gives) blur the
    image only, both in pixels of the output frame; neither draws from the frame's random stream.
    """
    rng = np.random.default_rng(seed)
    if kind == "auto":
        kind = "herbarium_sheet" if rng.random() < 0.7 else "microscope_slide"
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected 'auto' or one of {KINDS}")
    if long_side < 64:
        raise ValueError("long_side must be at least 64")
    if kind == "herbarium_sheet":
        chart = bool(rng.random() < 0.85) if with_chart is None else with_chart
        tilt, zoom = camera.big_tilt(rng, TILT_P_SHEET)
        if not tilt and rng.random() < WIDE_P:
            zoom = float(rng.uniform(0.65, 0.85))  # a wide shot: the whole set-up around the sheet
        quarter = int(rng.choice([1, 3])) if rng.random() < QUARTER_P else 0
        scene = _sheet_scene(rng, long_side, chart, tilt, zoom)
        scene.quarter = quarter
        img, mask, bcs = _shoot(rng, scene, blur_sigma, defocus_radius=defocus_radius)
    else:
        chart = bool(rng.random() < 0.3) if with_chart is None else with_chart
        tilt, zoom = camera.big_tilt(rng, TILT_P_SLIDE)
        quarter = 0
        if not chart and rng.random() < VICTORIAN_P:
            canvas, out_w, out_h, pad, across = victorian.victorian_scene(rng, long_side, tilt, zoom)
            # Writing across the slide: most such photographs are upright, the slide's long side vertical.
            quarter = 1 if across and rng.random() < 0.7 else 0
        else:
            canvas, out_w, out_h, pad = slides.slide_scene(rng, long_side, chart, tilt, zoom)
        img, mask, bcs = _shoot(
            rng,
            Scene(canvas, out_w, out_h, pad, tilt, zoom, quarter),
            blur_sigma,
            max_rot=2.0,
            defocus_radius=defocus_radius,
        )
    return Sample(image=img, mask=mask, kind=kind, barcodes=bcs)
