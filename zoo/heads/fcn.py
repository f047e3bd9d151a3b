"""Fully convolutional networks (Long, Shelhamer & Darrell, 2015): FCN32s, FCN16s, FCN8s.

Differences from the Caffe reference (and wkentaro/pytorch-fcn), and why:

* **"Same" padding on fc6 instead of pad-100 + crop.** Caffe pads the input by 100 pixels
  and crops the upsampled scores back with offsets 19/27/31. Here fc6 is a 7x7 convolution
  with padding 3, so the stride-32 score map stays aligned with the input (cell ``i``
  centred on input pixel ``32 i + 15.5``) and no compute is spent on the padded border.
* **Every upsampling crops at offset 0.** Each ``ConvTranspose2d`` has kernel ``2f``,
  stride ``f`` and padding ``f / 2``, which turns an ``n``-cell map into exactly ``f n``
  pixels whose centres line up with ``F.interpolate(..., align_corners=False)`` (the
  bilinear initialisation reproduces it exactly away from the border). The result is then
  cut to the skip map's size (or the input's) at the bottom/right: offset 0.
* **Any input size.** VGG backbones pool with ``ceil_mode=True``, so the stride-s map of
  an H x W input is ``ceil(H/s) x ceil(W/s)`` and ``f * ceil(H/(s f)) >= ceil(H/s)``: each
  upsampled map is at least as large as its target and is only cropped (500x375 -> a
  16x12 stride-32 map -> 512x384 -> cropped to 500x375). Backbones whose maps are
  floor-sized (some timm models) are edge-padded (replicate) instead of cropped, so the
  output is H x W in every case.

fc6/fc7 take their weights from torchvision's ``classifier.0``/``classifier.3`` (reshaped
to 7x7 and 1x1 convolutions) when the backbone's weights file carried them. The skip score
layers start at zero, so an untrained FCN16s/FCN8s predicts exactly what its stride-32
path predicts, as in the paper's stage-wise training.
"""
from __future__ import annotations

import logging
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.registry import HEADS
from ignite_zoo.zoo.backbones.base import FeatureInfo
from ignite_zoo.zoo.heads.common import Head, check_num_classes, check_positive_int, check_probability, last_at_stride

log = logging.getLogger("zoo")


def bilinear_kernel(factor: int) -> torch.Tensor:
    """The ``2 factor`` x ``2 factor`` bilinear interpolation kernel (FCN's ``upsample_filt``)."""
    size = 2 * factor
    center = factor - 0.5
    og = torch.arange(size, dtype=torch.float64)
    filt = 1 - (og - center).abs() / factor
    return (filt[:, None] * filt[None, :]).float()


def bilinear_upsample(channels: int, factor: int, learnable: bool = True) -> nn.ConvTranspose2d:
    """A ``factor``x ``ConvTranspose2d`` initialised to per-channel bilinear interpolation.

    Output size is exactly ``factor * input`` (padding ``factor / 2``). With
    ``learnable=False`` the weights are frozen and it stays a fixed bilinear upsampler.
    """
    if factor < 2 or factor % 2:
        raise ValueError(f"upsampling factor must be even and >= 2, got {factor}")
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        up.weight.zero_()
        kernel = bilinear_kernel(factor)
        for c in range(channels):
            up.weight[c, c] = kernel
    up.weight.requires_grad_(learnable)
    return up


