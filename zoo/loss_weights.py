"""``loss.class_weights: auto``: class weights computed from the training masks.

Forms a recipe may use (in any loss of the tree, ``sum``'s terms included; focal's
``alpha`` too)::

    class_weights: auto                      # the default rule, median_frequency
    class_weights: {rule: enet}              # a named rule (zoo/data/class_stats.py)

The weights are computed once (the histograms and each rule's weights are cached beside
the data), printed with the class names, and the loss is built with the list of numbers,
as if the recipe had given it. The loss's own ``ignore_index`` class gets weight 0.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.zoo.data.class_stats import DEFAULT_RULE, ClassStats, check_rule

WEIGHT_KEYS = ("class_weights", "alpha")
NESTED_KEYS = ("terms",)


def _rule(value: Any, where: str) -> str | None:
    """The rule ``value`` asks for, or None when it is not an ``auto`` request."""
    if value == "auto":
        return DEFAULT_RULE
    if isinstance(value, Mapping):
        if set(value) != {"rule"}:
            raise RecipeError(f"{where}: expected 'auto', {{rule: <name>}} or a list of numbers, got {dict(value)!r}")
        return check_rule(value["rule"], f"{where}.rule")
    if isinstance(value, str):
        raise RecipeError(f"{where}: expected 'auto', {{rule: <name>}} or a list of numbers, got {value!r}")
    return None


def _requests(cfg: Any, path: str, ignore: int | None) -> list[tuple[dict, str, str, int | None, str]]:
    """(mapping, key, rule, ignored class, recipe path) of every auto request in a loss tree."""
    found: list[tuple[dict, str, str, int | None, str]] = []
    if not isinstance(cfg, dict):
        return found
    ignore = cfg.get("ignore_index", ignore)
    for key in WEIGHT_KEYS:
        rule = _rule(cfg.get(key), f"{path}.{key}") if key in cfg else None
        if rule is not None:
            found.append((cfg, key, rule, ignore, f"{path}.{key}"))
    for key in NESTED_KEYS:
        for i, sub in enumerate(cfg.get(key) or []):
            found += _requests(sub, f"{path}.{key}[{i}]", ignore)
    return found


def needs_class_weights(loss_cfg: Mapping[str, Any]) -> bool:
    return bool(_requests(copy.deepcopy(dict(loss_cfg)), "loss", None))


def resolve_class_weights(loss_cfg: Mapping[str, Any], train_ds: Any, num_classes: int,
                          class_names: Sequence[str] | None = None, verbose: bool = True) -> dict[str, Any]:
    """A copy of ``loss_cfg`` with every ``auto`` weight replaced by its numbers."""
    cfg = copy.deepcopy(dict(loss_cfg))
    requests = _requests(cfg, "loss", None)
    if not requests:
        return cfg
    stats = ClassStats(train_ds, num_classes)
    names = list(class_names or [str(c) for c in range(num_classes)])
    for node, key, rule, ignore, where in requests:
        skip = [ignore] if isinstance(ignore, int) and 0 <= ignore < num_classes else []
        node[key] = stats.weights(rule, skip)
        if verbose:
            values = ", ".join(f"{n} {w:.3g}" for n, w in zip(names, node[key]))
            source = "cached" if stats.cached else "counted"
            print(f"{where}: {rule} from {len(stats.paths)} training masks ({source}, {stats.file}): {values}",
                  flush=True)
    return cfg
