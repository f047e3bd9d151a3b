"""What the multi-scale heads (unet, fpn, deeplabv3plus, upernet, segformer) share.

Picking maps from ``feature_info`` (one per stride: the deepest, since several maps may
share a stride), checking list arguments, and adaptive average pooling that ONNX export
keeps dynamic. Every function is built from the backbone's published description only,
so the heads never consult a table of known backbones.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.zoo.backbones.base import FeatureInfo, strides_text


def levels(info: Sequence[FeatureInfo], head: str, min_stride: int = 1, need: int = 1) -> list[int]:
    """Indices into the backbone's list of the deepest map at each distinct stride, shallow
    to deep, keeping strides >= ``min_stride`` when there are any (a stride-2 map costs four
    times a stride-4 one and the pyramid heads gain little from it).

    A RecipeError naming what the backbone gives when fewer than ``need`` strides remain.
    """
    by_stride: dict[int, int] = {}
    for i, f in enumerate(info):
        by_stride[f.stride] = i  # the later (deeper) map wins at a shared stride
    strides = sorted(by_stride)
    kept = [s for s in strides if s >= min_stride] or strides
    if len(kept) < need:
        at = f" of at least {min_stride}" if min_stride > 1 else ""
        raise RecipeError(f"model.head: {head} needs maps at {need} or more strides{at}; the backbone gives "
                          f"{strides_text(info)}")
    return [by_stride[s] for s in kept]


def check_int_list(value: Any, key: str, length: int | None = None, min_len: int = 1, max_len: int | None = None,
                   minimum: int = 1) -> list[int]:
    """A list of integers >= ``minimum`` (``model.head.<key>``): decoder widths, rates, scales."""
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value):
        raise RecipeError(f"model.head.{key}: expected a list of integers >= {minimum}, got {value!r}")
    if length is not None and len(value) != length:
        raise RecipeError(f"model.head.{key}: expected {length} values, got {len(value)} ({value!r})")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        most = f" and at most {max_len}" if max_len is not None else ""
        raise RecipeError(f"model.head.{key}: expected at least {min_len}{most} values, got {len(value)} ({value!r})")
    return list(value)


def _pool_matrix(n: Any, bins: int, like: torch.Tensor) -> torch.Tensor:
    """``[bins, n]``: row ``i`` averages positions ``floor(i n / bins)`` .. ``ceil((i + 1) n / bins) - 1``,
    exactly the cells ``adaptive_avg_pool2d`` averages."""
    i = torch.arange(bins, device=like.device)
    start = (i * n) // bins
    end = ((i + 1) * n + bins - 1) // bins
    pos = torch.arange(n, device=like.device)
    mask = ((pos[None, :] >= start[:, None]) & (pos[None, :] < end[:, None])).to(like.dtype)
    return mask / mask.sum(dim=1, keepdim=True)


def adaptive_avg_pool(x: torch.Tensor, bins: int) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, bins)`` as two matrix products.

    The same numbers, but ``torch.export`` keeps height and width symbolic: it fixes
    ``adaptive_avg_pool2d``'s windows to the example's size, and the exported graph then
    gives wrong logits at every other size.
    """
    if bins == 1:
        return x.mean(dim=(2, 3), keepdim=True)
    rows = _pool_matrix(x.shape[-2], bins, x)
    cols = _pool_matrix(x.shape[-1], bins, x)
    return rows @ x @ cols.transpose(0, 1)
