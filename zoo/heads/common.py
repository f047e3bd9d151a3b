"""What every head shares: the head contract, and the checks heads make of their arguments.

A head is built from the backbone's ``feature_info`` (zoo/backbones/base.py) and the class
count, and its ``forward(features, size)`` turns the backbone's list of maps into logits of
``size`` (the padded input's height and width). The model around it
(``zoo.model.SegmentationModel``) normalises and pads the input and crops the logits back,
so no head repeats that. A user's head can call these checks too.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.zoo.backbones.base import FeatureInfo, strides_text


class Head(nn.Module):
    """Base of this package's heads.

    ``size_multiple``: the input size the head needs (height and width multiples of it); the
    model pads to it. None: the deepest stride the head reads, which makes every skip map
    line up exactly with its upsampled deeper map.
    """

    size_multiple: int | None = None

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def check_num_classes(num_classes: Any) -> None:
    """Fail at build time, naming the recipe key, rather than deep inside a layer's constructor."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise RecipeError(f"model.head.num_classes: expected a positive integer, got {num_classes!r}")


def check_positive_int(value: Any, key: str) -> int:
    """A width or count argument of a head (``model.head.<key>``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RecipeError(f"model.head.{key}: expected a positive integer, got {value!r}")
    return value


def check_probability(value: Any, key: str) -> float:
    """A dropout rate: 0 <= p < 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise RecipeError(f"model.head.{key}: expected a probability in [0, 1), got {value!r}")
    return float(value)


def last_at_stride(info: Sequence[FeatureInfo], stride: int, head: str) -> int:
    """Index of the deepest map at ``stride`` (several maps may share one), or a RecipeError
    naming what the backbone gives."""
    found = [i for i, f in enumerate(info) if f.stride == stride]
    if not found:
        raise RecipeError(f"model.head: {head} needs a backbone map at stride {stride}; the backbone gives "
                          f"{strides_text(info)}")
    return found[-1]


def resize_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize of logits or maps to ``size`` (export-safe: no branch on shapes)."""
    return F.interpolate(x, size=(size[0], size[1]), mode="bilinear", align_corners=False)


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    """The decoders' building block: conv (no bias) -> BatchNorm -> ReLU."""
    pad = dilation * (kernel // 2)
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, padding=pad, dilation=dilation, bias=False),
                         nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))
