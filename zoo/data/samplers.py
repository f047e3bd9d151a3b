"""Training samplers chosen by ``data.sampler``.

``{type: class_balanced, rule: sqrt_inverse_frequency, num_samples: null, seed: null}``
draws training images with replacement, each with probability proportional to the mean
class weight of its pixels (``rule`` as in ``loss.class_weights``; the per-image class
histograms are those of ``zoo.data.class_stats``, cached beside the data). Images rich in
rare classes come up more often; an image without a counted pixel never does.

With several processes (``ignite.distributed``) every rank draws the same sequence for the
epoch (one generator seeded by ``seed`` and the epoch) and keeps its share (every
world-th draw from its rank), so together the ranks draw exactly what one process would.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data.distributed import DistributedSampler

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.zoo.data.class_stats import ClassStats, check_rule, weights_from_histograms


def image_weights(hist: np.ndarray, class_weights: Sequence[float]) -> np.ndarray:
    """Each image's mean class weight over its counted pixels (0 for an image without any)."""
    hist = np.asarray(hist, dtype=np.float64)
    pixels = hist.sum(1)
    return np.where(pixels > 0, hist @ np.asarray(class_weights, dtype=np.float64) / np.maximum(pixels, 1), 0.0)


class ClassBalancedSampler(DistributedSampler):
    """Weighted draws with replacement, shared out between ranks.

    A ``DistributedSampler`` so that ignite's ``auto_dataloader`` uses it as it is (it
    would otherwise wrap it and split the draws a second time); ``set_epoch`` is honoured
    and, when nobody calls it, each new iteration is the next epoch.
    """

    def __init__(self, weights: Sequence[float], num_samples: int | None = None, seed: int = 0,
                 rank: int = 0, world: int = 1) -> None:
        w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
        if w.ndim != 1 or not bool((w >= 0).all()) or not bool(w.sum() > 0):
            raise RecipeError("data.sampler: every image has weight 0 (no counted pixel of a weighted class)")
        total = len(w) if num_samples is None else num_samples
        if total < 1:
            raise RecipeError(f"data.sampler.num_samples: expected a positive integer, got {num_samples!r}")
        super().__init__(range(len(w)), num_replicas=world, rank=rank, shuffle=False, seed=seed)
        self.weights, self.total = w, int(total)
        self.num_samples = math.ceil(self.total / world)
        self.total_size = self.num_samples * world
        self._next_epoch = 0

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self._next_epoch = epoch

    def draws(self, epoch: int) -> list[int]:
        """All ranks' draws of ``epoch`` (the same list on every rank)."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.multinomial(self.weights, self.total_size, replacement=True, generator=g).tolist()

    def __iter__(self) -> Iterator[int]:
        epoch, self._next_epoch = self._next_epoch, self._next_epoch + 1
        return iter(self.draws(epoch)[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples


def build_sampler(cfg: Mapping[str, Any] | None, train_ds: Any, num_classes: int, seed: int = 0,
                  rank: int = 0, world: int = 1) -> ClassBalancedSampler | None:
    """``data.sampler`` for the training set; None: the loader shuffles as usual."""
    if cfg is None:
        return None
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    if cfg.get("type") != "class_balanced":
        raise RecipeError(f"data.sampler.type: {cfg.get('type')!r} is not a sampler; expected class_balanced")
    unknown = sorted(set(kwargs) - {"rule", "num_samples", "seed", "skip"})
    if unknown:
        raise RecipeError(f"data.sampler.{unknown[0]}: unknown key; expected rule, num_samples, seed, skip")
    rule = check_rule(kwargs.get("rule", "sqrt_inverse_frequency"), "data.sampler.rule")
    skip = kwargs.get("skip") or []
    if not isinstance(skip, list) or not all(isinstance(c, int) and 0 <= c < num_classes for c in skip):
        raise RecipeError(f"data.sampler.skip: expected a list of class ids in 0..{num_classes - 1}, got {skip!r}")
    n = kwargs.get("num_samples")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise RecipeError(f"data.sampler.num_samples: expected an integer or null, got {n!r}")
    hist = ClassStats(train_ds, num_classes).hist
    per_image = image_weights(hist, weights_from_histograms(hist, rule, skip))
    s = kwargs.get("seed")
    return ClassBalancedSampler(per_image, n, seed if s is None else int(s), rank, world)
