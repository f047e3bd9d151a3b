"""The resolved recipe: files composed, overrides applied, validated; and its writer."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ignite_zoo.registry.recipe.compose import apply_overrides, load_with_bases
from ignite_zoo.registry.recipe.shipped import resolve_recipe_path
from ignite_zoo.registry.recipe.validate import validate
from ignite_zoo.registry.recipe.yaml_io import write_yaml


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The resolved recipe: bases merged, overrides applied, validated, defaults filled.

    ``path`` is a file, or the name of a shipped recipe (``seg_demo``). ``out.name``
    defaults to the recipe file's stem, so runs land in ``runs/<recipe>/``.
    """
    path = resolve_recipe_path(path)
    raw = apply_overrides(load_with_bases(path), overrides)
    recipe = validate(raw)
    if recipe["out"]["name"] is None:
        recipe["out"]["name"] = path.stem
    return recipe


def dump_recipe(recipe: Mapping[str, Any], path: str | Path) -> None:
    """Write a (resolved) recipe that ``load_recipe`` reads back to the same values."""
    write_yaml(dict(recipe), path)
