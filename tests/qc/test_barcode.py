from __future__ import annotations

import numpy as np

from edge.qc.barcode import BarcodeCheck
from edge.qc.base import FrameContext
from edge.qc.settings import ProfileSettings
from edge.qc.station_history import StationHistory
from tests.qc.images import barcode_image, paper, paste, region


def with_barcode(profile: ProfileSettings, **update: object) -> ProfileSettings:
    return profile.model_copy(update={"barcode": profile.barcode.model_copy(update=update)})


def frame_with(text: str, fmt: str = "Code128", scale: int = 3) -> tuple[np.ndarray, list]:
    image = paper()
    box = paste(image, barcode_image(text, fmt, scale), 300, 1300)
    return image, [region(0, "barcode", box)]


def test_code128_is_decoded_into_the_findings(herbarium: ProfileSettings) -> None:
    image, regions = frame_with("BM000521755")
    frame = FrameContext(image, regions, herbarium)
    result = BarcodeCheck().run(frame)
    assert result.status == "ok" and result.value == "BM000521755 (Code128)"
    [code] = frame.findings.barcodes
    assert code["text"] == "BM000521755" and code["format"] == "Code128"
    x0, y0, x1, y1 = code["bbox"]
    assert 290 <= x0 < x1 <= 300 + 440 and 1290 <= y0 < y1 <= 1300 + 160


def test_datamatrix_qr_and_code39_are_read(herbarium: ProfileSettings) -> None:
    for text, fmt, scale in (("BM000521755", "DataMatrix", 6), ("https://data.example.org/E00421509", "QRCode", 4),
                             ("BM000521755", "Code39", 3)):
        image, regions = frame_with(text, fmt, scale)
        frame = FrameContext(image, regions, herbarium)
        assert BarcodeCheck().run(frame).status == "ok", fmt
        assert frame.findings.barcodes[0]["text"] == text


def test_small_code_is_enlarged_before_decoding(herbarium: ProfileSettings) -> None:
    image, regions = frame_with("BM000521755", "Code128", 1)
    frame = FrameContext(image, regions, herbarium)
    BarcodeCheck().run(frame)
    assert [b["text"] for b in frame.findings.barcodes] == ["BM000521755"]


def test_catalogue_pattern(herbarium: ProfileSettings) -> None:
    strict = with_barcode(herbarium, pattern=r"^BM\d{9}$")
    image, regions = frame_with("BM000521755")
    assert BarcodeCheck().run(FrameContext(image, regions, strict)).status == "ok"
    image, regions = frame_with("K001046211")
    result = BarcodeCheck().run(FrameContext(image, regions, strict))
    assert result.status == "fail" and "K001046211" in result.message and result.message.endswith("retake")
    result = BarcodeCheck().run(FrameContext(paper(), [], strict))
    assert result.status == "fail" and "no barcode in shot" in result.message


def test_unreadable_barcode_region(herbarium: ProfileSettings) -> None:
    image = paper()
    image[1300:1400, 300:700] = np.random.default_rng(0).integers(0, 255, (100, 400, 3), dtype=np.uint8)
    regions = [region(0, "barcode", (300, 1300, 700, 1400))]
    assert BarcodeCheck().run(FrameContext(image, regions, herbarium)).status == "warn"
    strict = with_barcode(herbarium, unreadable="fail")
    result = BarcodeCheck().run(FrameContext(image, regions, strict))
    assert result.status == "fail" and result.message.startswith("Barcode cannot be read")


def test_missing_barcode_only_fails_when_required(herbarium: ProfileSettings) -> None:
    assert BarcodeCheck().run(FrameContext(paper(), [], herbarium)).status == "ok"
    result = BarcodeCheck().run(FrameContext(paper(), [], with_barcode(herbarium, required=True)))
    assert result.status == "fail" and result.message.startswith("Barcode not found")


def test_same_barcode_as_the_previous_accepted_frame_warns(herbarium: ProfileSettings) -> None:
    history = StationHistory()
    image, regions = frame_with("BM000521755")
    history.record(accepted=True, camera="", edge_width={}, barcodes=["BM000521755"])
    result = BarcodeCheck().run(FrameContext(image, regions, herbarium, history=history))
    assert result.status == "warn" and "possible duplicate" in result.message
    # a retake after a rejected frame shows the same code, as it should
    history.record(accepted=False, camera="", edge_width={}, barcodes=["BM000521755"])
    assert BarcodeCheck().run(FrameContext(image, regions, herbarium, history=history)).status == "ok"
