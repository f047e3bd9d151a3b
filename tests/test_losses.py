"""Losses: known values, ignored pixels, nested combos built from recipes."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ignite_zoo.zoo import losses  # noqa: F401
from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.registry import LOSSES


@pytest.fixture
def seg():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6, 5, requires_grad=True)
    target = torch.randint(0, 4, (2, 6, 5))
    target[0, :2] = 255
    return logits, target


def test_cross_entropy_matches_torch_for_cls_and_seg(seg):
    logits, target = seg
    ce = LOSSES.build({"type": "cross_entropy", "ignore_index": 255})
    assert torch.allclose(ce(logits, target), F.cross_entropy(logits, target, ignore_index=255))
    cls_logits, cls_target = torch.randn(8, 3), torch.randint(0, 3, (8,))
    assert torch.allclose(LOSSES.build("cross_entropy")(cls_logits, cls_target),
                          F.cross_entropy(cls_logits, cls_target))


def test_cross_entropy_weights_and_smoothing(seg):
    logits, target = seg
    w = [1.0, 2.0, 0.5, 3.0]
    ce = LOSSES.build({"type": "cross_entropy", "ignore_index": 255, "class_weights": w, "label_smoothing": 0.1})
    expected = F.cross_entropy(logits, target, weight=torch.tensor(w), ignore_index=255, label_smoothing=0.1)
    assert torch.allclose(ce(logits, target), expected)
    with pytest.raises(RecipeError, match="class_weights.*3 values.*4 classes"):
        LOSSES.build({"type": "cross_entropy", "class_weights": [1, 2, 3]})(logits, target.clamp(max=3))


@pytest.mark.parametrize("cfg", [{"type": "cross_entropy"}, {"type": "dice"}, {"type": "focal"},
                                 {"type": "focal", "gamma": 0.5, "alpha": [1, 2, 3, 4]}])
def test_ignored_pixels_do_not_affect_loss(seg, cfg):
    logits, target = seg
    loss = LOSSES.build({**cfg, "ignore_index": 255})
    base = loss(logits, target)
    changed = logits.detach().clone()
    changed[0, :, :2] = torch.randn(4, 2, 5) * 10  # only the ignored pixels
    assert torch.allclose(loss(changed, target), base, atol=1e-6)
    # and the loss does depend on the other pixels
    changed[1] += torch.randn(4, 6, 5) * 3
    assert not torch.allclose(loss(changed, target), base, atol=1e-4)


@pytest.mark.parametrize("type_", ["cross_entropy", "dice", "focal"])
def test_all_ignored_gives_zero_with_gradient(type_):
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    target = torch.full((1, 4, 4), 255)
    loss = LOSSES.build({"type": type_, "ignore_index": 255})(logits, target)
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and not logits.grad.isnan().any()


def test_focal_gamma_zero_is_cross_entropy(seg):
    logits, target = seg
    focal = LOSSES.build({"type": "focal", "gamma": 0.0, "ignore_index": 255})
    assert torch.allclose(focal(logits, target), F.cross_entropy(logits, target, ignore_index=255), atol=1e-6)


def test_focal_known_value_and_alpha():
    # one sample, p_t = softmax([log 3, 0])[0] = 0.75
    logits, target = torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([0])
    fl = LOSSES.build({"type": "focal", "gamma": 2.0})(logits, target)
    assert fl.item() == pytest.approx(-(0.25 ** 2) * math.log(0.75), rel=1e-5)
    fa = LOSSES.build({"type": "focal", "gamma": 2.0, "alpha": [0.25, 0.75]})(logits, target)
    assert fa.item() == pytest.approx(0.25 * fl.item(), rel=1e-5)
    fs = LOSSES.build({"type": "focal", "gamma": 2.0, "alpha": 0.5})(logits, target)
    assert fs.item() == pytest.approx(0.5 * fl.item(), rel=1e-5)


def test_dice_perfect_prediction_is_zero_and_known_value():
    target = torch.randint(0, 3, (2, 8, 8))
    perfect = F.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    dice = LOSSES.build("dice")
    assert dice(perfect, target).item() < 1e-4
    wrong = F.one_hot((target + 1) % 3, 3).permute(0, 3, 1, 2).float() * 50
    assert dice(wrong, target).item() > 0.95
    # uniform prediction over 2 classes, 4 pixels all class 0, smooth 1:
    # class 0: (2*2 + 1) / (2 + 4 + 1); class 1: (0 + 1) / (2 + 0 + 1)
    uniform, t = torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)
    expected = 1 - (5 / 7 + 1 / 3) / 2
    assert dice(uniform, t).item() == pytest.approx(expected, rel=1e-6)


def test_dice_equals_the_one_hot_formula_with_ignored_pixels_value_and_gradient():
    """The loss avoids a one-hot copy for speed; it must still be the textbook formula."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 9, 11, generator=g, requires_grad=True)
    target = torch.randint(0, 5, (3, 9, 11), generator=g)
    target[0, :4] = 255  # ignored
    target[target == 3] = 2  # class 3 absent from the truth
    got = LOSSES.build({"type": "dice", "ignore_index": 255, "smooth": 0.5})(logits, target)
    (grad_got,) = torch.autograd.grad(got, logits)

    keep = target != 255
    probs = logits.softmax(1).permute(0, 2, 3, 1)[keep]          # [P, C]
    onehot = F.one_hot(target[keep], 5).float()
    dice = (2 * (probs * onehot).sum(0) + 0.5) / (probs.sum(0) + onehot.sum(0) + 0.5)
    expected = 1 - dice.mean()
    (grad_expected,) = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(grad_got, grad_expected)


