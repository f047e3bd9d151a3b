"""The model a recipe's ``model`` section describes: normalise -> pad -> backbone -> head -> crop.

``SegmentationModel`` (and ``ClassificationModel``) own their input, as
segmentation_models_pytorch's ``SegmentationModel`` and mmsegmentation's data preprocessor
do: they take raw pixel values (``[N, C, H, W]``, any dtype) and normalise them with
buffers declared once in the recipe (``model.normalize``), so a checkpoint or an exported
ONNX graph carries its own normalisation and no copy of it elsewhere can disagree. The
input is padded to the multiple the head's strides need and the logits are cropped back,
so H x W in gives H x W out for every head, with no branch on sizes (export keeps height
and width symbolic). Padded pixels are outside the cropped logits, so they never reach
the loss or the metric. ``model.input_scale`` (e.g. 0.5) resizes the normalised input
before the backbone and the logits back to H x W: coarse labels such as land cover learn
about as well from half-resolution pixels at a quarter of the cost, and the checkpoint and
the ONNX graph carry the factor, so no caller has to remember it.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.registry import BACKBONES, HEADS
from ignite_zoo.zoo.backbones.base import feature_info_of
from ignite_zoo.zoo.compat import LegacyBackboneView, LegacyHeadModel
from ignite_zoo.zoo.normalize import IMAGENET_MEAN, IMAGENET_STD, Normalizing, held_in, normalize_values

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "SegmentationModel", "ClassificationModel", "build_model", "held_in",
           "normalize_values", "pad_to_multiple"]

def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad (in normalised units: the mean colour) bottom/right to a multiple of ``multiple``."""
    if multiple <= 1:
        return x
    h, w = x.shape[-2], x.shape[-1]
    return F.pad(x, (0, (multiple - w % multiple) % multiple, 0, (multiple - h % multiple) % multiple))


class SegmentationModel(Normalizing):
    """normalise -> pad -> backbone (list of maps) -> head (logits at the padded size) -> crop."""

    def __init__(self, backbone: nn.Module, head: nn.Module, mean: Sequence[float], std: Sequence[float],
                 input_scale: float = 1.0) -> None:
        super().__init__(mean, std)
        self.backbone = backbone
        self.head = head
        self.input_scale = float(input_scale)
        info = feature_info_of(backbone)
        used = getattr(head, "size_multiple", None)
        self.size_multiple = int(used) if used else max(f.stride for f in info)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        x = self.normalize(x)
        if self.input_scale != 1.0:
            # at 0.5, bilinear without align_corners is an exact 2x2 box average
            x = F.interpolate(x, scale_factor=self.input_scale, mode="bilinear", align_corners=False,
                              recompute_scale_factor=False)
        sh, sw = x.shape[-2], x.shape[-1]
        x = pad_to_multiple(x, self.size_multiple)
        logits = self.head(self.backbone(x), x.shape[-2:])[..., :sh, :sw]
        if self.input_scale != 1.0:
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        return logits


class ClassificationModel(Normalizing):
    """normalise -> backbone -> classification head; ``return_features`` for t-SNE."""

    def __init__(self, backbone: nn.Module, head: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__(mean, std)
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor, return_features: bool = False) -> Any:
        x = self.normalize(x)
        if return_features:
            return self.head(self.backbone(x), x.shape[-2:], return_features=True)
        return self.head(self.backbone(x), x.shape[-2:])


def _is_legacy_head(builder: Any) -> bool:
    """A head written for 0.1's contract takes the backbone itself and is the whole model."""
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return False
    return "backbone" in params and "feature_info" not in params


def build_model(model_cfg: Mapping[str, Any], **head_extra: Any) -> nn.Module:
    """The recipe's model: ``BACKBONES.build(backbone)``, then the head on its ``feature_info``.

    ``head_extra`` go to the head on top of the recipe's (e.g. ``num_classes`` taken from
    the dataset), so callers need not edit the recipe. A head whose ``task`` is
    "classification" gets a ``ClassificationModel`` (nothing to pad or crop).
    """
    if not isinstance(model_cfg, Mapping):
        raise RecipeError(f"model: expected a section with 'backbone' and 'head', got {type(model_cfg).__name__}")
    for key in ("backbone", "head"):
        if key not in model_cfg or model_cfg[key] is None:
            raise RecipeError(f"model.{key}: missing required key (a mapping with a 'type' key)")
    head_cfg = model_cfg["head"]
    if isinstance(head_cfg, Mapping) and ("backbone" in head_cfg or "feature_info" in head_cfg):
        raise RecipeError("model.head.backbone: the backbone goes in model.backbone, not inside the head")
    backbone = BACKBONES.build(model_cfg["backbone"], _path="model.backbone")
    info = feature_info_of(backbone)
    in_chans = int(getattr(backbone, "in_chans", 3))
    mean, std = normalize_values(model_cfg.get("normalize"), in_chans)
    head_type = head_cfg.get("type") if isinstance(head_cfg, Mapping) else None
    try:
        builder = HEADS.get(head_type) if isinstance(head_type, str) else None
    except RecipeError:
        builder = None  # HEADS.build below says what is wrong with the name
    if builder is not None and _is_legacy_head(builder):
        warnings.warn(f"head {head_type!r} is written for ignite-zoo 0.1's contract (backbone.channels as stride -> "
                      "channels, a forward returning the whole model's logits); it runs through a compatibility "
                      "view. Take feature_info (a list of maps with stride and channels) and forward(features, "
                      "size) instead: see CHANGELOG.md, 'Upgrading from 0.1'", FutureWarning, stacklevel=2)
        head = HEADS.build(head_cfg, _path="model.head", backbone=LegacyBackboneView(backbone), **head_extra)
        return LegacyHeadModel(head, mean, std)
    head = HEADS.build(head_cfg, _path="model.head", feature_info=info, **head_extra)
    state = getattr(backbone, "classifier_state", None)
    if state and hasattr(head, "load_classifier_state"):
        head.load_classifier_state(state)
    scale = model_cfg.get("input_scale", 1.0)
    scale = 1.0 if scale is None else scale
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.0 < scale <= 1.0:
        raise RecipeError(f"model.input_scale: expected a number in (0, 1] (the factor the model resizes its input "
                          f"by before the backbone), got {scale!r}")
    if getattr(head, "task", "segmentation") == "classification":
        if scale != 1.0:
            raise RecipeError(f"model.input_scale: {scale!r} is for segmentation models; a classifier takes its "
                              "input at the size the data pipeline gives")
        return ClassificationModel(backbone, head, mean, std)
    return SegmentationModel(backbone, head, mean, std, input_scale=float(scale))
