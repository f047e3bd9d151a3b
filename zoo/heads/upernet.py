"""UPerNet decoder (Xiao et al., 2018, "Unified Perceptual Parsing for Scene Understanding"),
as mmsegmentation's ``UPerHead`` builds it for semantic segmentation.

A pyramid pooling module (PSPNet's: the deepest map averaged into 1x1, 2x2, 3x3 and 6x6
bins, each reduced by a 1x1 convolution and upsampled back, concatenated with the map
and fused by a 3x3 convolution) tops a feature pyramid: lateral 1x1 convolutions on the
other levels, a top-down pass of sums, a 3x3 convolution per level. All levels are
upsampled to the finest, concatenated, fused by a 3x3 convolution, classified and
upsampled bilinearly to the input. Differences from the reference, and why:

* **The levels are the backbone's strides >= 4** from ``feature_info`` (the deepest map
  at each, at least two strides), not four fixed ResNet stages, so any pyramid fits.
* **Adaptive pooling as two matrix products** (``pyramid.adaptive_avg_pool``): the same
  numbers, but ONNX export keeps the input size dynamic; ``adaptive_avg_pool2d`` fixes its
  windows to the example's size and the exported graph is wrong at other sizes.
* **No batch norm in the 1x1 pooled branch** (one value per image and channel, which batch
  norm cannot train on at batch size 1); the other branches are conv-BN-ReLU.
* **``channels`` defaults to 256**, not mmsegmentation's 512: a quarter of the fusion's
  cost, for CPU training; set 512 for the reference's width.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.registry import HEADS
from ignite_zoo.zoo.backbones.base import FeatureInfo
from ignite_zoo.zoo.heads.common import (Head, check_num_classes, check_positive_int, check_probability,
                                         conv_bn_relu, resize_to)
from ignite_zoo.zoo.heads.pyramid import adaptive_avg_pool, check_int_list, levels


class PyramidPooling(nn.Module):
    """PSPNet's module: pooled branches at ``scales`` + the map itself, fused by a 3x3 conv."""

    def __init__(self, in_ch: int, out_ch: int, scales: Sequence[int]) -> None:
        super().__init__()
        self.scales = list(scales)
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_ch, out_ch, 1), nn.ReLU(inplace=True)) if s == 1
            else conv_bn_relu(in_ch, out_ch, kernel=1) for s in self.scales)
        self.fuse = conv_bn_relu(in_ch + out_ch * len(self.scales), out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x]
        for s, branch in zip(self.scales, self.branches):
            outs.append(resize_to(branch(adaptive_avg_pool(x, s)), x.shape[-2:]))
        return self.fuse(torch.cat(outs, dim=1))


@HEADS.register("upernet")
class UPerNet(Head):
    """Pyramid pooling on the deepest map, an FPN over the others, fused at the finest level."""

    def __init__(self, feature_info: list[FeatureInfo], num_classes: int, channels: int = 256,
                 pool_scales: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1) -> None:
        super().__init__()
        check_num_classes(num_classes)
        check_positive_int(channels, "channels")
        scales = check_int_list(pool_scales, "pool_scales")
        p = check_probability(dropout, "dropout")
        #: backbone map per level, fine to coarse
        self.index = levels(feature_info, "upernet", min_stride=4, need=2)
        self.size_multiple = feature_info[self.index[-1]].stride
        self.ppm = PyramidPooling(feature_info[self.index[-1]].channels, channels, scales)
        self.lateral = nn.ModuleList(conv_bn_relu(feature_info[i].channels, channels, kernel=1)
                                     for i in self.index[:-1])
        self.smooth = nn.ModuleList(conv_bn_relu(channels, channels) for _ in self.index[:-1])
        self.fuse = conv_bn_relu(channels * len(self.index), channels)
        self.dropout = nn.Dropout2d(p)
        self.classify = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        maps = [features[i] for i in self.index]
        x = self.ppm(maps[-1])
        outs = [x]
        for lateral, smooth, m in zip(reversed(self.lateral), reversed(self.smooth), reversed(maps[:-1])):
            x = lateral(m) + F.interpolate(x, size=m.shape[-2:], mode="bilinear", align_corners=False)
            outs.append(smooth(x))
        outs.reverse()  # fine to coarse
        fine = outs[0].shape[-2:]
        x = torch.cat([outs[0]] + [resize_to(o, fine) for o in outs[1:]], dim=1)
        return resize_to(self.classify(self.dropout(self.fuse(x))), size)
