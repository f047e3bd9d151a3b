"""Loading user code that registers components: recipe ``imports:`` and entry points.

A user adds a head by writing a decorated class in their own module and naming that
module in the recipe (``imports: [my_pkg.my_heads]``), or by shipping an installed package
that declares an ``ignite_zoo.plugins`` entry point. Nothing in this repo changes.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import sys
from pathlib import Path
from typing import Iterable

from registry.errors import RecipeError

ENTRY_POINT_GROUP = "ignite_zoo.plugins"
_entry_points_loaded = False


def import_modules(names: Iterable[str], search_dir: str | Path | None = None) -> None:
    """Import each module named in a recipe's ``imports:``; a missing one is a RecipeError.

    ``search_dir`` (the recipe's folder) is put on ``sys.path`` so a plugin file that sits
    beside the recipe imports without being installed.
    """
    if search_dir is not None and str(search_dir) not in sys.path:
        sys.path.insert(0, str(search_dir))
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise RecipeError(f"imports[{i}]: expected a module name (str), got {name!r}")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and (name == e.name or name.startswith(e.name + ".")):
                raise RecipeError(
                    f"imports[{i}]: cannot import module {name!r} ({e}); it must be installed, "
                    "in the current directory or beside the recipe"
                ) from None
            raise


def load_entry_point_plugins(force: bool = False) -> None:
    """Import every ``ignite_zoo.plugins`` entry point once, on the first failed lookup."""
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return
    _entry_points_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
