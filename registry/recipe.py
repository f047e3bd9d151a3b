"""Recipes: YAML files with ``_base_`` inheritance, ``key.sub=value`` overrides and a schema.

A recipe reads like the experiment it runs. Everything the code reads from it is declared
in ``SCHEMA`` below with its type and default, so a typo fails before any work with the
key path and what was expected, and the resolved recipe written into the run directory
shows every setting that was in force.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from registry.errors import RecipeError


@dataclass(frozen=True)
class Key:
    """One recipe key: accepted types (or ``choices``), default, whether it is required."""

    types: tuple[type, ...]
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    minimum: int | None = None  # for counts: 0 epochs or 0 threads is a typo, not a request


#: A ``{"type": name, **kwargs}`` mapping; its kwargs belong to the component, so they are
#: checked when it is built (against the builder's signature), not here.
COMPONENT = "component"
_OPT = type(None)
_NUM = (int, float)

SCHEMA: dict[str, Any] = {
    "imports": Key((list,), [], doc="modules to import before building (user plugins)"),
    "seed": Key((int,), 0),
    "task": Key((str,), required=True, choices=("classification", "segmentation")),
    "resume": Key((str, _OPT), None, doc="'auto' (latest checkpoint in out.dir) or a checkpoint path"),
    "data": {
        "type": Key((str,), required=True, doc="a registered dataset"),
        "root": Key((str, _OPT), None),
        "args": Key((dict,), {}, doc="extra dataset keyword arguments"),
        "train": {"split": Key((str,), "train"), "transforms": Key((list,), [])},
        "val": {"split": Key((str,), "validation"), "transforms": Key((list,), [])},
        "loader": {
            "batch_size": Key((int,), 8, minimum=1,
                              doc="of all processes together; ignite's auto_dataloader splits it"),
            "val_batch_size": Key((int, _OPT), None, doc="defaults to batch_size", minimum=1),
            "num_workers": Key((int,), 0, minimum=0),
            "pin_memory": Key((bool, str), "auto", choices=(True, False, "auto"),
                              doc="'auto': on when training on CUDA"),
            "persistent_workers": Key((bool,), True),
            "prefetch_factor": Key((int, _OPT), None, minimum=1),
            "drop_last": Key((bool,), True),
        },
    },
    "model": {
        "backbone": Key((dict,), required=True, doc=COMPONENT),
        "head": Key((dict,), required=True, doc=COMPONENT),
        "input_size": Key((list, _OPT), None, doc="[C, H, W] shown by tools/summary.py"),
    },
    "loss": Key((dict,), {"type": "cross_entropy"}, doc=COMPONENT),
    "optim": Key((dict,), {"type": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4}, doc=COMPONENT),
    "sched": Key((dict, _OPT), None, doc=COMPONENT),
    "train": {
        "epochs": Key((int,), required=True, minimum=1),
        "device": Key((str,), "auto", doc="'auto', 'cpu', 'cuda', 'cuda:1', ..."),
        "amp": Key((bool, str), "auto", choices=(True, False, "auto", "bf16", "fp16"),
                   doc="'auto': bf16 where it is fast (CPU with bf16 units, CUDA); never fp16 on CPU"),
        "channels_last": Key((bool,), True),
        "compile": Key((bool,), False),
        "threads": Key((int, _OPT), None, doc="torch intra-op threads; null: all cores", minimum=1),
        "accum_steps": Key((int,), 1, minimum=1,
                           doc="optimizer step every N batches, on their mean gradient; groups restart each epoch"),
        "clip_grad_norm": Key((*_NUM, _OPT), None),
        "nproc_per_node": Key((int,), 1, minimum=1),
        "deterministic": Key((bool,), False),
        "log_every": Key((int,), 10, minimum=1),
        "max_iters_per_epoch": Key((int, _OPT), None, doc="cap for quick trials; null: the whole loader", minimum=1),
    },
    "eval": {
        "every": Key((int,), 1, doc="validate every N epochs (and always after the last)", minimum=1),
        "miou_classes": Key((list, _OPT), None, doc="class ids averaged into mIoU; default: all but Unknown"),
        "metric": Key((str, _OPT), None, doc="the metric that picks the best checkpoint"),
    },
    "handlers": {
        "checkpoint": {
            "keep_last": Key((int,), 2, minimum=1),
            "keep_best": Key((int,), 1, minimum=0),
            "every": Key((int,), 1, doc="epochs between checkpoints", minimum=1),
        },
        "mask_snapshots": {
            "ids": Key((list,), ["0010", "0097", "0107"]),
            "epochs": Key((list,), [1, "mid", "last"]),
        },
        "early_stopping": {"patience": Key((int, _OPT), None, minimum=1,
                                            doc="validations without improvement before stopping; null: never")},
        "tensorboard": {"enabled": Key((bool,), True), "images": Key((bool,), True)},
        "nan_guard": Key((bool,), True),
        "progress": Key((bool,), True),
    },
    "out": {
        "root": Key((str,), "runs"),
        "name": Key((str, _OPT), None, doc="default: the recipe file's name"),
        "dir": Key((str, _OPT), None, doc="an explicit run directory (resume uses it)"),
    },
}


# --------------------------------------------------------------------------------------
# YAML with the floats people type
# --------------------------------------------------------------------------------------
# PyYAML implements YAML 1.1, where a float needs a dot and a signed exponent: ``1e-3`` and
# ``5e4`` load as strings. Users write learning rates exactly like that, so recipes and
# overrides resolve them as floats (as YAML 1.2 does). The dumper uses the same rule, so a
# string that looks like such a float is written quoted and reads back as a string.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_FLOAT_TAG = "tag:yaml.org,2002:float"


def _with_float_rule(cls: type) -> type:
    cls.yaml_implicit_resolvers = {
        ch: [r for r in resolvers if r[0] != _FLOAT_TAG]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    cls.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))
    return cls


@_with_float_rule
class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-3`` as a float."""