def fit(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Cut ``x`` to ``size`` (H, W) at offset 0; edge-pad at the bottom/right if it is smaller.

    No branch on sizes and no ``int()`` of them: ``torch.export`` (ONNX export) then keeps
    height and width symbolic instead of fixing them to the example's.
    """
    h, w = size[0], size[1]
    x = x[..., :h, :w]
    return F.pad(x, (0, w - x.shape[-1], 0, h - x.shape[-2]), mode="replicate")


class _FCN(Head):
    """The shared stride-32 path: fc6/fc7 as convolutions, ``score_fr``.

    FCNs take any input size themselves (each upsampling is cropped or edge-padded to its
    target, see ``fit``), so the model pads nothing for them: ``size_multiple = 1`` keeps
    their numbers exactly those of the paper's crop-based design at every size.
    """

    #: the backbone strides the head reads (32 first)
    strides: tuple[int, ...] = (32,)
    size_multiple = 1

    def __init__(
        self,
        feature_info: list[FeatureInfo],
        num_classes: int,
        hidden: int = 4096,
        dropout: float = 0.5,
        learnable_upsample: bool = True,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        check_positive_int(hidden, "hidden")
        check_probability(dropout, "dropout")
        name = type(self).__name__.lower()
        #: index in the backbone's list of the map read at each of ``strides``
        self.index = {s: last_at_stride(feature_info, s, name) for s in self.strides}
        channels = {s: feature_info[i].channels for s, i in self.index.items()}
        self.num_classes = num_classes
        self.learnable_upsample = learnable_upsample
        self.fc6 = nn.Conv2d(channels[32], hidden, kernel_size=7, padding=3)
        self.relu6 = nn.ReLU(inplace=True)
        self.drop6 = nn.Dropout2d(dropout)
        self.fc7 = nn.Conv2d(hidden, hidden, kernel_size=1)
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout2d(dropout)
        self.score_fr = nn.Conv2d(hidden, num_classes, kernel_size=1)
        for conv in (self.fc6, self.fc7):
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.normal_(self.score_fr.weight, 0, 0.01)
        nn.init.zeros_(self.score_fr.bias)
        self.channels = channels

    def load_classifier_state(self, state: dict[str, torch.Tensor]) -> None:
        """torchvision's classifier.0/3 Linears -> fc6 (7x7) / fc7 (1x1) by reshaping."""
        pairs = {"0": self.fc6, "3": self.fc7}
        fits = all(
            f"{k}.weight" in state and f"{k}.bias" in state
            and state[f"{k}.weight"].numel() == conv.weight.numel()
            and state[f"{k}.weight"].shape[0] == conv.out_channels
            and state[f"{k}.bias"].shape == conv.bias.shape
            for k, conv in pairs.items()
        )
        if not fits:
            log.warning(
                "head %s: the backbone file's classifier weights do not fit fc6/fc7 (hidden=%d); "
                "they stay randomly initialised", type(self).__name__.lower(), self.fc6.out_channels,
            )
            return
        with torch.no_grad():
            for k, conv in pairs.items():
                conv.weight.copy_(state[f"{k}.weight"].reshape(conv.weight.shape))
                conv.bias.copy_(state[f"{k}.bias"])
        log.info("head %s: fc6/fc7 converted from the backbone file's classifier.0/classifier.3",
                 type(self).__name__.lower())

    def score32(self, pool5: torch.Tensor) -> torch.Tensor:
        """The coarse (stride-32) class scores: fc6, fc7, score_fr."""
        x = self.drop6(self.relu6(self.fc6(pool5)))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.score_fr(x)


def _zero_conv(in_ch: int, out_ch: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_ch, out_ch, kernel_size=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


@HEADS.register("fcn32s")
class FCN32s(_FCN):
    """Stride-32 scores upsampled 32x in one step."""

    strides = (32,)

    def __init__(self, feature_info: list[FeatureInfo], num_classes: int, hidden: int = 4096,
                 dropout: float = 0.5, learnable_upsample: bool = True) -> None:
        super().__init__(feature_info, num_classes, hidden, dropout, learnable_upsample)
        self.upscore = bilinear_upsample(num_classes, 32, learnable_upsample)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        return fit(self.upscore(self.score32(features[self.index[32]])), size)


@HEADS.register("fcn16s")
class FCN16s(_FCN):
    """Stride-32 scores x2, plus pool4 scores, then x16."""

    strides = (32, 16)

    def __init__(self, feature_info: list[FeatureInfo], num_classes: int, hidden: int = 4096,
                 dropout: float = 0.5, learnable_upsample: bool = True) -> None:
        super().__init__(feature_info, num_classes, hidden, dropout, learnable_upsample)
        self.score_pool4 = _zero_conv(self.channels[16], num_classes)
        self.upscore2 = bilinear_upsample(num_classes, 2, learnable_upsample)
        self.upscore16 = bilinear_upsample(num_classes, 16, learnable_upsample)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        score = self.score32(features[self.index[32]])
        pool4 = self.score_pool4(features[self.index[16]])
        score = fit(self.upscore2(score), pool4.shape[-2:]) + pool4
        return fit(self.upscore16(score), size)


@HEADS.register("fcn8s")
class FCN8s(_FCN):
    """Stride-32 scores x2 + pool4 scores, x2 + pool3 scores, then x8."""

    strides = (32, 16, 8)

    def __init__(self, feature_info: list[FeatureInfo], num_classes: int, hidden: int = 4096,
                 dropout: float = 0.5, learnable_upsample: bool = True) -> None:
        super().__init__(feature_info, num_classes, hidden, dropout, learnable_upsample)
        self.score_pool4 = _zero_conv(self.channels[16], num_classes)
        self.score_pool3 = _zero_conv(self.channels[8], num_classes)
        self.upscore2 = bilinear_upsample(num_classes, 2, learnable_upsample)
        self.upscore_pool4 = bilinear_upsample(num_classes, 2, learnable_upsample)
        self.upscore8 = bilinear_upsample(num_classes, 8, learnable_upsample)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        score = self.score32(features[self.index[32]])
        pool4 = self.score_pool4(features[self.index[16]])
        score = fit(self.upscore2(score), pool4.shape[-2:]) + pool4
        pool3 = self.score_pool3(features[self.index[8]])
        score = fit(self.upscore_pool4(score), pool3.shape[-2:]) + pool3
        return fit(self.upscore8(score), size)