def test_out_of_range_target_is_a_data_error():
    logits, target = torch.randn(1, 3, 2, 2), torch.full((1, 2, 2), 255)
    with pytest.raises(DataError, match="class id 255.*ignore_index"):
        LOSSES.build("dice")(logits, target)
    with pytest.raises(DataError, match="class id 255"):
        LOSSES.build("focal")(logits, target)


def test_cross_entropy_out_of_range_target_is_a_data_error():
    """The segmentation recipes ignore 6 in the loss; data.args.foreign=ignore marks pixels 255."""
    logits, target = torch.randn(1, 7, 2, 2), torch.tensor([[[0, 255], [6, 1]]])
    with pytest.raises(DataError, match="class id 255.*loss.ignore_index"):
        LOSSES.build({"type": "cross_entropy", "ignore_index": 6})(logits, target)
    with pytest.raises(DataError, match="class id 255"):
        LOSSES.build("cross_entropy")(logits, target)
    assert torch.isfinite(LOSSES.build({"type": "cross_entropy", "ignore_index": 255})(logits, target))


def test_sum_is_the_weighted_sum_of_its_terms(seg):
    logits, target = seg
    total_loss = LOSSES.build({"type": "sum", "ignore_index": 255,
                               "terms": [{"type": "cross_entropy"}, {"type": "dice", "weight": 0.5}]})
    assert [type(m).__name__ for m in total_loss.terms] == ["CrossEntropyLoss", "DiceLoss"]
    ce = F.cross_entropy(logits, target, ignore_index=255)
    dice = LOSSES.build({"type": "dice", "ignore_index": 255})(logits, target)
    total = total_loss(logits, target)
    assert torch.allclose(total, ce + 0.5 * dice)
    total.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_sum_defaults_and_errors():
    total = LOSSES.build({"type": "sum", "terms": ["cross_entropy", {"type": "focal", "gamma": 0}]})
    logits, target = torch.randn(4, 3), torch.randint(0, 3, (4,))
    assert torch.allclose(total(logits, target), 2 * F.cross_entropy(logits, target), atol=1e-6)
    with pytest.raises(RecipeError, match=r"loss.terms\[0\].weight: expected a number"):
        LOSSES.build({"type": "sum", "terms": [{"type": "dice", "weight": "half"}]})
    with pytest.raises(RecipeError, match=r"terms\[0\]\.type"):
        LOSSES.build({"type": "sum", "terms": [{"type": "dise"}]})
    with pytest.raises(RecipeError, match="loss.type: unknown loss 'combo'"):
        LOSSES.build({"type": "combo", "losses": ["cross_entropy"]}, _path="loss")
