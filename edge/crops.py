"""Label crops: JPEG cuts of the configured regions of an accepted frame, for OCR downstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.crop_settings import CropSettings
from edge.decode import to_uint8
from edge.verdict import Verdict


def write_crops(verdict: Verdict, image: np.ndarray, folder: Path,
                settings: CropSettings) -> list[dict[str, Any]]:
    """JPEG crops of the configured regions of an accepted frame; what was written, for the
    accepted-result document."""
    if verdict["verdict"] != "accept":
        return []
    folder.mkdir(exist_ok=True)
    stem = Path(verdict["file"]).stem
    crops = []
    for region in verdict["regions"]:
        if region["class"] not in settings.classes:
            continue
        x0, y0, x1, y1 = region["bbox"]
        path = folder / f"{stem}.{verdict['id'][:8]}.{region['class']}-{region['id']}.jpg"
        ok = cv2.imwrite(str(path), to_uint8(image[y0:y1, x0:x1]), [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
        if ok:
            crops.append({"region": region["id"], "class": region["class"], "bbox": region["bbox"], "path": str(path)})
    return crops
