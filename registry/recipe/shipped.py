"""Recipes by name: the YAML files shipped in the ``recipes`` package.

The folder is found with ``importlib.util.find_spec`` (a data lookup: nothing is imported),
so a name works the same from a source checkout and from an installed package, whatever
the working directory.
"""
from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.paths import expand_user

_SUFFIXES = (".yaml", ".yml")


def shipped_dir() -> Path | None:
    """The folder of the ``recipes`` package, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec("ignite_zoo.recipes")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or Path(spec.origin).name != "__init__.py":
        return None  # absent, or some unrelated namespace folder named recipes
    return Path(spec.origin).parent


def shipped_recipes() -> dict[str, Path]:
    """Runnable shipped recipes by name (``seg_demo`` -> its file), sorted; ``_base_`` parts left out."""
    folder = shipped_dir()
    if folder is None:
        return {}
    files = sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES and p.is_file())
    return {p.stem: p for p in files}


def find_shipped(name: str) -> Path | None:
    """The shipped file ``name`` (``seg_demo``, ``seg_demo.yaml``, ``_base_/seg_sat``) names, or None."""
    folder = shipped_dir()
    if folder is None or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        return None
    stem = name[: -len(suffix)] if (suffix := Path(name).suffix) in _SUFFIXES else name
    for candidate in (folder / f"{stem}{s}" for s in _SUFFIXES):
        if candidate.is_file():
            return candidate
    return None


def resolve_recipe_path(name_or_path: str | Path) -> Path:
    """An existing recipe file, else the shipped recipe of that name; else an error with close names."""
    path = Path(expand_user(str(name_or_path)))
    if path.is_file():
        return path
    shipped = find_shipped(str(name_or_path))
    if shipped is not None:
        return shipped
    names = list(shipped_recipes())
    close = difflib.get_close_matches(path.stem, names, n=3, cutoff=0.6)
    if close:
        hint = f"; did you mean {' or '.join(map(repr, close))}?"
    else:
        hint = f"; shipped recipes: {', '.join(names)}" if names else ""
    raise RecipeError(f"recipe file not found: {path} (nor a shipped recipe of that name){hint}")


def recipe_descriptions() -> dict[str, str]:
    """Shipped recipe name -> the first line of its opening comment (its one-line description)."""
    out = {}
    for name, path in shipped_recipes().items():
        first = next((ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()), "")
        out[name] = first.lstrip("#").strip() if first.startswith("#") else ""
    return out
