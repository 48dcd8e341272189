"""The training losses measure what they claim to."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_lovasz_softmax_equals_one_minus_iou_on_hard_predictions() -> None:
    from training.train import lovasz_softmax

    rng = np.random.default_rng(3)
    truth = torch.from_numpy(rng.integers(0, 3, (2, 16, 12)))
    pred = truth.clone()
    pred[0, :5] = 2  # some pixels wrongly called class 2
    pred[1, 3:9, 2:7] = 1
    probs = torch.nn.functional.one_hot(pred, 3).permute(0, 3, 1, 2).float()
    expected = []
    for c in (1, 2):
        p, g = (pred == c).numpy(), (truth == c).numpy()
        expected.append(1.0 - (p & g).sum() / (p | g).sum())
    got = float(lovasz_softmax(probs, truth, (1, 2)))
    assert got == pytest.approx(float(np.mean(expected)), abs=1e-6)
    assert float(lovasz_softmax(torch.nn.functional.one_hot(truth, 3).permute(0, 3, 1, 2).float(), truth, (1, 2))) == (
        pytest.approx(0.0, abs=1e-7)
    )


def test_lovasz_softmax_skips_absent_classes_and_gives_gradients() -> None:
    from training.train import lovasz_softmax

    truth = torch.zeros(1, 8, 8, dtype=torch.long)
    truth[0, 2:5, 2:5] = 1
    logits = torch.zeros(1, 3, 8, 8, requires_grad=True)
    loss = lovasz_softmax(logits.softmax(dim=1), truth, (1, 2))  # class 2 is absent: only class 1 counts
    loss.backward()
    assert 0.0 < float(loss.detach()) < 1.0
    assert logits.grad is not None and float(logits.grad[0, 1, 3, 3]) < 0  # raise class 1 where it is
