"""Registries, recipes and plugin loading: the bottom layer, importing nothing of the project."""
from ignite_zoo.registry.errors import CheckpointError, DataError, RecipeError, RunError, UsageError, UserError
from ignite_zoo.registry.plugins import import_modules, load_entry_point_plugins
from ignite_zoo.registry.recipe import load_recipe, validate
from ignite_zoo.registry.registry import (
    BACKBONES,
    DATASETS,
    HANDLERS,
    HEADS,
    LOSSES,
    OPTIMIZERS,
    REGISTRIES,
    SCHEDULERS,
    TRANSFORMS,
    Registry,
)

__all__ = [
    "BACKBONES", "DATASETS", "HANDLERS", "HEADS", "LOSSES", "OPTIMIZERS", "SCHEDULERS", "TRANSFORMS",
    "REGISTRIES", "Registry", "UserError", "RecipeError", "DataError", "CheckpointError",
    "RunError", "UsageError", "load_recipe", "validate", "import_modules", "load_entry_point_plugins",
]
