"""Validation: every key checked against ``SCHEMA``, defaults filled in, errors naming the key path."""
from __future__ import annotations

import copy
import difflib
from typing import Any, Mapping

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.paths import expand_user
from ignite_zoo.registry.recipe.compose import deep_merge
from ignite_zoo.registry.recipe.schema import COMPONENT, NULL, OTHER_KEYS, SCHEMA, Key
from ignite_zoo.registry.recipe.upgrade import move_normalize
from ignite_zoo.registry.recipe.values import check_values


def _type_names(types: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping", NULL: "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_value(path: str, key: Key, value: Any) -> None:
    ok = any(
        (isinstance(value, t) and not (t is int and isinstance(value, bool)))
        or (t is float and isinstance(value, int) and not isinstance(value, bool))
        for t in key.types
    )
    if not ok:
        hint = ""
        if isinstance(value, dict) and str in key.types and dict not in key.types:
            hint = "; a value holding ': ' reads as a mapping in YAML: quote it (key=\"'a: b'\")"
        raise RecipeError(f"{path}: expected {_type_names(key.types)}, got {type(value).__name__} {value!r}{hint}")
    if key.choices is not None and value not in key.choices and value is not None:
        raise RecipeError(f"{path}: expected one of {', '.join(map(repr, key.choices))}, got {value!r}")
    if key.minimum is not None and isinstance(value, int) and value < key.minimum:
        alternative = " or null" if NULL in key.types else ""
        hint = f" ({key.doc})" if key.doc else ""
        raise RecipeError(f"{path}: expected an integer >= {key.minimum}{alternative}, got {value}{hint}")
    if key.doc == COMPONENT and isinstance(value, dict):
        if "type" not in value:
            raise RecipeError(f"{path}: expected a mapping with a 'type' key, got keys {sorted(value)}")
        if not isinstance(value["type"], str):
            t = value["type"]
            raise RecipeError(f"{path}.type: expected a string (a registered name), got {type(t).__name__} {t!r}")


def _validate(node: Mapping[str, Any], schema: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extra = schema.get(OTHER_KEYS)  # a section open to names the schema cannot know (user handlers)
    for k in node:
        if k not in schema and extra is None:
            where = f"section {prefix[:-1]!r}" if prefix else "the top level"
            close = difflib.get_close_matches(str(k), list(schema), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(schema)}"
            raise RecipeError(f"{prefix}{k}: unknown key in {where}{hint}")
    for k, spec in schema.items():
        if k == OTHER_KEYS:
            continue
        path = f"{prefix}{k}"
        if isinstance(spec, dict):
            sub = node.get(k)
            if sub is None:
                sub = {}
            if isinstance(sub, bool) and OTHER_KEYS in schema:  # a handler switched off (or on, as declared)
                out[k] = False if sub is False else _validate({}, spec, path + ".")
                continue
            if not isinstance(sub, Mapping):
                raise RecipeError(f"{path}: expected a section (mapping), got {type(sub).__name__} {sub!r}")
            out[k] = _validate(sub, spec, path + ".")
            continue
        if k not in node or (node[k] is None and spec.required):
            if spec.required:
                expected = " or ".join(map(repr, spec.choices)) if spec.choices else spec.doc or _type_names(spec.types)
                raise RecipeError(f"{path}: missing required key ({expected})")
            out[k] = copy.deepcopy(spec.default)
            continue
        value = node[k]
        if (
            spec.doc == COMPONENT and isinstance(value, dict) and "type" not in value
            and isinstance(spec.default, dict)
        ):
            # ``optim: {lr: 0.1}`` / ``optim.lr=0.1``: tune the default component
            value = deep_merge(spec.default, value)
        _check_value(path, spec, value)
        out[k] = _expand_paths(spec, copy.deepcopy(value))
    for k in node:
        if k not in schema and k != OTHER_KEYS:
            _check_value(f"{prefix}{k}", extra, node[k])
            out[k] = copy.deepcopy(node[k])
    return out


def _expand_paths(spec: Key, value: Any) -> Any:
    """``~`` expanded in a path key, or in a component's path arguments, as a shell would."""
    if spec.path and isinstance(value, str):
        return expand_user(value)
    if spec.path_args and isinstance(value, dict):
        return {k: expand_user(v) if k in spec.path_args and isinstance(v, str) else v for k, v in value.items()}
    return value


def validate(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key against ``SCHEMA`` and fill in defaults; raise with the key path.
    A recipe written for 0.1 is upgraded first (``upgrade.move_normalize``)."""
    out = _validate(move_normalize(recipe), SCHEMA, "")
    check_values(out)
    return out
