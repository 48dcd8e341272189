"""Collection labels, determination slips and type labels: printed text in several fonts and handwriting."""

from __future__ import annotations

import cv2
import numpy as np

from .fonts import InkCanvas, pick_font
from .layer import Layer, grain, lowfreq, rotated

LABEL = 2
TYPE_LABEL = 3

GENERA = [
    "Viola",
    "Acer",
    "Quercus",
    "Castanea",
    "Rubus",
    "Carex",
    "Salix",
    "Ranunculus",
    "Solanum",
    "Ficus",
    "Euphorbia",
    "Sambucus",
    "Poa",
    "Festuca",
    "Begonia",
    "Piper",
    "Psychotria",
    "Miconia",
    "Senecio",
    "Hypericum",
    "Potentilla",
    "Geranium",
    "Fagus",
    "Betula",
    "Asplenium",
    "Polypodium",
    "Juncus",
    "Rosa",
]
EPITHETS = [
    "acuminata",
    "platanoides",
    "rubrum",
    "dentata",
    "alba",
    "vulgaris",
    "officinalis",
    "montana",
    "canadensis",
    "pseudoplatanus",
    "sylvatica",
    "pratensis",
    "arvensis",
    "palustris",
    "hirsuta",
    "nigra",
    "repens",
    "elegans",
    "maritima",
    "japonica",
    "orientalis",
    "grandiflora",
    "minor",
    "major",
]
AUTHORS = [
    "L.",
    "Ledeb.",
    "Michx.",
    "(Marsh.) Borkh.",
    "Willd.",
    "DC.",
    "Sm.",
    "Benth.",
    "Hook.f.",
    "Mill.",
    "A.Gray",
    "Nutt.",
    "Pursh",
    "Kunth",
    "Lam.",
    "Thunb.",
]
PLACES = [
    "McNairy County, Tennessee, U.S.A.",
    "Dobong-gu, Seoul, Republic of Korea",
    "Nantucket, Mass.",
    "Hampshire Co., Massachusetts",
    "Mt. Kinabalu, Sabah",
    "Glen Clova, Angus, Scotland",
    "Sierra de Gredos, Avila, Spain",
    "Rio Negro, Amazonas, Brazil",
    "Kew Gardens, Surrey",
    "near Kunming, Yunnan, China",
    "Penobscot Co., Maine",
    "Cape Peninsula, South Africa",
    "Tasmania, Mt. Wellington",
    "Bukit Timah, Singapore",
    "Oaxaca, Mexico",
]
HABITATS = [
    "Growing in upland forest on slope",
    "Moist woods along stream",
    "Roadside, disturbed ground",
    "Open grassland, sandy soil",
    "Limestone cliffs",
    "Edge of bog",
    "Secondary forest, shaded",
    "Waste places near railway",
    "Alpine meadow, 2400 m",
]
HEADERS = [
    "PLANTS OF",
    "FLORA OF",
    "HERBARIUM OF THE",
    "EX HERBARIO",
    "PLANTAE",
    "Flora of North America",
    "Plants of Louisiana",
    "ITER",
    "Herbier",
    "BOTANICAL SURVEY OF",
]
REGIONS = [
    "NEW ENGLAND",
    "TENNESSEE",
    "CHINA",
    "BORNEO",
    "SCOTLAND",
    "MEXICO",
    "BRAZIL",
    "KOREA",
    "SPAIN",
    "MAINE",
    "THE BRITISH ISLES",
    "SOUTH AFRICA",
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec"]
TYPE_WORDS = [
    "HOLOTYPE",
    "ISOTYPE",
    "TYPE",
    "LECTOTYPE",
    "PARATYPE",
    "SYNTYPE",
    "Type specimen",
    "ISOLECTOTYPE",
]


def _pick(rng: np.random.Generator, xs: list[str]) -> str:
    return xs[int(rng.integers(len(xs)))]


def taxon(rng: np.random.Generator) -> str:
    return f"{_pick(rng, GENERA)} {_pick(rng, EPITHETS)}"


def date(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 29))} {_pick(rng, MONTHS)} {int(rng.integers(1820, 2024))}"


