"""Feature Pyramid Network decoder for semantic segmentation (Lin et al., 2017, "Feature
Pyramid Networks for Object Detection"; the segmentation branch of Kirillov et al., 2019,
"Panoptic Feature Pyramid Networks").

A 1x1 lateral convolution brings each backbone map to ``pyramid_channels``; a top-down
pass adds each level's upsampled coarser level, and a 3x3 convolution smooths the sum.
Each pyramid level then goes through conv-BN-ReLU + 2x upsampling stages until it reaches
the finest level's resolution (one stage per octave, as in Panoptic FPN); the levels are
summed, and a 1x1 convolution gives the classes, upsampled bilinearly to the input size.
Differences from the references, and why:

* **The levels are the backbone's strides >= 4** from ``feature_info`` (the deepest map
  at each), not fixed to P2-P5: VGG's pool2-pool5, a ResNet's four last stages, or any
  other pyramid. The stride-2 map is left out, as in the paper: at four times the
  pixels of stride 4 it costs more than it adds. At least two strides are needed.
* **Batch norm instead of group norm** in the segmentation stages: the rest of the zoo
  uses batch norm, it folds into the convolution for inference, and segmentation batches
  here are not the detection batches of 1-2 images group norm was chosen for.
* **No P6 and no extra levels above the backbone's deepest map**: they serve detection of
  large objects, not dense labelling.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.registry import HEADS
from ignite_zoo.zoo.backbones.base import FeatureInfo
from ignite_zoo.zoo.heads.common import (Head, check_num_classes, check_positive_int, check_probability,
                                         conv_bn_relu, resize_to)
from ignite_zoo.zoo.heads.pyramid import levels


class SegmentationStages(nn.Module):
    """conv-BN-ReLU, then (2x bilinear upsampling, conv-BN-ReLU) once per octave above the finest level."""

    def __init__(self, in_ch: int, out_ch: int, octaves: int) -> None:
        super().__init__()
        self.first = conv_bn_relu(in_ch, out_ch)
        self.rest = nn.ModuleList(conv_bn_relu(out_ch, out_ch) for _ in range(octaves))

    def forward(self, x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        x = self.first(x)
        for conv in self.rest:
            x = conv(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))
        return resize_to(x, size) if self.rest else x


@HEADS.register("fpn")
class FPN(Head):
    """Lateral 1x1 convs, top-down sums, 3x3 smoothing, per-level upsampling stages, sum, classify."""

    def __init__(self, feature_info: list[FeatureInfo], num_classes: int, pyramid_channels: int = 256,
                 segmentation_channels: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        check_num_classes(num_classes)
        check_positive_int(pyramid_channels, "pyramid_channels")
        check_positive_int(segmentation_channels, "segmentation_channels")
        p = check_probability(dropout, "dropout")
        #: backbone map per level, fine to coarse
        self.index = levels(feature_info, "fpn", min_stride=4, need=2)
        strides = [feature_info[i].stride for i in self.index]
        self.size_multiple = strides[-1]
        self.lateral = nn.ModuleList(nn.Conv2d(feature_info[i].channels, pyramid_channels, 1) for i in self.index)
        self.smooth = nn.ModuleList(nn.Conv2d(pyramid_channels, pyramid_channels, 3, padding=1) for _ in self.index)
        self.stages = nn.ModuleList(
            SegmentationStages(pyramid_channels, segmentation_channels, round(math.log2(s / strides[0])))
            for s in strides)
        self.dropout = nn.Dropout2d(p)
        self.classify = nn.Conv2d(segmentation_channels, num_classes, 1)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        maps = [features[i] for i in self.index]
        x = self.lateral[-1](maps[-1])
        pyramid = [x]
        for lateral, m in zip(reversed(self.lateral[:-1]), reversed(maps[:-1])):  # top-down
            x = lateral(m) + F.interpolate(x, size=m.shape[-2:], mode="nearest")
            pyramid.append(x)
        pyramid.reverse()  # fine to coarse again
        fine = maps[0].shape[-2:]
        out = sum(stage(smooth(p), fine) for stage, smooth, p in zip(self.stages, self.smooth, pyramid))
        return resize_to(self.classify(self.dropout(out)), size)
