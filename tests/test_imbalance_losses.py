"""Losses for class imbalance: ignored pixels change nothing (value and gradient), OHEM's
pixel selection, and the weighted sum written as one recipe entry."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ignite_zoo import zoo  # noqa: F401  (registers)
from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.registry import LOSSES

IGNORE = 255
ALL = [{"type": "cross_entropy"}, {"type": "cross_entropy", "class_weights": [1, 2, 3, 0.5]}, {"type": "dice"},
       {"type": "focal", "gamma": 2.0}, {"type": "lovasz"}, {"type": "lovasz", "per_image": True},
       {"type": "ohem_cross_entropy", "min_kept": 10}, {"type": "ohem_cross_entropy", "thresh": 0.9, "min_kept": 0},
       {"type": "sum", "terms": [{"type": "cross_entropy", "weight": 1}, {"type": "lovasz", "weight": 0.5},
                                 {"type": "dice", "weight": 0.25}]}]


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 4, 9, 7, generator=g)
    target = torch.randint(0, 4, (2, 9, 7), generator=g)
    ignored = torch.rand(target.shape, generator=g) < 0.3
    target[ignored] = IGNORE
    return logits, target, ignored


@pytest.mark.parametrize("cfg", ALL, ids=lambda c: c["type"] + str(len(c)))
def test_ignored_pixels_change_neither_loss_nor_gradient(cfg):
    loss_fn = LOSSES.build({**cfg, "ignore_index": IGNORE})
    logits, target, ignored = _batch()
    garbage = logits.clone()
    garbage.permute(0, 2, 3, 1)[ignored] = torch.randn(int(ignored.sum()), 4) * 50  # wild logits where ignored

    def value_and_grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.clone().requires_grad_(True)
        loss = loss_fn(x, target)
        loss.backward()
        return loss.detach(), x.grad

    base, grad = value_and_grad(logits)
    changed, grad2 = value_and_grad(garbage)
    assert torch.isfinite(base) and base > 0
    assert torch.allclose(base, changed, atol=1e-6)
    assert torch.allclose(grad, grad2, atol=1e-6)
    assert grad.permute(0, 2, 3, 1)[ignored].abs().max() == 0  # no gradient reaches an ignored pixel
    # the loss does read the other pixels
    other = logits.clone()
    other.permute(0, 2, 3, 1)[~ignored] += torch.randn(int((~ignored).sum()), 4) * 3
    assert not torch.allclose(loss_fn(other, target), base, atol=1e-4)


@pytest.mark.parametrize("type_", ["lovasz", "ohem_cross_entropy", "sum"])
def test_all_ignored_gives_zero_with_gradient(type_):
    cfg = {"type": type_, "ignore_index": IGNORE}
    if type_ == "sum":
        cfg["terms"] = ["cross_entropy", "lovasz"]
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = LOSSES.build(cfg)(logits, torch.full((1, 4, 4), IGNORE))
    loss.backward()
    assert loss.item() == 0.0 and not logits.grad.isnan().any()


def test_ohem_keeps_only_hard_pixels_or_the_hardest():
    # 4 pixels, true-class probabilities 0.9, 0.8, 0.3, 0.1 (two classes)
    p = torch.tensor([0.9, 0.8, 0.3, 0.1])
    logits = torch.stack([torch.log(p), torch.log(1 - p)], 1).T.reshape(1, 2, 2, 2)
    target = torch.zeros(1, 2, 2, dtype=torch.long)
    nll = -torch.log(p)
    ohem = LOSSES.build({"type": "ohem_cross_entropy", "thresh": 0.7, "min_kept": 0})
    assert ohem(logits, target).item() == pytest.approx(nll[2:].mean().item(), rel=1e-5)
    hardest3 = LOSSES.build({"type": "ohem_cross_entropy", "thresh": 0.7, "min_kept": 3})
    assert hardest3(logits, target).item() == pytest.approx(nll[1:].mean().item(), rel=1e-5)
    everything = LOSSES.build({"type": "ohem_cross_entropy", "thresh": 1.0, "min_kept": 0})
    assert everything(logits, target).item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-5)
    with pytest.raises(RecipeError, match="loss.thresh.*1.5"):
        LOSSES.build({"type": "ohem_cross_entropy", "thresh": 1.5})


def test_sum_is_one_recipe_entry_with_weights_and_shared_ignore_index():
    logits, target, _ = _batch(1)
    total = LOSSES.build({"type": "sum", "ignore_index": IGNORE,
                          "terms": [{"type": "cross_entropy", "weight": 1}, {"type": "lovasz", "weight": 0.5}]})
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE)
    lovasz = LOSSES.build({"type": "lovasz", "ignore_index": IGNORE})(logits, target)
    assert torch.allclose(total(logits, target), ce + 0.5 * lovasz, atol=1e-6)
    assert [t.ignore_index for t in total.terms] == [IGNORE, IGNORE]
    with pytest.raises(RecipeError, match=r"terms\[1\].weight.*'half'"):
        LOSSES.build({"type": "sum", "terms": ["dice", {"type": "dice", "weight": "half"}]})
    with pytest.raises(RecipeError, match=r"terms\[0\].type"):
        LOSSES.build({"type": "sum", "terms": [{"type": "lovaz"}]})


def test_lovasz_is_segmentation_models_pytorch_loss():
    import segmentation_models_pytorch.losses as smp

    logits, target, _ = _batch(2)
    ours = LOSSES.build({"type": "lovasz", "ignore_index": IGNORE})(logits, target)
    theirs = smp.LovaszLoss("multiclass", ignore_index=IGNORE)(logits, target)
    assert torch.allclose(ours, theirs) and math.isfinite(ours.item())
