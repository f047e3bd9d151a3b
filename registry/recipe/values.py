"""Rules on the values of recipe keys that a type alone cannot say, checked with the schema.

The schema checks types, choices and integer minimums; these keys also need a range or a
shape. Each is refused before any work, naming the key, the value and what was expected:
a negative ``clip_grad_norm`` would flip the gradients, an empty ``miou_classes`` would
average nothing into NaN, a repeated class would count twice, a malformed ``input_size``
would pass training and break ``summary`` and ``report`` later, and an ``out.name`` with
path parts would put the run outside ``out.root``.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from ignite_zoo.registry.errors import RecipeError


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _clip_grad_norm(v: Any) -> str | None:
    if v is None or v > 0:
        return None
    return "a number > 0 (the largest gradient norm kept) or null for no clipping"


def _miou_classes(v: Any) -> str | None:
    if v is None:
        return None
    if not v or not all(_is_int(c) and c >= 0 for c in v):
        return "a non-empty list of class ids (integers >= 0), or null for the dataset's eval classes"
    if len(set(v)) != len(v):
        return "class ids without repeats (a repeated class would count twice in the mean)"
    return None


def _input_size(v: Any) -> str | None:
    if v is None or (len(v) == 3 and all(_is_int(d) and d > 0 for d in v)):
        return None
    return "[C, H, W]: three positive integers (e.g. [3, 256, 256]), or null"


def _out_name(v: Any) -> str | None:
    if v is None or (v.strip() and v not in (".", "..") and not any(c in v for c in "/\\")):
        return None
    return "one folder name under out.root (no '/', '\\\\', '.' or '..'); use out.root or out.dir for a path"


#: key path -> rule returning what was expected, or None when the value is fine
RULES: dict[str, Callable[[Any], str | None]] = {
    "train.clip_grad_norm": _clip_grad_norm,
    "eval.miou_classes": _miou_classes,
    "model.input_size": _input_size,
    "out.name": _out_name,
}


def check_values(recipe: Mapping[str, Any]) -> None:
    """Apply ``RULES`` to a validated recipe (every key present, types already checked)."""
    for path, rule in RULES.items():
        node: Any = recipe
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        expected = rule(node)
        if expected:
            raise RecipeError(f"{path}: expected {expected}, got {node!r}")