def label_lines(rng: np.random.Generator, kind: str) -> list[tuple[str, str, float, str]]:
    """Lines of a label as (text, style, relative size, align)."""
    lines: list[tuple[str, str, float, str]] = []
    if kind == "det":
        lines.append(("Det." if rng.random() < 0.5 else "Determinavit", "serif", 0.8, "left"))
        lines.append((taxon(rng) + " " + _pick(rng, AUTHORS), "serif_italic", 1.0, "left"))
        lines.append(
            (
                f"{_pick(rng, ['J.', 'A.', 'R.', 'M.'])} "
                f"{_pick(rng, ['Smith', 'Weber', 'Chen', 'Cho', 'Laport'])}"
                f"  {int(rng.integers(1900, 2024))}",
                "serif",
                0.8,
                "left",
            )
        )
        return lines
    if kind == "type":
        lines.append((_pick(rng, TYPE_WORDS), "sans_bold", 1.6, "center"))
        lines.append(("of " + taxon(rng) + " " + _pick(rng, AUTHORS), "serif_italic", 1.0, "center"))
        lines.append(
            (
                f"det. {_pick(rng, ['B. Verdcourt', 'P. Taylor', 'K. Lee'])} {int(rng.integers(1950, 2024))}",
                "serif",
                0.8,
                "center",
            )
        )
        return lines
    lines.append(
        (
            f"{_pick(rng, HEADERS)} {_pick(rng, REGIONS)}",
            str(rng.choice(["serif_bold", "sans_bold"])),
            1.3,
            "center",
        )
    )
    lines.append(
        (
            taxon(rng).upper() if rng.random() < 0.2 else taxon(rng) + " " + _pick(rng, AUTHORS),
            str(rng.choice(["serif_bold_italic", "serif_italic"])),
            1.2,
            "center",
        )
    )
    for _ in range(int(rng.integers(1, 7))):
        lines.append(
            (_pick(rng, PLACES) if rng.random() < 0.5 else _pick(rng, HABITATS), "serif", 0.8, "left")
        )
    if rng.random() < 0.5:
        lat, lon = float(rng.uniform(-60, 70)), float(rng.uniform(-180, 180))
        lines.append(
            (
                f"{abs(lat):.4f} {'N' if lat >= 0 else 'S'}  {abs(lon):.4f} {'E' if lon >= 0 else 'W'}"
                f"  Elev. {int(rng.integers(0, 3500))} m",
                "sans",
                0.75,
                "left",
            )
        )
    lines.append(
        (
            f"Coll. {_pick(rng, ['W. Cho', 'R. Laport', 'J.D. Hooker', 'C.W. Swan', 'G.S. Torrey'])}"
            f"  No. {int(rng.integers(1, 9999))}",
            "serif",
            0.9,
            "left",
        )
    )
    lines.append((date(rng), "serif", 0.9, "right"))
    return lines


def handwriting(
    ink: np.ndarray, rng: np.random.Generator, x: float, y: float, width: float, size: float
) -> None:
    """Cursive-looking scribble: loops on a baseline, split into words; reads as writing at photo scale."""
    if size < 1:
        return  # too small to draw at this frame size
    thick = max(1, int(round(size * 0.09)))
    cx = x
    while cx < x + width - size:
        wl = size * float(rng.uniform(1.5, 5))
        n = max(int(wl / size * 6), 4)
        t = np.linspace(0, 1, n * 4)
        freq = n / 2.0
        amp = size * 0.3 * (1 + 0.6 * (rng.random(len(t)) > 0.9))
        xs = cx + t * wl + np.sin(t * freq * 2 * np.pi + 1.3) * size * 0.12
        ys = (
            y
            + size * 0.6
            - amp * (0.5 + 0.5 * np.sin(t * freq * 2 * np.pi))
            + rng.normal(0, size * 0.03, len(t))
        )
        pts = np.stack([xs, ys], 1)
        cv2.polylines(
            ink, [np.round(pts * 4).astype(np.int32).reshape(-1, 1, 2)], False, 1.0, thick, cv2.LINE_AA, 2
        )
        cx += wl + size * float(rng.uniform(0.4, 0.9))


