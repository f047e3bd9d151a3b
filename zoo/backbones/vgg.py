"""VGG16 backbones whose ``features`` are torchvision's, layer for layer.

The module indices and parameter names of ``self.features`` match torchvision's
``vgg16``/``vgg16_bn`` exactly, so a torchvision state dict saved to a local file loads with
strict key checking and its ``classifier.*`` weights can seed a head (the classifier's
Linears, or FCN's fc6/fc7 as convolutions). Nothing is ever downloaded: without
``weights`` the backbone is Kaiming-initialised and says so in the log.

The backbone returns the five pool outputs (strides 2, 4, 8, 16, 32) as a list described by
``feature_info`` (see zoo/backbones/base.py); ``out_indices`` keeps fewer. ``in_chans``
other than 3 adapts the first convolution (see ``adapt_first_conv``).

Pooling uses ``ceil_mode=True`` by default (as Caffe's VGG and FCN do), so the stride-s
map of an H x W input is exactly ``ceil(H / s) x ceil(W / s)``: every input pixel falls in
some cell at every stride, which lets FCN heads crop (never pad) to the input size. For
inputs that are multiples of 32 (224, 512, CIFAR's 32) this is identical to torchvision's
floor pooling; ``ceil_mode=False`` restores torchvision's behaviour for other sizes.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ignite_zoo.registry.errors import CheckpointError, RecipeError
from ignite_zoo.registry.registry import BACKBONES
from ignite_zoo.zoo.backbones.base import Backbone, FeatureInfo, adapt_first_conv, check_in_chans
from ignite_zoo.zoo.backbones.weights import format_keys, load_state_file, resolve_weights

log = logging.getLogger("zoo")

#: torchvision's configuration "D" (VGG16): channels, "M" = 2x2 max pool.
VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)
#: The strides of the five pool outputs (pool1 ... pool5).
POOL_STRIDES = (2, 4, 8, 16, 32)


class VGG16(Backbone):
    """The 13 convolutions of VGG16, returning the pool outputs at strides 2 to 32.

    ``width`` scales every convolution's channels (e.g. 0.125 for fast tests); heads read
    the resulting channel counts from ``feature_info`` rather than assuming 256/512.
    """

    def __init__(
        self,
        batch_norm: bool = False,
        weights: str | None = None,
        width: float = 1.0,
        ceil_mode: bool = True,
        in_chans: int = 3,
        rgb_bands: Sequence[int] | None = None,
        out_indices: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, (int, float)) or width <= 0:
            raise RecipeError(f"model.backbone.width: expected a positive number, got {width!r}")
        self.in_chans = check_in_chans(in_chans)
        if rgb_bands is not None and (
            not isinstance(rgb_bands, (list, tuple)) or len(rgb_bands) != 3
            or not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < in_chans for b in rgb_bands)
            or len(set(rgb_bands)) != 3
        ):
            raise RecipeError(f"model.backbone.rgb_bands: expected 3 distinct band indices in 0..{in_chans - 1}, "
                              f"got {rgb_bands!r}")
        if weights is not None and width != 1.0:
            raise RecipeError(
                f"model.backbone: ImageNet weights {weights!r} fit width 1.0 only (torchvision's VGG16 has "
                f"64..512 channels), got width {width!r}"
            )
        indices = list(range(len(POOL_STRIDES))) if out_indices is None else out_indices
        if not isinstance(indices, (list, tuple)) or not indices or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(POOL_STRIDES) for i in indices
        ):
            raise RecipeError(f"model.backbone.out_indices: expected a list of pool indices in 0..4, "
                              f"got {out_indices!r}")
        self.rgb_bands = list(rgb_bands) if rgb_bands is not None else None
        layers: list[nn.Module] = []
        self._pool_index: dict[int, int] = {}  # index in features -> position in the output list
        info: list[FeatureInfo] = []
        in_ch, stride, pool = in_chans, 1, 0
        for v in VGG16_CFG:
            if v == "M":
                stride *= 2
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
                if pool in indices:
                    self._pool_index[len(layers) - 1] = len(info)
                    info.append(FeatureInfo(stride, in_ch))
                pool += 1
                continue
            out_ch = max(1, int(round(int(v) * width)))
            layers.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_ch))
            layers.append(nn.ReLU(inplace=True))
            in_ch = out_ch
        self.features = nn.Sequential(*layers[: max(self._pool_index) + 1])
        self.feature_info = info
        self.classifier_state = None
        self._init_weights()
        name = "vgg16_bn" if batch_norm else "vgg16"
        if weights is None:
            log.warning("backbone %s: no weights given, randomly initialised (Kaiming)", name)
        else:
            self.load_weights(weights)
            log.info("backbone %s: loaded weights from %s", name, weights)

    def _init_weights(self) -> None:
        """torchvision's VGG initialisation, so a random backbone trains like theirs."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def load_weights(self, path: str | Path) -> None:
        """Load ``features.*`` strictly from a torchvision state dict file; keep ``classifier.*``.

        Keys outside ``features.``/``classifier.`` count as unexpected: they mean the file is
        some other network, which should fail here rather than train from noise. The first
        convolution is adapted to ``in_chans`` bands; layers past the last returned pool
        (``out_indices``) are not part of this backbone and are skipped.
        """
        state = load_state_file(path)
        features = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        classifier = {k[len("classifier."):]: v for k, v in state.items() if k.startswith("classifier.")}
        foreign = sorted(k for k in state if not k.startswith(("features.", "classifier.")))
        own = self.features.state_dict()
        depth = len(self.features)
        features = {k: v for k, v in features.items()
                    if not k.split(".")[0].isdigit() or int(k.split(".")[0]) < depth}
        missing = sorted("features." + k for k in own if k not in features)
        unexpected = sorted("features." + k for k in features if k not in own) + foreign
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing keys: {format_keys(missing)}")
            if unexpected:
                parts.append(f"unexpected keys: {format_keys(unexpected)}")
            hint = " (a vgg16_bn file for vgg16, or the other way round?)" if missing and unexpected else ""
            raise CheckpointError(f"{path}: does not match a torchvision VGG16 backbone: {'; '.join(parts)}{hint}")
        if "0.weight" in features and features["0.weight"].ndim == 4 and features["0.weight"].shape[1] == 3:
            features["0.weight"] = adapt_first_conv(features["0.weight"], self.in_chans, self.rgb_bands)
        shapes = [
            f"features.{k}: file {tuple(features[k].shape)} vs model {tuple(v.shape)}"
            for k, v in own.items()
            if features[k].shape != v.shape
        ]
        if shapes:
            raise CheckpointError(f"{path}: tensor shapes do not match the backbone: {format_keys(shapes, 4)}")
        self.features.load_state_dict(features, strict=True)
        self.classifier_state = classifier or None

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._pool_index:
                out.append(x)
        return out


