"""Segment classes. Ids are fixed and ordered; the model, the masks and the verdict all use them."""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = (
    "background",
    "specimen",
    "label",
    "type_label",
    "barcode",
    "colour_chart",
    "scale_bar",
    "stamp",
)
CLASS_IDS: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}
FOREGROUND_IDS: tuple[int, ...] = tuple(range(1, len(CLASS_NAMES)))
