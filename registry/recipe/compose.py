"""Composing a recipe: files with ``_base_`` inheritance, deep merging, ``key.sub=value`` overrides."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.paths import expand_user
from ignite_zoo.registry.recipe.shipped import find_shipped
from ignite_zoo.registry.recipe.yaml_io import RecipeYAMLError, load_yaml_text


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}")
    try:
        data = load_yaml_text(path.read_text(encoding="utf-8"))
    except RecipeYAMLError as e:
        raise RecipeError(f"{path}: {e}") from None
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


#: a mapping holding one of these set to true replaces the inherited mapping instead of
#: merging into it; ``_delete_`` is mmengine's spelling of ``_replace_``
REPLACE_MARKERS = ("_replace_", "_delete_")


def check_markers(value: Any, where: str, top: bool = False) -> None:
    """A replace marker is ``true`` or ``false`` and sits inside a section; anything else
    (``_delete_: 'yes please'``, a marker at the top level, where there is nothing to
    replace) is refused, naming ``where`` and the key path, instead of being guessed at."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:  # iterative: the loader already bounds the depth, this keeps it cheap
        node, prefix = stack.pop()
        if isinstance(node, Mapping):
            for k, v in node.items():
                if k in REPLACE_MARKERS:
                    if top and not prefix:
                        raise RecipeError(f"{where}: {k} at the top level replaces nothing; put it inside the "
                                          f"section it replaces (e.g. optim: {{{k}: true, type: adam}})")
                    if not isinstance(v, bool):
                        raise RecipeError(f"{where}: {prefix}{k}: expected true or false, got {v!r}")
                else:
                    stack.append((v, f"{prefix}{k}."))
        elif isinstance(node, list):
            stack.extend((v, f"{prefix}{i}.") for i, v in enumerate(node))


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` wins; mappings merge key by key, anything else is replaced whole.

    A mapping with ``_replace_: true`` (or ``_delete_: true``) replaces instead of merging
    (to swap a component whose kwargs differ, e.g. a loss of another type).
    """
    out = strip_markers(base)
    for k, v in over.items():
        if k in REPLACE_MARKERS:  # false: merge as usual, and leave no marker behind
            continue
        if isinstance(v, Mapping) and any(v.get(m) for m in REPLACE_MARKERS):
            out[k] = strip_markers(v)
        elif isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = strip_markers(v)
    return out


def strip_markers(value: Any) -> Any:
    """A deep copy without replace markers (at any depth), so none reaches a builder."""
    if isinstance(value, Mapping):
        return {k: strip_markers(v) for k, v in value.items() if k not in REPLACE_MARKERS}
    if isinstance(value, list):
        return [strip_markers(v) for v in value]
    return copy.deepcopy(value)


def load_with_bases(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load ``path`` and merge it over its ``_base_`` file(s): relative to its folder, or shipped by name."""
    path = Path(path).resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise RecipeError(f"_base_ cycle: {cycle}")
    data = load_yaml(path)
    check_markers(data, str(path), top=True)
    bases = data.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise RecipeError(f"{path}: _base_ must be a file name or a list of them, got {bases!r}")
    merged: dict[str, Any] = {}
    for b in bases:
        bpath = path.parent / expand_user(b)
        if not bpath.is_file():  # relative to this file first, then a shipped recipe
            bpath = find_shipped(b) or bpath
        if not bpath.is_file():
            raise RecipeError(f"{path}: _base_ file not found: {bpath} (nor a shipped recipe {b!r})")
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
    except RecipeYAMLError as e:
        raise RecipeError(f"override {text!r}: {e}") from None
    except yaml.YAMLError as e:
        raise RecipeError(f"override {text!r}: value is not valid YAML: {e}") from None
    if raw.count("#") > _hashes(value):
        raise RecipeError(f"override {text!r}: YAML reads ' #' as the start of a comment, so the value would be "
                          f"cut to {value!r}; quote it: {key}=\"'{raw.strip()}'\"")
    check_markers(value, f"override {text!r}")
    if parts[-1] in REPLACE_MARKERS:  # the marker as the key path's last part
        check_markers({parts[-1]: value}, f"override {text!r}", top=len(parts) == 1)
    return parts, value


def _hashes(value: Any) -> int:
    """How many ``#`` the parsed value holds (in its strings, keys included): fewer than
    its text had means YAML dropped some as a comment."""
    if isinstance(value, str):
        return value.count("#")
    if isinstance(value, Mapping):
        return sum(_hashes(k) + _hashes(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(map(_hashes, value))
    return 0


_INDEX = re.compile(r"-?[0-9]+")


def apply_overrides(recipe: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``recipe`` with each ``key.sub=value`` set; a copy, the input is left alone.

    A missing section on the way is created. A number indexes a list, ``-1`` its last item:
    ``data.train.transforms.0.p=1.0``.
    """
    out = copy.deepcopy(recipe)
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = out
        for i, p in enumerate(parts):
            where = ".".join(parts[:i])
            if isinstance(node, list):
                p = _list_index(node, p, where, text)
            elif _INDEX.fullmatch(p) and p not in node:
                raise RecipeError(f"override {text!r}: {where} is a mapping, not a list; "
                                  f"{p} is neither an index nor one of its keys")
            if i == len(parts) - 1:
                node[p] = strip_markers(value)  # an override replaces whole: the marker is moot
                break
            nxt = node[p] if isinstance(node, list) else node.get(p)
            if nxt is None and not isinstance(node, list):
                if _INDEX.fullmatch(parts[i + 1]):
                    raise RecipeError(f"override {text!r}: {'.'.join(parts[: i + 1])} is not set in the "
                                      "recipe, so it has no items to index")
                nxt = node[p] = {}
            if not isinstance(nxt, (dict, list)):
                raise RecipeError(
                    f"override {text!r}: {'.'.join(parts[: i + 1])} is {nxt!r}, not a section to set keys in"
                )
            node = nxt
    return out


def _list_index(items: list, part: str, where: str, text: str) -> int:
    if not _INDEX.fullmatch(part):
        raise RecipeError(f"override {text!r}: {where} is a list; expected an item number "
                          f"(0..{len(items) - 1}, or -1 for the last) instead of {part!r}")
    index = int(part)
    if not -len(items) <= index < len(items):
        span = f"0..{len(items) - 1} or -1 for the last" if items else "none: the list is empty"
        raise RecipeError(f"override {text!r}: {where} has {len(items)} item{'s' * (len(items) != 1)}; "
                          f"index {index} is out of range ({span})")
    return index