def label(
    rng: np.random.Generator,
    w: int,
    h: int,
    kind: str = "main",
    paper_bgr: tuple[float, float, float] | None = None,
    border: bool | None = None,
) -> Layer:
    """A label of w×h pixels. kind: main, det (small slip), type (coloured type label), hand (handwritten),
    old (buff or tan paper with faint pencil or brown ink, nearly the sheet's tone). border: printed rules
    around it (None: at random)."""
    cls = TYPE_LABEL if kind == "type" else LABEL
    old = kind == "old"
    if old and paper_bgr is None:
        v = float(rng.uniform(165, 215))
        paper_bgr = (v * float(rng.uniform(0.62, 0.78)), v * float(rng.uniform(0.88, 0.95)), v)
    if paper_bgr is None:
        if kind == "type" and rng.random() < 0.6:
            paper_bgr = [(170, 170, 250), (200, 190, 245), (140, 230, 250), (120, 150, 240), (200, 220, 250)][
                int(rng.integers(5))
            ]
        else:
            r = rng.random()
            v = float(
                rng.uniform(238, 252)
                if r < 0.6
                else rng.uniform(222, 245)
                if r < 0.85
                else rng.uniform(195, 230)
            )
            warm = 0.0 if r < 0.6 else float(rng.uniform(4, 25))
            paper_bgr = (v - warm, v - warm * 0.45, v)
    lay = Layer.solid(h, w, paper_bgr, cls)
    f = lowfreq(rng, h, w, 3) * 3 + grain(rng, h, w, 1.5)
    lay.bgr = np.clip(lay.bgr.astype(np.float32) + f[..., None], 0, 255).astype(np.uint8)
    ink_bgr = np.array(
        [(30, 30, 30), (60, 40, 30), (110, 50, 40), (90, 40, 70)][int(rng.integers(4))], np.float32
    )
    if old:
        # Faint graphite or faded iron-gall ink: little contrast against the tan paper.
        ink_bgr = np.array([(95, 95, 100), (50, 75, 105), (60, 80, 95)][int(rng.integers(3))], np.float32)
    ic = InkCanvas(h, w)
    pad = max(2, int(min(w, h) * 0.06))
    lines = label_lines(rng, "det" if kind in ("det", "hand", "old") else kind)
    total_rel = sum(s for _, _, s, _ in lines)
    # Herbarium labels are wide with many small lines; slips and slide labels carry a few big ones.
    base = min(
        (h - 2 * pad) / (total_rel * 1.25 + 0.5), w / (26 if kind == "main" else 15 if w > 2 * h else 10)
    )
    y: float = pad
    extra: list[tuple[float, float, float]] = []
    handwritten = kind == "hand" or (old and rng.random() < 0.8) or rng.random() < 0.35
    ruled = kind in ("main", "det") and rng.random() < 0.15  # a printed form filled in by hand
    for i, (text, style, rel, align) in enumerate(lines):
        size = max(int(base * rel), 4)
        if handwritten and i > 0 and rng.random() < 0.7:
            extra.append((pad + float(rng.uniform(0, w * 0.1)), y, size))
            if ruled:
                yl = int(y + size * 1.1)
                cv2.line(lay.bgr, (pad, yl), (w - pad, yl), (90, 90, 90), max(1, size // 14))
        else:
            font = pick_font(rng, style)
            tw, _ = ic.text_size(text, font, style, size)
            while tw > w - 2 * pad and size > 4:
                size -= 1
                tw, _ = ic.text_size(text, font, style, size)
            x = pad if align == "left" else (w - tw) // 2 if align == "center" else w - pad - tw
            ic.text(int(max(x, 1)), int(y), text, font, style, size)
        y += size * 1.25
        if y > h - pad:
            break
    ink = ic.array().astype(np.float32) / 255.0
    for hx, hy, hsize in extra:
        handwriting(ink, rng, hx, hy, w - hx - pad, hsize * 1.1)
    ink = np.clip(ink, 0, 1)
    # Printed rules / borders, and the coloured frame on type labels.
    if kind == "type" or (rng.random() < 0.25 if border is None else border):
        # Coloured (red, pink, orange) frames mark type labels only; ordinary labels get thin dark rules.
        if kind == "type":
            col = np.array(
                [(40, 40, 200), (60, 60, 180), (150, 110, 235), (40, 130, 240)][int(rng.integers(4))],
                np.float32,
            )
            bw = max(2, int(min(w, h) * float(rng.uniform(0.03, 0.07))))
        else:
            col = np.array([(30, 30, 30), (70, 50, 40)][int(rng.integers(2))], np.float32)
            bw = max(1, int(min(w, h) * float(rng.uniform(0.005, 0.02))))
        cv2.rectangle(lay.bgr, (bw // 2, bw // 2), (w - 1 - bw // 2, h - 1 - bw // 2), col.tolist(), bw)
    a = ink[..., None] * (float(rng.uniform(0.3, 0.55)) if old else float(rng.uniform(0.75, 1.0)))
    lay.bgr = (lay.bgr * (1 - a) + ink_bgr * a).astype(np.uint8)
    return lay


def text_strip(rng: np.random.Generator, length: int, width: int) -> Layer:
    """A narrow slip with one line of text along it, turned upright: the vertical strips stuck beside a
    label (a register number, a collector's name). Label class."""
    paper_bgr = (float(rng.uniform(225, 250)),) * 3 if rng.random() < 0.6 else (200.0, 225.0, 238.0)
    lay = Layer.solid(max(width, 4), max(length, 8), paper_bgr, LABEL)
    text = str(
        rng.choice(
            [
                taxon(rng),
                f"No. {int(rng.integers(1, 99999))}",
                f"Herb. {_pick(rng, ['Hooker', 'Bentham', 'Torrey', 'Lindley'])}",
                _pick(rng, PLACES),
                date(rng),
            ]
        )
    )
    style = str(rng.choice(["serif", "sans", "serif_italic"]))
    font = pick_font(rng, style)
    size = max(int(lay.h * 0.62), 4)
    ic = InkCanvas(lay.h, lay.w)
    tw, _ = ic.text_size(text, font, style, size)
    while tw > lay.w - 4 and size > 4:
        size -= 1
        tw, _ = ic.text_size(text, font, style, size)
    x = int(rng.uniform(2, max(lay.w - tw - 2, 3)))
    ic.text(x, max((lay.h - int(size * 1.15)) // 2, 0), text, font, style, size)
    a = ic.array().astype(np.float32)[..., None] / 255.0 * float(rng.uniform(0.7, 1.0))
    lay.bgr = (lay.bgr * (1 - a) + np.float32(35) * a).astype(np.uint8)
    return rotated(lay, 90.0 if rng.random() < 0.5 else -90.0)


def accession_strip(rng: np.random.Generator, height: int) -> Layer:
    """A one-line bold accession strip ("K000697414", "Acc. 123456"): printed paper, so label class, not a
    barcode or a stamp."""
    text = str(
        rng.choice(
            [
                f"{_pick(rng, ['K', 'E', 'P', 'BM', 'MO', 'NY'])}{int(rng.integers(0, 10**9)):09d}",
                f"Acc. No. {int(rng.integers(1000, 999999))}",
                f"{int(rng.integers(10**5, 10**7))}",
                f"HERB. No {int(rng.integers(1000, 99999))}",
            ]
        )
    )
    style = "sans_bold" if rng.random() < 0.7 else "serif_bold"
    font = pick_font(rng, style)
    h = max(height, 8)
    size = max(int(h * 0.7), 4)
    probe = InkCanvas(1, 1)
    tw, _ = probe.text_size(text, font, style, size)
    w = tw + int(h * float(rng.uniform(0.4, 1.2)))
    paper_bgr = (float(rng.uniform(232, 252)),) * 3
    lay = Layer.solid(h, w, paper_bgr, LABEL)
    ic = InkCanvas(h, w)
    ic.text((w - tw) // 2, max((h - int(size * 1.15)) // 2, 0), text, font, style, size)
    a = ic.array().astype(np.float32)[..., None] / 255.0
    ink = np.array([(20, 20, 20), (110, 40, 30), (30, 30, 150)][int(rng.integers(3))], np.float32)
    lay.bgr = (lay.bgr * (1 - a) + ink * a).astype(np.uint8)
    return lay


def pencil_note(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Handwriting straight on the sheet (not a label): returns ink alpha and colour; stays background."""
    ink = np.zeros((h, w), np.float32)
    handwriting(ink, rng, 1, 1, w - 2, h * 0.9)
    colour = np.array([(90, 90, 90), (60, 60, 60), (40, 40, 150)][int(rng.integers(3))], np.float32)
    return ink * float(rng.uniform(0.4, 0.8)), colour
