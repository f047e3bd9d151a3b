"""The run's choices against class imbalance that need the training data: the sampler
(``data.sampler``) and computed class weights (``loss.class_weights: auto``). Kept here so
that ``engines.build`` only asks for them."""
from __future__ import annotations

from typing import Any, Mapping

import ignite.distributed as idist


def _num_classes(recipe: Mapping[str, Any], ds: Any) -> int:
    return getattr(ds, "num_classes", None) or recipe["model"]["head"].get("num_classes")


def loader_order(recipe: Mapping[str, Any], train_ds: Any) -> dict[str, Any]:
    """The training loader's ordering arguments: ``shuffle=True``, or the recipe's sampler."""
    cfg = recipe["data"].get("sampler")
    if cfg is None:
        return {"shuffle": True}
    from ignite_zoo.zoo.data.samplers import build_sampler

    sampler = build_sampler(cfg, train_ds, _num_classes(recipe, train_ds), seed=recipe["seed"],
                            rank=idist.get_rank(), world=idist.get_world_size())
    return {"sampler": sampler, "shuffle": False}


def loss_config(recipe: Mapping[str, Any], train_ds: Any) -> dict[str, Any]:
    """``recipe["loss"]`` with ``auto`` class weights computed (printed by rank 0 only)."""
    from ignite_zoo.zoo.loss_weights import needs_class_weights, resolve_class_weights

    if not needs_class_weights(recipe["loss"]):
        return recipe["loss"]
    return resolve_class_weights(recipe["loss"], train_ds, _num_classes(recipe, train_ds),
                                 getattr(train_ds, "classes", None), verbose=idist.get_rank() == 0)
