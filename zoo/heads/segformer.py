"""SegFormer's all-MLP decoder (Xie et al., 2021, "SegFormer: Simple and Efficient Design for
Semantic Segmentation with Transformers") on any backbone of the contract.

Each backbone map is projected to ``embed_dim`` channels by a per-pixel linear layer (a
1x1 convolution), upsampled bilinearly to the finest map's resolution, and the maps are
concatenated, fused by a 1x1 conv-BN-ReLU, classified by a 1x1 convolution and upsampled
bilinearly to the input. Differences from the paper, and why:

* **Any backbone, not only Mix Transformer**: the levels are the backbone's strides >= 4
  from ``feature_info`` (the deepest map at each, one or more), so the decoder is the
  light choice on CNNs too (a ConvNeXt's or ResNet's stages at 4, 8, 16 and 32). The
  stride-2 map is left out as in the paper (the MiT has none).
* **Linear layers as 1x1 convolutions** on channels-first maps: the same weights, but no
  flatten/transpose round trip, so channels_last memory and bf16 stay on the fast
  convolution path on CPUs, and ONNX export sees plain convolutions.
* **``embed_dim`` defaults to 256** (the paper's B0 setting; its larger models use 768).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ignite_zoo.registry.registry import HEADS
from ignite_zoo.zoo.backbones.base import FeatureInfo
from ignite_zoo.zoo.heads.common import (Head, check_num_classes, check_positive_int, check_probability,
                                         conv_bn_relu, resize_to)
from ignite_zoo.zoo.heads.pyramid import levels


@HEADS.register("segformer")
class SegFormerHead(Head):
    """Per-level linear projection, upsample to the finest level, concatenate, fuse, classify."""

    def __init__(self, feature_info: list[FeatureInfo], num_classes: int, embed_dim: int = 256,
                 dropout: float = 0.1) -> None:
        super().__init__()
        check_num_classes(num_classes)
        check_positive_int(embed_dim, "embed_dim")
        p = check_probability(dropout, "dropout")
        #: backbone map per level, fine to coarse
        self.index = levels(feature_info, "segformer", min_stride=4)
        self.size_multiple = feature_info[self.index[-1]].stride
        self.project = nn.ModuleList(nn.Conv2d(feature_info[i].channels, embed_dim, 1) for i in self.index)
        self.fuse = conv_bn_relu(embed_dim * len(self.index), embed_dim, kernel=1)
        self.dropout = nn.Dropout2d(p)
        self.classify = nn.Conv2d(embed_dim, num_classes, 1)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        fine = features[self.index[0]].shape[-2:]
        maps = [proj(features[i]) for proj, i in zip(self.project, self.index)]
        x = torch.cat([maps[0]] + [resize_to(m, fine) for m in maps[1:]], dim=1)
        return resize_to(self.classify(self.dropout(self.fuse(x))), size)