def _vgg(batch_norm: bool, weights: str | None, width: float, ceil_mode: bool, in_chans: int,
         rgb_bands: Sequence[int] | None, out_indices: Sequence[int] | None) -> VGG16:
    name = "vgg16_bn" if batch_norm else "vgg16"
    return VGG16(batch_norm=batch_norm, weights=weights and str(resolve_weights(weights, name)), width=width,
                 ceil_mode=ceil_mode, in_chans=in_chans, rgb_bands=rgb_bands, out_indices=out_indices)


@BACKBONES.register("vgg16")
def vgg16(weights: str | None = None, width: float = 1.0, ceil_mode: bool = True, in_chans: int = 3,
          rgb_bands: list[int] | None = None, out_indices: list[int] | None = None) -> VGG16:
    """VGG16 convolutions; ``weights``: a local torchvision ``vgg16`` state dict file, or
    ``imagenet`` for torchvision's own file in the torch hub cache."""
    return _vgg(False, weights, width, ceil_mode, in_chans, rgb_bands, out_indices)


@BACKBONES.register("vgg16_bn")
def vgg16_bn(weights: str | None = None, width: float = 1.0, ceil_mode: bool = True, in_chans: int = 3,
             rgb_bands: list[int] | None = None, out_indices: list[int] | None = None) -> VGG16:
    """VGG16 with BatchNorm; ``weights``: a local torchvision ``vgg16_bn`` state dict file,
    or ``imagenet`` for torchvision's own file in the torch hub cache."""
    return _vgg(True, weights, width, ceil_mode, in_chans, rgb_bands, out_indices)
