from __future__ import annotations

import numpy as np
import pytest

from edge.qc.colour_science import (
    COLORCHECKER24_LAB_D50,
    delta_e_2000,
    lab_d50_to_srgb,
    srgb_to_lab_d50,
    white_balance_error,
)

# Sharma, Wu and Dalal (2005), "The CIEDE2000 colour-difference formula", test data pairs
# 1, 2, 7, 13, 17, 25, 31 and 34: hue wrap-around, near-neutral and dark cases included.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_ciede2000_matches_published_pairs(lab1: tuple[float, ...], lab2: tuple[float, ...], expected: float) -> None:
    assert float(delta_e_2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)
    assert float(delta_e_2000(np.array(lab2), np.array(lab1))) == pytest.approx(expected, abs=1e-4)


def test_ciede2000_works_on_arrays() -> None:
    a = np.array([p[0] for p in SHARMA])
    b = np.array([p[1] for p in SHARMA])
    np.testing.assert_allclose(delta_e_2000(a, b), [p[2] for p in SHARMA], atol=1e-4)


def test_srgb_white_is_d50_white_and_black_is_zero() -> None:
    np.testing.assert_allclose(srgb_to_lab_d50(np.array([1.0, 1.0, 1.0])), [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(srgb_to_lab_d50(np.array([0.0, 0.0, 0.0])), [0, 0, 0], atol=1e-9)


def test_colorchecker_round_trip_through_8_bit_srgb() -> None:
    # the encoding floor: only cyan, outside the sRGB gamut, is far off (about 3.4)
    rgb = np.round(lab_d50_to_srgb(COLORCHECKER24_LAB_D50) * 255) / 255
    de = delta_e_2000(srgb_to_lab_d50(rgb), COLORCHECKER24_LAB_D50)
    assert de[17] == pytest.approx(3.41, abs=0.05)
    assert np.delete(de, 17).max() < 0.6


def test_white_balance_error_ignores_lightness() -> None:
    ref = np.array([[66.89, -0.75, -0.06]])
    assert float(white_balance_error(ref + [10, 0, 0], ref)[0]) == pytest.approx(0.0, abs=1e-9)
    assert float(white_balance_error(ref + [0, 0, 6], ref)[0]) > 3
