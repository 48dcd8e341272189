"""Widening a trained segmenter: the trained network is kept exactly, and held while the rest learns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from edge.classes import CLASS_NAMES  # noqa: E402
from tests.tiny_training import run_tiny_training, with_random_batch_norms  # noqa: E402
from training.model import apply_logit_offsets, build_model, load_checkpoint  # noqa: E402
from training.train import card_logit_offsets, main  # noqa: E402
from training.widen import HeldWeights, PartlyHeldBatchNorm2d, hold_batch_norms, widen  # noqa: E402


def test_the_widened_network_computes_what_the_trained_one_computes() -> None:
    narrow = with_random_batch_norms(16)
    wide, held = widen(narrow, 24)
    assert wide.head.in_channels == 24 and not wide.training
    assert sum(p.numel() for p in wide.parameters()) > 1.8 * sum(p.numel() for p in narrow.parameters())
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        expected = narrow(x)
        assert torch.allclose(wide(x), expected, atol=1e-5)
        # the added channels are alive: without the head's zero columns they change the logits
        wide.head.weight.normal_()
        assert not torch.allclose(wide(x), expected, atol=1e-3)
    assert held


def test_widening_refuses_a_width_that_is_not_larger_and_even() -> None:
    narrow = with_random_batch_norms(16)
    for width in (16, 12, 23):
        with pytest.raises(ValueError):
            widen(narrow, width)


def test_held_weights_stay_while_the_added_channels_learn() -> None:
    narrow = with_random_batch_norms(16)
    wide, slices = widen(narrow, 24)
    held = HeldWeights(wide, slices)
    before = {k: v.clone() for k, v in wide.state_dict().items()}
    wide.train()
    opt = torch.optim.AdamW(wide.parameters(), lr=1e-2, weight_decay=1e-2)
    x = torch.randn(2, 3, 96, 128)
    y = torch.randint(0, len(CLASS_NAMES), (2, 24, 32))
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(wide(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        held.restore()
    wide.eval()
    after = wide.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())
    for h in slices:
        assert torch.equal(after[h.name][h.index], h.value), h.name
    with torch.no_grad():
        # the trained network is still inside, untouched: silence the added channels and it is back
        wide.head.weight[:, 16:] = 0.0
        assert torch.allclose(wide(x), narrow(x), atol=1e-5)


def test_a_cards_logit_offsets_are_read_and_taken_out_of_the_head(tmp_path: Path) -> None:
    offsets = {c: -0.25 * i for i, c in enumerate(CLASS_NAMES)}
    model_file = tmp_path / "m.onnx"
    model_file.write_bytes(b"")
    (tmp_path / "m.yaml").write_text(json.dumps({"calibration": {"offsets": offsets}}))
    assert card_logit_offsets(model_file) == offsets
    assert card_logit_offsets(tmp_path / "none.onnx") is None
    model = with_random_batch_norms(16)
    bias = model.head.bias.detach().clone()
    apply_logit_offsets(model, {c: -v for c, v in offsets.items()})  # as training takes them out
    assert torch.allclose(model.head.bias, bias - torch.tensor(list(offsets.values())))
    with pytest.raises(ValueError):
        apply_logit_offsets(model, {"background": 0.0})


def test_training_a_widened_network_with_the_start_held(tmp_path: Path) -> None:
    start = with_random_batch_norms(16)
    out = run_tiny_training(tmp_path, start, 16, "--widen-to", "24", "--hold-start")
    trained = load_checkpoint(out / "last.pt")
    assert trained.head.in_channels == 24
    info = json.loads((out / "train_info.json").read_text())
    assert info["width"] == 24 and info["widened_from"] == 16 and info["held_start"] is True
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        assert not torch.allclose(trained(x), start(x), atol=1e-4)  # the added channels learnt
        trained.head.weight[:, 16:] = 0.0
        assert torch.allclose(trained(x), start(x), atol=1e-5)  # and the start is as it was


def test_widening_needs_a_starting_network(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--widen-to", "48", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["--hold-start", "--out", str(tmp_path)])


def test_a_scaled_copy_weighs_the_added_channels_as_asked(tmp_path: Path) -> None:
    from training.widen import main as widen_main

    narrow = with_random_batch_norms(16)
    wide, _ = widen(narrow, 24)
    with torch.no_grad():
        wide.head.weight[:, 16:].normal_()  # as if trained
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": wide.state_dict(), "width": 24}, run / "last.pt")
    (run / "train_info.json").write_text(json.dumps({"widened_from": 16}))
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        full, start = wide(x), narrow(x)
    for scale in (0.0, 0.5):
        widen_main([str(run / "last.pt"), "--scale", str(scale), "--out", str(tmp_path / str(scale))])
        copy = load_checkpoint(tmp_path / str(scale) / "last.pt")
        with torch.no_grad():
            assert torch.allclose(copy(x), start + scale * (full - start), atol=1e-4)
        assert json.loads((tmp_path / str(scale) / "train_info.json").read_text())["added_scale"] == scale
    (run / "train_info.json").write_text(json.dumps({}))
    with pytest.raises(SystemExit):
        widen_main([str(run / "last.pt"), "--scale", "0.5", "--out", str(tmp_path / "x")])


def test_held_batch_norms_normalise_the_trained_channels_as_at_inference() -> None:
    narrow = with_random_batch_norms(16)
    wide, slices = widen(narrow, 24)
    assert hold_batch_norms(wide, slices) == sum(isinstance(m, torch.nn.BatchNorm2d) for m in narrow.modules())
    bn = wide.stem[0][1]
    assert isinstance(bn, PartlyHeldBatchNorm2d) and bn.held == 8
    before_mean = bn.running_mean.clone()
    x = torch.randn(2, 3, 96, 128)
    wide.train()
    with torch.no_grad():
        wide.head.weight[:, 16:] = 0.0
        # in training mode the trained part computes what it computes at inference
        assert torch.allclose(wide(x), narrow(x), atol=1e-5)
    assert torch.equal(bn.running_mean[:8], before_mean[:8])
    assert not torch.equal(bn.running_mean[8:], before_mean[8:])  # the added channels learn their statistics
    # and the state loads into the plain network
    plain = build_model(24)
    plain.load_state_dict(wide.state_dict())
