"""Build the model a recipe's ``model`` section describes: a backbone inside a head."""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from ignite_zoo.zoo import backbones  # noqa: F401  (fills BACKBONES)
from ignite_zoo.zoo import heads  # noqa: F401  (fills HEADS)
from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.registry import BACKBONES, HEADS


def build_model(model_cfg: Mapping[str, Any], **head_extra: Any) -> nn.Module:
    """``HEADS.build(head, backbone=BACKBONES.build(backbone))``.

    ``head_extra`` are passed to the head on top of the recipe's (e.g. ``num_classes``
    taken from the dataset), so callers need not edit the recipe.
    """
    if not isinstance(model_cfg, Mapping):
        raise RecipeError(f"model: expected a section with 'backbone' and 'head', got {type(model_cfg).__name__}")
    for key in ("backbone", "head"):
        if key not in model_cfg or model_cfg[key] is None:
            raise RecipeError(f"model.{key}: missing required key (a mapping with a 'type' key)")
    head_cfg = model_cfg["head"]
    if isinstance(head_cfg, Mapping) and "backbone" in head_cfg:
        raise RecipeError("model.head.backbone: the backbone goes in model.backbone, not inside the head")
    backbone = BACKBONES.build(model_cfg["backbone"], _path="model.backbone")
    return HEADS.build(head_cfg, _path="model.head", backbone=backbone, **head_extra)
