"""Loading user code that registers components: recipe ``imports:`` and entry points.

A user adds a head by writing a decorated class in their own module and naming that
module in the recipe (``imports: [my_pkg.my_heads]``), or by shipping an installed package
that declares an ``ignite_zoo.plugins`` entry point. Nothing in this repo changes.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import sys
import warnings
from pathlib import Path
from typing import Iterable

from ignite_zoo.registry.errors import RecipeError, UserError

ENTRY_POINT_GROUP = "ignite_zoo.plugins"
_entry_points_loaded = False
#: ``"name (value): error"`` for each entry point whose import raised; an unknown-name
#: error mentions them, since the missing name may be in one of them.
failed_entry_points: list[str] = []


def import_modules(names: Iterable[str], search_dir: str | Path | None = None) -> None:
    """Import each module named in a recipe's ``imports:``; a missing one is a RecipeError.

    ``search_dir`` (the recipe's folder) is put on ``sys.path`` so a plugin file that sits
    beside the recipe imports without being installed.
    """
    if isinstance(names, str):  # ``imports: my_heads`` means one module, not its letters
        names = [names]
    if search_dir is not None and str(search_dir) not in sys.path:
        sys.path.insert(0, str(search_dir))
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    importlib.invalidate_caches()  # a plugin file written since the last import is found
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise RecipeError(f"imports[{i}]: expected a module name (str), got {name!r}")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and (name == e.name or name.startswith(e.name + ".")):
                raise RecipeError(
                    f"imports[{i}]: cannot import module {name!r} ({e}); it must be installed, "
                    "in the current directory or beside the recipe"
                ) from None
            if e.name:  # the plugin itself imports something that is not installed
                raise RecipeError(
                    f"imports[{i}]: module {name!r} needs module {e.name!r}, which is not installed"
                ) from None
            raise RecipeError(f"imports[{i}]: importing module {name!r} failed: {_describe(e)}") from e
        except UserError:
            raise  # the plugin's own one-line error (a registry clash, say) is the story
        except Exception as e:  # noqa: BLE001 - any error in a user's module; --debug shows its traceback
            raise RecipeError(f"imports[{i}]: importing module {name!r} failed: {_describe(e)}") from e


def _describe(e: BaseException) -> str:
    """``Type: message`` of a plugin's import error; a syntax error with its file and line."""
    if isinstance(e, SyntaxError) and e.filename:
        return f"{type(e).__name__}: {e.msg} ({e.filename}, line {e.lineno})"
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def load_entry_point_plugins(force: bool = False) -> None:
    """Import every ``ignite_zoo.plugins`` entry point once, on the first failed lookup.

    A plugin that fails to import is reported with a warning and remembered in
    ``failed_entry_points`` (the unknown-name error lists it); the others still load, so
    one broken installed package does not hide every other plugin.
    """
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return
    _entry_points_loaded = True
    failed_entry_points.clear()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 - any error in third-party import code
            what = f"{ep.name} ({ep.value}): {type(e).__name__}: {e}"
            failed_entry_points.append(what)
            warnings.warn(f"{ENTRY_POINT_GROUP} entry point {what}", RuntimeWarning, stacklevel=2)
