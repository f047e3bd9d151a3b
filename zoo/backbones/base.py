"""The backbone contract: a list of feature maps, each described by its stride and channels.

A backbone's ``forward(x)`` returns a list of maps, shallow to deep, and its
``feature_info`` describes them in the same order, as timm's ``features_only`` models do
(``feature_info.reduction()`` / ``.channels()``). A list, not a dict keyed by stride:
several maps may share a stride (a ViT's blocks, a dilated ResNet with ``output_stride``
16), and a dict keyed by stride silently kept only one of them.

Heads are built from ``feature_info`` alone, never from a table of known backbones, so any
backbone that publishes it (VGG, every timm ``features_only`` model, a user's) works with
every head.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from ignite_zoo.registry.errors import RecipeError


@dataclass(frozen=True)
class FeatureInfo:
    """One map of a backbone's output: its stride (input pixels per map cell) and channels."""

    stride: int
    channels: int


class Backbone(nn.Module):
    """Base of this package's backbones: ``forward(x) -> list[Tensor]`` matching ``feature_info``.

    ``in_chans``: the input bands. ``classifier_state``: classification-layer weights that
    came with the backbone's weights file (torchvision's ``classifier.*``), which a head may
    take (FCN's fc6/fc7, the classifier's Linears); None otherwise.
    """

    feature_info: list[FeatureInfo]
    in_chans: int = 3
    classifier_state: dict[str, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


def check_in_chans(in_chans: Any, where: str = "model.backbone.in_chans") -> int:
    """The number of input bands, checked once for every backbone."""
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise RecipeError(f"{where}: expected a positive number of input bands, got {in_chans!r}")
    return in_chans


def feature_info_of(backbone: nn.Module, where: str = "model.backbone") -> list[FeatureInfo]:
    """A backbone's ``feature_info`` as a list of ``FeatureInfo``, checked.

    Accepts this package's list, timm's ``FeatureInfo`` object, or a list of mappings with
    ``stride``/``reduction`` and ``channels`` (what a user's backbone may publish).
    """
    info = getattr(backbone, "feature_info", None)
    if info is None:
        raise RecipeError(f"{where}: {type(backbone).__name__} publishes no feature_info (a list of maps with "
                          "their stride and channels); see zoo/backbones/base.py")
    if hasattr(info, "reduction") and hasattr(info, "channels") and callable(info.channels):
        return [FeatureInfo(int(r), int(c)) for r, c in zip(info.reduction(), info.channels())]
    out: list[FeatureInfo] = []
    for i, item in enumerate(info):
        if isinstance(item, FeatureInfo):
            out.append(item)
        elif isinstance(item, dict) and ("stride" in item or "reduction" in item) and "channels" in item:
            out.append(FeatureInfo(int(item.get("stride", item.get("reduction"))), int(item["channels"])))
        else:
            raise RecipeError(f"{where}: feature_info[{i}] is {item!r}; expected stride and channels")
    if not out:
        raise RecipeError(f"{where}: feature_info is empty; a backbone must return at least one map")
    return out


def strides_text(info: Sequence[FeatureInfo]) -> str:
    """``"2 (64), 4 (128), ..."``: what a head's error says the backbone gives."""
    return ", ".join(f"{f.stride} ({f.channels} ch)" for f in info)


def adapt_first_conv(weight: torch.Tensor, in_chans: int, rgb_bands: Sequence[int] | None) -> torch.Tensor:
    """RGB filters ``[out, 3, k, k]`` for ``in_chans`` bands.

    The filters stay on the bands named as RGB (``rgb_bands``, default the first three), so
    an RGB image inside a multi-band scene is seen as ImageNet trained it; every other band
    starts from the mean of the RGB filters (timm's rule for extra channels). One band gets
    the sum of the three, as timm's ``adapt_input_conv`` does for grey input.
    """
    if in_chans == 3 and rgb_bands in (None, [0, 1, 2], (0, 1, 2)):
        return weight
    if in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    rgb = list(rgb_bands) if rgb_bands is not None else [0, 1, 2]
    out = weight.mean(dim=1, keepdim=True).repeat(1, in_chans, 1, 1)
    for src, band in enumerate(rgb):
        out[:, band] = weight[:, src]
    return out
