"""Composing a recipe: files with ``_base_`` inheritance, deep merging, ``key.sub=value`` overrides."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from registry.errors import RecipeError
from registry.recipe.yaml_io import load_yaml_text


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}")
    try:
        data = load_yaml_text(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML: {e}") from None
    except UnicodeDecodeError as e:
        raise RecipeError(f"{path}: not a text (UTF-8) file: {e}") from None
    except OSError as e:
        raise RecipeError(f"{path}: cannot read: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a mapping of sections, got {type(data).__name__}")
    return data


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` wins; mappings merge key by key, anything else is replaced whole.

    A mapping with ``_replace_: true`` replaces instead of merging (to swap a component
    whose kwargs differ, e.g. a loss of another type).
    """
    out = _strip_replace(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and v.get("_replace_"):
            out[k] = _strip_replace(v)
        elif isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = _strip_replace(v)
    return out


def _strip_replace(value: Any) -> Any:
    """A deep copy without ``_replace_`` markers (at any depth), so none reaches a builder."""
    if isinstance(value, Mapping):
        return {k: _strip_replace(v) for k, v in value.items() if k != "_replace_"}
    if isinstance(value, list):
        return [_strip_replace(v) for v in value]
    return copy.deepcopy(value)


def load_with_bases(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load ``path`` and merge it over its ``_base_`` file(s), relative to its folder."""
    path = Path(path).resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise RecipeError(f"_base_ cycle: {cycle}")
    data = load_yaml(path)
    bases = data.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise RecipeError(f"{path}: _base_ must be a file name or a list of them, got {bases!r}")
    merged: dict[str, Any] = {}
    for b in bases:
        bpath = path.parent / b
        if not bpath.is_file():
            raise RecipeError(f"{path}: _base_ file not found: {bpath}")
        merged = deep_merge(merged, load_with_bases(bpath, (*_chain, path)))
    return deep_merge(merged, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.epochs=3`` -> (["train", "epochs"], 3); the value is parsed as YAML."""
    if "=" not in text:
        raise RecipeError(f"override {text!r}: expected key.sub=value (e.g. train.epochs=3)")
    key, _, raw = text.partition("=")
    parts = key.strip().split(".")
    if not key.strip() or any(not p or not p.replace("_", "").replace("-", "").isalnum() for p in parts):
        raise RecipeError(f"override {text!r}: {key!r} is not a dotted key path (e.g. model.head.type)")
    try:
        value = load_yaml_text(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise RecipeError(f"override {text!r}: value is not valid YAML: {e}") from None
    return parts, value


def apply_overrides(recipe: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    out = copy.deepcopy(recipe)
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for i, p in enumerate(parts[:-1]):
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                raise RecipeError(
                    f"override {text!r}: {'.'.join(parts[: i + 1])} is {nxt!r}, not a section to set keys in"
                )
            node = nxt
        node[parts[-1]] = _strip_replace(value)  # an override replaces whole: the marker is moot
    return out
