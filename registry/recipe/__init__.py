"""Recipes: YAML files with ``_base_`` inheritance, ``key.sub=value`` overrides and a schema.

A recipe reads like the experiment it runs. ``schema`` declares every key; ``yaml_io`` is
the one YAML reader/writer; ``compose`` merges files and overrides; ``validate`` checks and
fills defaults; ``shipped`` finds recipes by name; ``resolve`` ties them into
``load_recipe``.
"""
from ignite_zoo.registry.recipe.compose import apply_overrides, deep_merge, load_with_bases, load_yaml, parse_override
from ignite_zoo.registry.recipe.resolve import dump_recipe, load_recipe
from ignite_zoo.registry.recipe.schema import COMPONENT, NULL, SCHEMA, Key
from ignite_zoo.registry.recipe.shipped import resolve_recipe_path, shipped_dir, shipped_recipes
from ignite_zoo.registry.recipe.validate import validate
from ignite_zoo.registry.recipe.yaml_io import dump_yaml, load_yaml_text, write_yaml

__all__ = [
    "COMPONENT", "NULL", "SCHEMA", "Key", "apply_overrides", "deep_merge", "dump_recipe", "dump_yaml",
    "load_recipe", "load_with_bases", "load_yaml", "load_yaml_text", "parse_override", "resolve_recipe_path",
    "shipped_dir", "shipped_recipes", "validate", "write_yaml",
]
