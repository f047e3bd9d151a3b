"""Recipes written for 0.1, read by today's code: one rule per change, applied before validation.

0.1 normalised images with a ``Normalize`` transform at the end of ``data.*.transforms``
(ImageNet's when none was listed). Normalisation now lives in the model
(``model.normalize``), so a checkpoint and an exported graph carry it. A ``Normalize`` in
an old recipe (a run directory's ``recipe.yaml``, or a user's file) moves there, with a
warning for a user's file; a train and a validation ``Normalize`` that disagree cannot
both be right and are refused.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any, Mapping

from ignite_zoo.registry.errors import RecipeError

_NORMALIZE_KEYS = ("mean", "std", "max_pixel_value")


def move_normalize(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """``data.{train,val}.transforms: [..., {type: Normalize, ...}]`` -> ``model.normalize``."""
    data = recipe.get("data")
    if not isinstance(data, Mapping):
        return dict(recipe)
    found: dict[str, dict[str, Any]] = {}
    for split in ("train", "val"):
        transforms = (data.get(split) or {}).get("transforms") if isinstance(data.get(split), Mapping) else None
        if not isinstance(transforms, list):
            continue
        for t in transforms:
            if isinstance(t, Mapping) and t.get("type") == "Normalize":
                found[split] = {k: t[k] for k in _NORMALIZE_KEYS if k in t}
    if not found:
        return dict(recipe)
    values = list(found.values())
    if len(values) == 2 and values[0] != values[1]:
        raise RecipeError(f"data.train.transforms / data.val.transforms: Normalize differs between training "
                          f"({values[0]}) and validation ({values[1]}); normalisation now belongs to the model: "
                          "give it once as model.normalize: {mean: [...], std: [...], max_pixel_value: ...}")
    out = copy.deepcopy(dict(recipe))
    for split in found:
        out["data"][split]["transforms"] = [t for t in out["data"][split]["transforms"]
                                            if not (isinstance(t, Mapping) and t.get("type") == "Normalize")]
    model = out.setdefault("model", {})
    if isinstance(model, dict) and model.get("normalize") is None:
        model["normalize"] = dict(values[0])
        warnings.warn("data.*.transforms: the Normalize transform moved to model.normalize "
                      f"({dict(values[0])}); normalisation is part of the model now", FutureWarning, stacklevel=3)
    elif isinstance(model, dict) and model.get("normalize") != values[0]:
        raise RecipeError(f"model.normalize {model.get('normalize')} and a Normalize transform ({values[0]}) "
                          "disagree; keep model.normalize only")
    return out
