"""U-Net decoder (Ronneberger, Fischer & Brox, 2015, "U-Net: Convolutional Networks for
Biomedical Image Segmentation") on any backbone of the contract.

The decoder climbs from the deepest map back to the input resolution: each block doubles
the resolution, concatenates the backbone's map at that stride (the skip connection) when
there is one, and applies two 3x3 conv-BN-ReLU. Differences from the paper, and why:

* **The encoder is any backbone**, not the paper's symmetric contracting path; the skips
  are the deepest map at each stride the backbone publishes (``feature_info``), so VGG's
  five pools, a ResNet's five stages or a ConvNeXt's four all fit. Strides with no map
  (ConvNeXt has none at 2) get a block without a skip, as segmentation_models_pytorch does.
* **"Same" padding, no cropping of the skips.** The paper's valid convolutions shrink every
  map and crop the skips; here every map keeps its size, so an H x W input gives H x W
  logits (the model pads the input to the deepest stride and crops the logits).
* **Nearest-neighbour upsampling + convolution instead of 2x2 up-convolutions** (fewer
  parameters, no checkerboard artefacts), and **batch norm** after every convolution, as
  segmentation_models_pytorch's and mmsegmentation's U-Nets do.
* **``decoder_channels``** sets each block's width, deepest first. Fewer blocks than steps
  to stride 1 stop the decoder early and upsample the logits bilinearly: cheaper on a CPU,
  at the cost of the finest detail.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.registry import HEADS
from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.zoo.backbones.base import FeatureInfo
from ignite_zoo.zoo.heads.common import Head, check_num_classes, check_probability, conv_bn_relu, resize_to
from ignite_zoo.zoo.heads.pyramid import check_int_list, levels


class DecoderBlock(nn.Module):
    """Upsample to the block's size (the skip's), concatenate the skip, two 3x3 conv-BN-ReLU."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(in_ch + skip_ch, out_ch)
        self.conv2 = conv_bn_relu(out_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None, size: Sequence[Any]) -> torch.Tensor:
        x = F.interpolate(x, size=(size[0], size[1]), mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


def block_strides(deepest: int) -> list[int]:
    """The stride each decoder block ends at: halving from the deepest stride down to 1."""
    out, s = [], deepest
    while s > 1:
        s //= 2
        out.append(s)
    return out


@HEADS.register("unet")
class UNet(Head):
    """U-Net decoder: one block per halving of the stride, with the backbone's map as skip."""

    def __init__(self, feature_info: list[FeatureInfo], num_classes: int,
                 decoder_channels: Sequence[int] | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        check_num_classes(num_classes)
        self.dropout_p = check_probability(dropout, "dropout")
        index = levels(feature_info, "unet")
        deep = index[-1]
        self.size_multiple = feature_info[deep].stride
        steps = block_strides(self.size_multiple)
        if not steps:
            raise RecipeError(f"model.head: unet needs a backbone map at a stride above 1; the deepest is at stride "
                              f"{self.size_multiple}")
        if decoder_channels is None:
            decoder_channels = [max(16, 256 >> i) for i in range(len(steps))]
        widths = check_int_list(decoder_channels, "decoder_channels")
        if len(widths) > len(steps):
            raise RecipeError(f"model.head.decoder_channels: at most {len(steps)} widths, one per decoder block "
                              f"(strides {', '.join(map(str, steps))} below the backbone's deepest stride "
                              f"{self.size_multiple}), got {len(widths)} ({widths!r})")
        skip_at = {feature_info[i].stride: i for i in index[:-1]}
        #: the stride each block ends at, and the backbone map it joins (None: no map at that stride)
        self.steps = steps[:len(widths)]
        self.skips: list[int | None] = [skip_at.get(s) for s in self.steps]
        self.deep = deep
        blocks, in_ch = [], feature_info[deep].channels
        for width, skip in zip(widths, self.skips):
            blocks.append(DecoderBlock(in_ch, 0 if skip is None else feature_info[skip].channels, width))
            in_ch = width
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout2d(self.dropout_p)
        self.classify = nn.Conv2d(in_ch, num_classes, kernel_size=1)
        #: the stride of the logits before the final bilinear upsampling (1: none needed)
        self.out_stride = steps[len(widths) - 1]

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        x = features[self.deep]
        for block, stride, skip in zip(self.blocks, self.steps, self.skips):
            if skip is None:  # no backbone map at this stride: the size the stride gives (ceil, as pooling)
                x = block(x, None, ((size[0] + stride - 1) // stride, (size[1] + stride - 1) // stride))
            else:
                x = block(x, features[skip], features[skip].shape[-2:])
        x = self.classify(self.dropout(x))
        return resize_to(x, size) if self.out_stride > 1 else x

    def extra_repr(self) -> str:
        return f"steps={self.steps}, skips={self.skips}"
