"""Losses for class imbalance beside ``zoo.losses``: ``lovasz`` (segmentation_models_pytorch's),
``ohem_cross_entropy`` (online hard example mining) and ``sum``, a weighted sum of losses
written as one recipe entry::

    loss:
      type: sum
      ignore_index: 6          # handed to every term that does not set its own
      terms:
        - {type: cross_entropy, weight: 1.0}
        - {type: lovasz, weight: 0.5}

Like every loss here they compute in float32, leave ``ignore_index`` pixels out entirely
and return a zero that carries a gradient when nothing is left to learn from.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.registry import LOSSES
from ignite_zoo.zoo.losses import check_class_count, class_vector, flatten_pixels, valid_pixels, zero_loss

#: the extra that installs segmentation_models_pytorch, named in the error when it is missing
SMP_EXTRA = "pip install 'ignite-zoo[losses]' (segmentation-models-pytorch)"


def smp_losses() -> Any:
    """``segmentation_models_pytorch.losses``, imported only by a recipe that uses it."""
    try:
        import segmentation_models_pytorch.losses as smp_losses_module
    except ImportError as e:
        raise RecipeError(f"loss: this loss comes from segmentation_models_pytorch, which is not installed ({e}); "
                          f"{SMP_EXTRA}") from None
    return smp_losses_module


@LOSSES.register("lovasz")
class LovaszLoss(nn.Module):
    """Lovász-softmax (Berman et al., 2018): a convex surrogate of 1 - IoU per class, averaged
    over the classes present in the batch; segmentation_models_pytorch's ``LovaszLoss``.
    ``per_image``: the surrogate per image, then the mean (the paper's choice for small
    objects), instead of over the whole batch."""

    def __init__(self, ignore_index: int | None = None, per_image: bool = False) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.loss = smp_losses().LovaszLoss(mode="multiclass", per_image=bool(per_image),
                                            ignore_index=ignore_index, from_logits=True)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 4:
            raise ValueError(f"loss lovasz: expected segmentation logits [N, C, H, W], got {tuple(logits.shape)}")
        _, t = flatten_pixels(logits, target)
        if not bool(valid_pixels(t, logits.shape[1], self.ignore_index).any()):
            return zero_loss(logits)
        return self.loss(logits.float(), target.long())


@LOSSES.register("ohem_cross_entropy")
class OhemCrossEntropyLoss(nn.Module):
    """Cross-entropy over the hard pixels only: those whose probability of the true class is
    below ``thresh``, and at least the ``min_kept`` hardest (as in PSPNet/OCNet training).
    Easy pixels of a dominant class stop drowning out the rare ones without any class
    weights; ``class_weights`` still weight the kept pixels (a weighted mean)."""

    def __init__(self, ignore_index: int | None = None, thresh: float = 0.7, min_kept: int = 100_000,
                 class_weights: list[float] | None = None) -> None:
        super().__init__()
        if not 0 < float(thresh) <= 1:
            raise RecipeError(f"loss.thresh: expected a probability in (0, 1], got {thresh!r}")
        if not isinstance(min_kept, int) or min_kept < 0:
            raise RecipeError(f"loss.min_kept: expected an integer >= 0, got {min_kept!r}")
        self.ignore_index, self.thresh, self.min_kept = ignore_index, float(thresh), min_kept
        self.register_buffer("class_weights", class_vector(class_weights, "class_weights"), persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        flat, t = flatten_pixels(logits, target)
        c = flat.shape[1]
        check_class_count(self.class_weights, c, "class_weights")
        valid = valid_pixels(t, c, self.ignore_index)
        if not bool(valid.any()):
            return zero_loss(logits)
        flat, t = flat[valid], t[valid]
        losses = F.cross_entropy(flat, t, reduction="none")
        hard = losses > -math.log(self.thresh)
        kept = min(self.min_kept, losses.numel())
        if int(hard.sum()) < kept:  # too few hard pixels: the ``kept`` hardest instead
            hard = torch.zeros_like(hard)
            hard[losses.detach().topk(kept).indices] = True
        if not bool(hard.any()):
            return zero_loss(logits)
        w = self.class_weights[t[hard]] if self.class_weights is not None else torch.ones_like(losses[hard])
        return (losses[hard] * w).sum() / w.sum().clamp(min=1e-12)


@LOSSES.register("sum")
class SumLoss(nn.Module):
    """``sum_i weight_i * term_i(logits, target)``; each term is a loss entry with an
    optional ``weight`` (default 1). ``ignore_index`` is handed to the terms that leave it
    out, so one value covers them all."""

    def __init__(self, terms: list[Any], ignore_index: int | None = None) -> None:
        super().__init__()
        if not isinstance(terms, (list, tuple)) or not terms:
            raise RecipeError(f"loss.terms: expected a non-empty list of losses ({{type: ..., weight: ...}}), "
                              f"got {terms!r}")
        built, weights = [], []
        for i, term in enumerate(terms):
            if isinstance(term, str):
                term = {"type": term}
            if not isinstance(term, Mapping) or "type" not in term:
                raise RecipeError(f"loss.terms[{i}]: expected a mapping with 'type' (and 'weight'), got {term!r}")
            term = dict(term)
            weight = term.pop("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise RecipeError(f"loss.terms[{i}].weight: expected a number, got {weight!r}")
            if ignore_index is not None and "ignore_index" not in term:
                term["ignore_index"] = ignore_index
            built.append(LOSSES.build(term, _path=f"loss.terms[{i}]"))
            weights.append(float(weight))
        self.terms = nn.ModuleList(built)
        self.weights = weights

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = None
        for w, loss in zip(self.weights, self.terms):
            term = w * loss(logits, target)
            total = term if total is None else total + term
        return total
