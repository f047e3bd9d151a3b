"""An example user head: a 1x1 convolution on the deepest map, upsampled bilinearly.

Registering it is all it takes; nothing in the zoo changes. Name this module in a recipe
(``imports: [my_head]`` with this file beside the recipe, or installed) and use it::

    imports: [my_head]
    model:
      backbone: {type: vgg16}
      head: {type: my_head, num_classes: 7}

A head is the whole model: it receives the built backbone, keeps it as ``self.backbone``
and reads channel counts from ``backbone.channels`` (stride -> channels), so it works on
any backbone, including ``timm:<name>``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry import HEADS


@HEADS.register("my_head")
class MyHead(nn.Module):
    def __init__(self, backbone: nn.Module, num_classes: int, stride: int | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.stride = stride or max(backbone.channels)
        self.score = nn.Conv2d(backbone.channels[self.stride], num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = self.score(self.backbone(x)[self.stride])
        return F.interpolate(score, size=x.shape[-2:], mode="bilinear", align_corners=False)
