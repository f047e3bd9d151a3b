"""DeepLabV3+ decoder (Chen et al., 2018, "Encoder-Decoder with Atrous Separable Convolution
for Semantic Image Segmentation").

Atrous spatial pyramid pooling (ASPP) on the backbone's deepest map: a 1x1 convolution,
three 3x3 convolutions at growing dilation rates and an image-level pooling branch,
concatenated and projected to ``aspp_channels``. The result is upsampled to a low-level
map (stride 4, reduced to ``low_level_channels`` by a 1x1 convolution), concatenated with
it, refined by two 3x3 convolutions, classified and upsampled bilinearly to the input.
Differences from the paper, and why:

* **The output stride is the backbone's.** The paper dilates the backbone's last stages
  so the deepest map is at stride 16 (or 8). The head reads the deepest map's stride from
  ``feature_info``: set ``model.backbone.output_stride: 16`` (or 8) on a timm backbone and
  the head runs at that stride; a backbone that cannot dilate (VGG) stays at its own
  stride, and the log says which stride the head uses and with which rates.
* **The rates follow the stride** when ``atrous_rates`` is not given: the paper's
  (6, 12, 18) at stride 16, doubled at stride 8 (as in the paper) and halved at stride 32,
  so the pyramid covers about the same field of view in pixels whatever the stride.
* **The low-level map is the deepest map at stride 4**, or the shallowest one above 4 and
  below the ASPP stride when the backbone has none at 4 (a ViT-like backbone).
* **Plain 3x3 convolutions, not depthwise-separable ones**: the paper's separable ones
  save FLOPs with its Xception backbone, but on CPUs (and for small decoders) a dense
  convolution in bf16 runs faster than a depthwise + pointwise pair.
* **No batch norm in the image-pooling branch**: its 1 x 1 map has one value per image
  and channel, which batch norm cannot train on at batch size 1.
"""
from __future__ import annotations

import logging
from typing import Sequence

import torch
from torch import nn

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.registry import HEADS
from ignite_zoo.zoo.backbones.base import FeatureInfo, strides_text
from ignite_zoo.zoo.heads.common import (Head, check_num_classes, check_positive_int, check_probability,
                                         conv_bn_relu, resize_to)
from ignite_zoo.zoo.heads.pyramid import check_int_list

log = logging.getLogger("zoo")

#: the paper's rates at output stride 16
RATES_AT_16 = (6, 12, 18)


def default_rates(stride: int) -> list[int]:
    """The paper's rates scaled to ``stride``: (12, 24, 36) at 8, (6, 12, 18) at 16, (3, 6, 9) at 32."""
    return [max(1, round(r * 16 / stride)) for r in RATES_AT_16]


class ASPP(nn.Module):
    """1x1, one 3x3 per rate, image pooling; concatenated, projected, dropped out."""

    def __init__(self, in_ch: int, out_ch: int, rates: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.branches = nn.ModuleList([conv_bn_relu(in_ch, out_ch, kernel=1)]
                                      + [conv_bn_relu(in_ch, out_ch, dilation=r) for r in rates])
        self.pool = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1), nn.ReLU(inplace=True))
        self.project = nn.Sequential(conv_bn_relu(out_ch * (len(rates) + 2), out_ch, kernel=1), nn.Dropout2d(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x.mean(dim=(2, 3), keepdim=True)).expand(-1, -1, x.shape[-2], x.shape[-1])
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))


@HEADS.register("deeplabv3plus")
class DeepLabV3Plus(Head):
    """ASPP on the deepest map + a stride-4 low-level map, two 3x3 convolutions, classify."""

    def __init__(self, feature_info: list[FeatureInfo], num_classes: int, aspp_channels: int = 256,
                 atrous_rates: Sequence[int] | None = None, low_level_channels: int = 48,
                 decoder_channels: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        check_num_classes(num_classes)
        check_positive_int(aspp_channels, "aspp_channels")
        check_positive_int(low_level_channels, "low_level_channels")
        check_positive_int(decoder_channels, "decoder_channels")
        p = check_probability(dropout, "dropout")
        stride = max(f.stride for f in feature_info)
        self.deep = max(i for i, f in enumerate(feature_info) if f.stride == stride)
        low = [f.stride for f in feature_info if 4 <= f.stride < stride]
        if not low:
            raise RecipeError(f"model.head: deeplabv3plus needs a low-level map at stride 4 or more and below its "
                              f"deepest stride {stride}; the backbone gives {strides_text(feature_info)}")
        low_stride = 4 if 4 in low else min(low)
        self.low = max(i for i, f in enumerate(feature_info) if f.stride == low_stride)
        rates = default_rates(stride) if atrous_rates is None else check_int_list(atrous_rates, "atrous_rates")
        self.size_multiple = stride
        self.rates = list(rates)
        how = "the backbone's output_stride" if stride in (8, 16) else (
            "the backbone's deepest stride; set model.backbone.output_stride: 16 on a backbone that can dilate "
            "(timm) for the paper's setting")
        log.info("head deeplabv3plus: ASPP at stride %d (%s), rates %s; low-level map at stride %d",
                 stride, how, self.rates, low_stride)
        self.aspp = ASPP(feature_info[self.deep].channels, aspp_channels, self.rates, p)
        self.reduce = conv_bn_relu(feature_info[self.low].channels, low_level_channels, kernel=1)
        self.fuse = nn.Sequential(conv_bn_relu(aspp_channels + low_level_channels, decoder_channels),
                                  conv_bn_relu(decoder_channels, decoder_channels))
        self.classify = nn.Conv2d(decoder_channels, num_classes, 1)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        low = self.reduce(features[self.low])
        x = resize_to(self.aspp(features[self.deep]), low.shape[-2:])
        x = self.fuse(torch.cat([x, low], dim=1))
        return resize_to(self.classify(x), size)
