"""The model's normalisation, declared once (``model.normalize``) and held as buffers.

A model takes raw pixels and normalises them itself, so a checkpoint or an exported ONNX
graph carries the run's normalisation and no copy elsewhere can disagree with it.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ignite_zoo.registry.errors import RecipeError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_values(cfg: Mapping[str, Any] | None, in_chans: int) -> tuple[list[float], list[float]]:
    """(mean, std) per input channel in raw pixel units, from ``model.normalize``.

    ``mean``/``std`` are fractions of ``max_pixel_value`` (ImageNet's for 3 channels when
    not given), a scalar applying to every channel; the values returned are multiplied by
    ``max_pixel_value`` so the model computes ``(x - mean) / std`` on raw pixels.
    """
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - {"mean", "std", "max_pixel_value"})
    if unknown:
        raise RecipeError(f"model.normalize: unknown keys {unknown}; expected mean, std, max_pixel_value")
    scale = cfg.get("max_pixel_value", 255.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise RecipeError(f"model.normalize.max_pixel_value: expected a positive number, got {scale!r}")

    def per_channel(key: str, default: Sequence[float]) -> list[float]:
        value = cfg.get(key)
        if value is None:
            if in_chans != len(default):
                raise RecipeError(f"model.normalize.{key}: the backbone takes {in_chans} bands; give {in_chans} "
                                  f"values (the default is ImageNet's, for 3), e.g. from `ignite-zoo stats`")
            value = list(default)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value] * in_chans
        if not isinstance(value, (list, tuple)) or len(value) != in_chans or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise RecipeError(f"model.normalize.{key}: expected a number or a list of {in_chans} numbers "
                              f"(one per input band), got {value!r}")
        if key == "std" and not all(v > 0 for v in value):
            raise RecipeError(f"model.normalize.std: expected positive values, got {value!r}")
        return [float(v) * float(scale) for v in value]

    return per_channel("mean", IMAGENET_MEAN), per_channel("std", IMAGENET_STD)


class Normalizing(nn.Module):
    """Raw pixels in: ``(x - pixel_mean) / pixel_std`` with the buffers saved in checkpoints."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("pixel_mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        #: the dtype the normalised input is handed on in; None: float32. A model whose weights
        #: are held in bf16 for prediction sets bf16 (``engines.inference.loading.hold_in_bf16``)
        self.compute_dtype: torch.dtype | None = None

    @property
    def in_chans(self) -> int:
        return int(self.pixel_mean.shape[1])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` computed in float32 whatever the input dtype (integer pixels
        as the pipeline gives them, or floats), as autocast would."""
        out = (x.float() - self.pixel_mean.float()) / self.pixel_std.float()
        return out if self.compute_dtype is None else out.to(self.compute_dtype)


def held_in(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast ``model``'s weights to ``dtype`` for prediction, keeping its normalisation in
    float32 (the buffers' precision: ImageNet's 123.675 would round to 123.5 in bf16) and
    handing the normalised input on in ``dtype``."""
    norms = [(m, m.pixel_mean.float().clone(), m.pixel_std.float().clone())
             for m in model.modules() if isinstance(m, Normalizing)]
    model.to(dtype)
    for m, mean, std in norms:
        m.pixel_mean, m.pixel_std = mean, std
        m.compute_dtype = dtype
    return model
