"""VGG16 backbones whose ``features`` are torchvision's, layer for layer.

The module indices and parameter names of ``self.features`` match torchvision's
``vgg16``/``vgg16_bn`` exactly, so a torchvision state dict saved to a local file loads with
strict key checking and its ``classifier.*`` weights can seed a head (the classifier's
Linears, or FCN's fc6/fc7 as convolutions). Nothing is ever downloaded: without
``weights`` the backbone is Kaiming-initialised and says so in the log.

Pooling uses ``ceil_mode=True`` by default (as Caffe's VGG and FCN do), so the stride-s
map of an H x W input is exactly ``ceil(H / s) x ceil(W / s)``: every input pixel falls in
some cell at every stride, which lets FCN heads crop (never pad) to the input size. For
inputs that are multiples of 32 (224, 512, CIFAR's 32) this is identical to torchvision's
floor pooling; ``ceil_mode=False`` restores torchvision's behaviour for other sizes.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ignite_zoo.registry.errors import CheckpointError, RecipeError
from ignite_zoo.registry.registry import BACKBONES
from ignite_zoo.zoo.backbones.weights import read_state_file, resolve_weights

log = logging.getLogger("zoo")

#: torchvision's configuration "D" (VGG16): channels, "M" = 2x2 max pool.
VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)
#: The strides whose pool outputs the backbone returns (pool3, pool4, pool5).
OUT_STRIDES = (8, 16, 32)


def _fmt_keys(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_state_file(path: str | Path) -> Mapping[str, Any]:
    """``torch.load`` a local weights file (tensors only), with errors that name the file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"backbone weights file not found: {path}")
    state = read_state_file(path)
    if isinstance(state, Mapping):
        for key in ("state_dict", "model"):  # a training checkpoint wrapping the weights
            if isinstance(state.get(key), Mapping):
                state = state[key]
                break
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: expected a state dict (parameter name -> tensor), got {type(state).__name__}")
    other = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if other:
        raise CheckpointError(
            f"{path}: expected a state dict (parameter name -> tensor); these entries are not tensors: "
            f"{_fmt_keys(other)}"
        )
    return state


class VGG16(nn.Module):
    """The 13 convolutions of VGG16, returning ``{8: pool3, 16: pool4, 32: pool5}``.

    ``width`` scales every convolution's channels (e.g. 0.125 for fast tests); heads read
    the resulting channel counts from ``self.channels`` rather than assuming 256/512.
    """

    def __init__(
        self,
        batch_norm: bool = False,
        weights: str | None = None,
        width: float = 1.0,
        ceil_mode: bool = True,
    ) -> None:
        super().__init__()
        if width <= 0:
            raise RecipeError(f"model.backbone.width: expected a positive number, got {width!r}")
        if weights is not None and width != 1.0:
            raise RecipeError(
                f"model.backbone: weights {weights!r} need width 1.0 (the file holds full-size "
                f"VGG16 tensors), got width {width!r}"
            )
        layers: list[nn.Module] = []
        self._pool_index: dict[int, int] = {}  # index in features -> stride
        channels: dict[int, int] = {}
        in_ch, stride = 3, 1
        for v in VGG16_CFG:
            if v == "M":
                stride *= 2
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
                if stride in OUT_STRIDES:
                    self._pool_index[len(layers) - 1] = stride
                    channels[stride] = in_ch
                continue
            out_ch = max(1, int(round(int(v) * width)))
            layers.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_ch))
            layers.append(nn.ReLU(inplace=True))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.channels: dict[int, int] = channels
        self.classifier_state: dict[str, torch.Tensor] | None = None
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
        some other network, which should fail here rather than train from noise.
        """
        state = load_state_file(path)
        features = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        classifier = {k[len("classifier."):]: v for k, v in state.items() if k.startswith("classifier.")}
        foreign = sorted(k for k in state if not k.startswith(("features.", "classifier.")))
        own = self.features.state_dict()
        missing = sorted("features." + k for k in own if k not in features)
        unexpected = sorted("features." + k for k in features if k not in own) + foreign
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing keys: {_fmt_keys(missing)}")
            if unexpected:
                parts.append(f"unexpected keys: {_fmt_keys(unexpected)}")
            hint = " (a vgg16_bn file for vgg16, or the other way round?)" if missing and unexpected else ""
            raise CheckpointError(f"{path}: does not match a torchvision VGG16 backbone: {'; '.join(parts)}{hint}")
        shapes = [
            f"features.{k}: file {tuple(features[k].shape)} vs model {tuple(v.shape)}"
            for k, v in own.items()
            if features[k].shape != v.shape
        ]
        if shapes:
            raise CheckpointError(f"{path}: tensor shapes do not match the backbone: {_fmt_keys(shapes, 4)}")
        self.features.load_state_dict(features, strict=True)
        self.classifier_state = classifier or None

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        out: dict[int, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._pool_index:
                out[self._pool_index[i]] = x
        return out


@BACKBONES.register("vgg16")
def vgg16(weights: str | None = None, width: float = 1.0, ceil_mode: bool = True) -> VGG16:
    """VGG16 convolutions; ``weights``: a local torchvision ``vgg16`` state dict file, or
    ``imagenet`` for torchvision's own file in the torch hub cache."""
    return VGG16(batch_norm=False, weights=weights and str(resolve_weights(weights, "vgg16")),
                 width=width, ceil_mode=ceil_mode)


@BACKBONES.register("vgg16_bn")
def vgg16_bn(weights: str | None = None, width: float = 1.0, ceil_mode: bool = True) -> VGG16:
    """VGG16 with BatchNorm; ``weights``: a local torchvision ``vgg16_bn`` state dict file,
    or ``imagenet`` for torchvision's own file in the torch hub cache."""
    return VGG16(batch_norm=True, weights=weights and str(resolve_weights(weights, "vgg16_bn")),
                 width=width, ceil_mode=ceil_mode)
