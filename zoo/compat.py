"""Heads written for ignite-zoo 0.1's contract keep working, through a view.

In 0.1 a head received the backbone itself, read ``backbone.channels`` (stride ->
channels), called ``backbone(x)`` for a ``{stride: map}`` dict and was the whole model.
``LegacyBackboneView`` shows today's backbone that way (the deepest map of each stride),
and ``LegacyHeadModel`` puts the model's normalisation in front of such a head. The model
builder warns once per build, naming the new contract (CHANGELOG.md: "Upgrading from 0.1").
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ignite_zoo.zoo.backbones.base import feature_info_of
from ignite_zoo.zoo.normalize import Normalizing


class LegacyBackboneView(nn.Module):
    """A backbone as 0.1 showed it: ``channels`` {stride: channels}, forward -> {stride: map}."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        info = feature_info_of(backbone)
        self.channels: dict[int, int] = {f.stride: f.channels for f in info}  # the deepest map per stride
        self.strides: list[int] = [f.stride for f in info]
        self.in_chans = int(getattr(backbone, "in_chans", 3))
        self.classifier_state = getattr(backbone, "classifier_state", None)

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        return dict(zip(self.strides, self.backbone(x)))


class LegacyHeadModel(nn.Module):
    """Normalisation buffers, then a 0.1-style head that is the whole model."""

    def __init__(self, head: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.norm = Normalizing(mean, std)
        self.head = head

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        return self.head(self.norm.normalize(x), *args, **kwargs)


def upgrade_state_dict(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """A 0.1 checkpoint's weights under today's names, for ``model`` built from its recipe.

    0.1's model was the head, holding ``backbone``: its keys lack today's ``head.`` prefix
    and it had no normalisation buffers (the recipe's ``Normalize``, which the recipe
    upgrade moved into ``model.normalize``, so the freshly built model's buffers hold it).
    A checkpoint with today's names is returned unchanged.
    """
    own = model.state_dict()
    if all(k in state for k in own) or any(k.rsplit(".", 1)[-1] == "pixel_mean" for k in state):
        return state
    out = dict(state)
    for key in own:
        if key in out:
            continue
        for old in (key.replace("head.backbone.backbone.", "backbone.", 1), key.removeprefix("head.")):
            if old != key and old in out:
                out[key] = out.pop(old)
                break
        else:
            if key.rsplit(".", 1)[-1] in ("pixel_mean", "pixel_std"):
                out[key] = own[key]
    return out
