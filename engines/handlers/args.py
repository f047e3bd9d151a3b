"""Argument checks a handler runs in its own ``__init__``: the handler declares its
settings once (its signature) and says, with the recipe key, what it expected."""
from __future__ import annotations

from typing import Any

from ignite_zoo.registry.errors import RecipeError


def count(value: Any, key: str, minimum: int, optional: bool = False) -> int | None:
    """An integer >= ``minimum`` (``None`` too when ``optional``); ``key`` is the recipe path."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        alternative = " or null" if optional else ""
        raise RecipeError(f"{key}: expected an integer >= {minimum}{alternative}, got {value!r}")
    return value


def flag(value: Any, key: str) -> bool:
    """true or false, not a string that merely looks like one."""
    if not isinstance(value, bool):
        raise RecipeError(f"{key}: expected true or false, got {type(value).__name__} {value!r}")
    return value
