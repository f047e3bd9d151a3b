"""An example user head: a 1x1 convolution on the deepest map, upsampled bilinearly.

Registering it is all it takes; nothing in the zoo changes. Name this module in a recipe
(``imports: [my_head]`` with this file beside the recipe, or installed) and use it::

    imports: [my_head]
    model:
      backbone: {type: vgg16}
      head: {type: my_head, num_classes: 7}

A head is built from the backbone's ``feature_info`` (one entry per map the backbone
returns, with its stride and channels) and turns the list of maps into logits of ``size``.
The model around it normalises and pads the input and crops the logits back, so the head
works on any backbone (VGG, ``timm:<name>``, a user's) and at any input size.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ignite_zoo.registry import HEADS
from ignite_zoo.zoo.backbones import FeatureInfo
from ignite_zoo.zoo.heads.common import Head, check_num_classes, resize_to


@HEADS.register("my_head")
class MyHead(Head):
    def __init__(self, feature_info: list[FeatureInfo], num_classes: int) -> None:
        super().__init__()
        check_num_classes(num_classes)
        self.score = nn.Conv2d(feature_info[-1].channels, num_classes, kernel_size=1)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        return resize_to(self.score(features[-1]), size)
