"""The project's one YAML dialect: how recipes, overrides and run files are read and written.

Reading: PyYAML implements YAML 1.1, where a float needs a dot and a signed exponent, so
``1e-3`` and ``5e4`` load as strings. Users write learning rates exactly like that, so they
are resolved as floats (as YAML 1.2 does).

Writing: a string is quoted whenever any common YAML reader could take it for something
else: YAML 1.1 (PyYAML: ``yes``, ``on``, ``0010`` as octal 8, ``1_000``, ``12:30``), YAML 1.2
core (``0097`` as 97, ``0o17``, ``1e-3``) and the 1.1 spec's ``y``/``n``. So a mask id
``0097`` or a folder named ``1e-3`` stays a string in every tool that reads a run's
``recipe.yaml``.

Refused while reading, before anything is built from the text (``RecipeYAMLError``): a key
given twice in one mapping (YAML readers keep the last one silently, so a second ``train:``
section would drop the first's settings), nesting deeper than ``MAX_DEPTH`` (Python's
recursion limit otherwise), an anchor that contains itself, and aliases that expand to more
than ``MAX_NODES`` values (a few hundred bytes of ``&a [*a, *a, ...]`` make 10^8).
"""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import yaml

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
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"


#: deeper nesting than any recipe needs (a recipe is about 6 levels deep)
MAX_DEPTH = 64
#: values a document may expand to, its aliases expanded (a recipe holds a few hundred)
MAX_NODES = 100_000


class RecipeYAMLError(yaml.YAMLError):
    """Text that parses as YAML but is refused as a recipe; the message is one line."""


def _line(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}" if node.start_mark is not None else "?"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_node_graph(root: yaml.Node) -> None:
    """Refuse an anchor that contains itself, and aliases that expand past ``MAX_NODES``.

    Iterative (no recursion) with one size per node, so the check itself costs the size of
    the text, not of its expansion."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            total = 1 + sum(size[id(k)] for k in _children(node))
            if total > MAX_NODES:
                raise RecipeYAMLError(f"{_line(node)}: its aliases expand to more than {MAX_NODES} values; "
                                      "a recipe needs a few hundred (write the values out, or use fewer aliases)")
            size[key] = total
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise RecipeYAMLError(f"{_line(child)}: an alias refers to an anchor that contains it "
                                      "(a recursive structure); a recipe must be a finite tree")
            if id(child) not in size:
                stack.append((child, False))


def _with_float_rule(cls: type) -> type:
    cls.yaml_implicit_resolvers = {
        ch: [r for r in resolvers if r[0] != _FLOAT_TAG]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    cls.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))
    return cls


@_with_float_rule
class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-3`` as a float and refuses what the module
    docstring lists (duplicate keys, deep nesting, recursive or exploding aliases)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise RecipeYAMLError(f"line {mark.line + 1}: nested more than {MAX_DEPTH} levels deep; "
                                      "a recipe is a few levels of sections")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            check_node_graph(node)
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node)
                if key in first:
                    raise RecipeYAMLError(f"{_line(key_node)}: key {key!r} is given twice in one mapping (first on "
                                          f"{_line(first[key])}); YAML would keep only the last: merge the two")
                first[key] = key_node
        return super().construct_mapping(node, deep=deep)


@_with_float_rule
class _Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes every string some YAML reader takes for a non-string.

    The extra resolvers below only decide quoting: a string matching one is written quoted;
    real ints, floats, bools and nulls are written as PyYAML writes them.
    """

    def ignore_aliases(self, data: Any) -> bool:  # a recipe reads as written, with no &anchors
        return True


# YAML 1.2 core schema: decimal ints with leading zeros and 0o octal (1.1 differs on both)
_Dumper.add_implicit_resolver(_INT_TAG, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
                              list("-+0123456789"))
# YAML 1.1 spec booleans that PyYAML leaves out
_Dumper.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
# YAML 1.2 core null spellings (1.1's are already PyYAML's)
_Dumper.add_implicit_resolver(_NULL_TAG, re.compile(r"^(?:~|null|Null|NULL)$"), list("~nN"))
_Dumper.add_representer(tuple, yaml.SafeDumper.represent_list)


def load_yaml_text(text: str) -> Any:
    """Parse YAML text in the project's dialect (``1e-3`` is a float); ``yaml.YAMLError`` on bad syntax."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def dump_yaml(obj: Any) -> str:
    """The YAML text of ``obj``, keys in their order, that ``load_yaml_text`` reads back equal."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def write_yaml(obj: Any, path: str | Path) -> None:
    """Write ``dump_yaml(obj)`` to ``path`` atomically: a reader sees the old file or the new, never half."""
    path = Path(path)
    text = dump_yaml(obj)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:  # "x": the umask's permissions, like any new file
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