@_with_float_rule
class _Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes strings ``_Loader`` would read as floats."""


def _yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


# --------------------------------------------------------------------------------------
# loading and merging
# --------------------------------------------------------------------------------------
def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}")
    try:
        data = _yaml_load(path.read_text(encoding="utf-8"))
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
        value = _yaml_load(raw) if raw.strip() else None
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


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------
def _type_names(types: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping", _OPT: "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_value(path: str, key: Key, value: Any) -> None:
    ok = any(
        (isinstance(value, t) and not (t is int and isinstance(value, bool)))
        or (t is float and isinstance(value, int) and not isinstance(value, bool))
        for t in key.types
    )
    if not ok:
        raise RecipeError(f"{path}: expected {_type_names(key.types)}, got {type(value).__name__} {value!r}")
    if key.choices is not None and value not in key.choices and value is not None:
        raise RecipeError(f"{path}: expected one of {', '.join(map(repr, key.choices))}, got {value!r}")
    if key.minimum is not None and isinstance(value, int) and value < key.minimum:
        alternative = " or null" if _OPT in key.types else ""
        hint = f" ({key.doc})" if key.doc else ""
        raise RecipeError(f"{path}: expected an integer >= {key.minimum}{alternative}, got {value}{hint}")
    if key.doc == COMPONENT and isinstance(value, dict):
        if "type" not in value:
            raise RecipeError(f"{path}: expected a mapping with a 'type' key, got keys {sorted(value)}")
        if not isinstance(value["type"], str):
            t = value["type"]
            raise RecipeError(f"{path}.type: expected a string (a registered name), got {type(t).__name__} {t!r}")


def _validate(node: Mapping[str, Any], schema: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    import difflib

    out: dict[str, Any] = {}
    for k in node:
        if k not in schema:
            where = f"section {prefix[:-1]!r}" if prefix else "the top level"
            close = difflib.get_close_matches(str(k), list(schema), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(schema)}"
            raise RecipeError(f"{prefix}{k}: unknown key in {where}{hint}")
    for k, spec in schema.items():
        path = f"{prefix}{k}"
        if isinstance(spec, dict):
            sub = node.get(k)
            if sub is None:
                sub = {}
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
        out[k] = copy.deepcopy(value)
    return out


def validate(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key against ``SCHEMA`` and fill in defaults; raise with the key path."""
    return _validate(recipe, SCHEMA, "")


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The resolved recipe: bases merged, overrides applied, validated, defaults filled.

    ``out.name`` defaults to the recipe file's stem, so runs land in ``runs/<recipe>/``.
    """
    raw = apply_overrides(load_with_bases(path), overrides)
    recipe = validate(raw)
    if recipe["out"]["name"] is None:
        recipe["out"]["name"] = Path(path).stem
    return recipe


def dump_recipe(recipe: Mapping[str, Any], path: str | Path) -> None:
    """Write a (resolved) recipe that ``load_recipe`` reads back to the same values."""
    text = yaml.dump(dict(recipe), Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    Path(path).write_text(text, encoding="utf-8")
