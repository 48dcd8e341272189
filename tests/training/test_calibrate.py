"""Logit offsets: the search finds a known bias and folding them into the head shifts the logits exactly."""

from __future__ import annotations

import numpy as np
import pytest

from edge.classes import CLASS_NAMES

pytest.importorskip("torch")  # training.calibrate runs the PyTorch checkpoint

from training.calibrate import fg_mean, fit_offsets  # noqa: E402
from training.evaluate import confusion, iou_from_confusion  # noqa: E402


def over_claiming_logits(seed: int = 0, n: int = 40_000) -> tuple[np.ndarray, np.ndarray]:
    """Truth from a noisy but calibrated score, then class 3 pushed up by 2 logits (as a weighted loss does)."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(8, size=n, p=[0.6, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03]).astype(np.int64)
    logits = rng.normal(0, 1.0, (n, 8)).astype(np.float32)
    logits[np.arange(n), truth] += 2.5
    logits[:, 3] += 2.0
    return logits.astype(np.float16), truth


def test_fit_offsets_undoes_a_known_bias() -> None:
    logits, truth = over_claiming_logits()
    before = fg_mean(iou_from_confusion(confusion(truth, logits.argmax(1))))
    offsets = fit_offsets(logits, truth)
    after = fg_mean(iou_from_confusion(confusion(truth, (logits.astype(np.float32) + offsets).argmax(1))))
    assert offsets[0] == 0.0
    assert after > before + 0.02
    # The same frames without the push: every offset agrees but the pushed class's, which differs
    # by about the push.
    unpushed = logits.copy()
    unpushed[:, 3] -= np.float16(2.0)
    plain = fit_offsets(unpushed, truth)
    assert -2.5 <= offsets[3] - plain[3] <= -1.5
    assert np.abs(np.delete(offsets - plain, 3)).max() <= 0.3


def test_offsets_fold_into_the_head_bias() -> None:
    import torch

    from training.export import apply_logit_offsets
    from training.model import build_model

    torch.manual_seed(0)
    model = build_model(width=16).eval()
    x = torch.randn(1, 3, 64, 64)
    offsets = {name: 0.25 * i - 1.0 for i, name in enumerate(CLASS_NAMES)}
    with torch.no_grad():
        before = model(x)
        apply_logit_offsets(model, offsets)
        after = model(x)
    shift = (after - before).mean(dim=(0, 2, 3)).numpy()
    np.testing.assert_allclose(shift, list(offsets.values()), atol=1e-5)
    with pytest.raises(ValueError):
        apply_logit_offsets(model, {"background": 0.0})
