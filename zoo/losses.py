"""Losses for classification (logits [N, C], target [N]) and segmentation
(logits [N, C, H, W], target [N, H, W]): ``loss(logits, target) -> scalar``.

Every loss computes in float32 (logits may arrive in bf16 under autocast), skips pixels
whose target is ``ignore_index``, and returns a zero that still carries a gradient when a
batch holds no valid pixel, so one unlabelled crop cannot turn a run into NaN.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.registry import LOSSES


def check_shapes(logits: torch.Tensor, target: torch.Tensor) -> None:
    if logits.dim() < 2 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f"loss: logits {tuple(logits.shape)} and target {tuple(target.shape)} do not match "
            "(expected [N, C, ...] and [N, ...])"
        )


def flatten_pixels(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, C, *S] logits and [N, *S] target -> [P, C] and [P] (one row per pixel/sample)."""
    check_shapes(logits, target)
    c = logits.shape[1]
    return logits.float().movedim(1, -1).reshape(-1, c), target.reshape(-1).long()


def valid_pixels(target: torch.Tensor, num_classes: int, ignore_index: int | None) -> torch.Tensor:
    """Mask of the rows to use; a class id outside 0..C-1 that is not ignored is a data error."""
    valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    if valid.any():
        t = target if ignore_index is None else torch.where(valid, target, torch.zeros_like(target))
        lo, hi = (int(v) for v in torch.aminmax(t))
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            hint = (" (set the loss's ignore_index for unlabelled pixels?)" if ignore_index is None else
                    f" and not the loss's ignore_index {ignore_index} (pixels the dataset marks as ignored, "
                    "data.args.ignore_index with data.args.foreign=ignore, need the same loss.ignore_index)")
            raise DataError(f"loss: target holds class id {bad}, outside 0..{num_classes - 1}{hint}")
    return valid


def zero_loss(logits: torch.Tensor) -> torch.Tensor:
    return logits.sum() * 0.0


def class_vector(values: Sequence[float] | None, name: str) -> torch.Tensor | None:
    if values is None:
        return None
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, (int, float)) for v in values):
        raise RecipeError(f"loss.{name}: expected a list of numbers (one per class), got {values!r}")
    return torch.tensor([float(v) for v in values])


def check_class_count(vec: torch.Tensor | None, c: int, name: str) -> None:
    if vec is not None and vec.numel() != c:
        raise RecipeError(f"loss.{name}: has {vec.numel()} values but the model predicts {c} classes")


@LOSSES.register("cross_entropy")
class CrossEntropyLoss(nn.Module):
    """Mean cross-entropy over non-ignored pixels (weighted mean with ``class_weights``)."""

    def __init__(
        self,
        ignore_index: int | None = None,
        class_weights: list[float] | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        if not 0.0 <= float(label_smoothing) <= 1.0:  # torch checks only in the first forward
            raise RecipeError(f"loss.label_smoothing: expected a number in [0, 1], got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("class_weights", class_vector(class_weights, "class_weights"), persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_class_count(self.class_weights, logits.shape[1], "class_weights")
        ignore = -100 if self.ignore_index is None else self.ignore_index
        # an id outside the classes is a DataError here, not an IndexError on CPU or a
        # device-side assert on CUDA inside F.cross_entropy
        if not bool(valid_pixels(target, logits.shape[1], self.ignore_index).any()):
            return zero_loss(logits)
        return F.cross_entropy(
            logits.float(), target.long(), weight=self.class_weights,
            ignore_index=ignore, label_smoothing=self.label_smoothing,
        )


@LOSSES.register("dice")
class DiceLoss(nn.Module):
    """1 - mean over classes of soft Dice on softmax probabilities (V-Net / Milletari style).

    Sums run over the whole batch, so a class absent from both prediction and target scores
    ``smooth / smooth = 1`` instead of dividing by zero. Ignored pixels count nowhere.
    """

    def __init__(self, ignore_index: int | None = None, smooth: float = 1.0) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.smooth = float(smooth)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # On the [N, C, ...] layout, without a one-hot copy: a softmax over a pixels x classes
        # matrix with few classes costs several times the whole loss on a CPU.
        c = logits.shape[1]
        check_shapes(logits, target)
        t = target.long()
        valid = valid_pixels(t, c, self.ignore_index)
        if not bool(valid.any()):
            return zero_loss(logits)
        probs = logits.float().softmax(dim=1)
        safe = torch.where(valid, t, torch.zeros_like(t))
        weight = valid.to(probs.dtype)
        true_prob = probs.gather(1, safe.unsqueeze(1)).squeeze(1) * weight
        inter = torch.zeros(c, dtype=probs.dtype, device=probs.device).index_add(0, safe.flatten(), true_prob.flatten())
        dims = [0, *range(2, probs.dim())]
        pred_sum = (probs * weight.unsqueeze(1)).sum(dim=dims)
        denom = pred_sum + torch.bincount(safe.flatten(), weights=weight.flatten(), minlength=c)
        dice = (2 * inter + self.smooth) / (denom + self.smooth)
        return 1 - dice.mean()


@LOSSES.register("focal")
class FocalLoss(nn.Module):
    """Softmax focal loss ``-alpha_t (1 - p_t)^gamma log p_t`` (Lin et al., 2017), mean over pixels.

    ``alpha``: a list (one weight per class, picked by the target) or a number scaling all
    classes. Unlike ``cross_entropy``'s ``class_weights`` the mean is over valid pixels, not
    over the weights, as in the paper. ``gamma=0`` without ``alpha`` is plain cross-entropy.
    """

    def __init__(
        self, gamma: float = 2.0, alpha: float | list[float] | None = None, ignore_index: int | None = None
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise RecipeError(f"loss.gamma: expected a number >= 0, got {gamma!r}")
        self.gamma = float(gamma)
        self.ignore_index = ignore_index
        self.alpha_scalar = float(alpha) if isinstance(alpha, (int, float)) else None
        vec = None if self.alpha_scalar is not None else class_vector(alpha, "alpha")
        self.register_buffer("alpha", vec, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        flat, t = flatten_pixels(logits, target)
        c = flat.shape[1]
        check_class_count(self.alpha, c, "alpha")
        valid = valid_pixels(t, c, self.ignore_index)
        if not bool(valid.any()):
            return zero_loss(logits)
        flat, t = flat[valid], t[valid]
        logpt = flat.log_softmax(dim=1).gather(1, t[:, None]).squeeze(1)
        loss = -logpt
        if self.gamma:
            loss = loss * (1 - logpt.exp()).clamp(min=0).pow(self.gamma)
        if self.alpha is not None:
            loss = loss * self.alpha[t]
        elif self.alpha_scalar is not None:
            loss = loss * self.alpha_scalar
        return loss.mean()
