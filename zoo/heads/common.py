"""Checks every head makes of its recipe arguments (a user's head can call them too)."""
from __future__ import annotations

from typing import Any

from ignite_zoo.registry.errors import RecipeError


def check_num_classes(num_classes: Any) -> None:
    """Fail at build time, naming the recipe key, rather than deep inside a layer's constructor."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise RecipeError(f"model.head.num_classes: expected a positive integer, got {num_classes!r}")
