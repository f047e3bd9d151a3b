"""A name -> callable registry, the one way components become buildable from recipes.

Modelled on timm's ``register_model`` and fvcore's ``Registry``: a plain dict behind a
decorator, plus ``build(cfg)`` for ``{"type": name, **kwargs}`` mappings. Errors name the
registry, the unknown name and the closest registered names, because the usual cause is a
typo in a recipe.
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, TypeVar

from ignite_zoo.registry.errors import RecipeError, UserError

T = TypeVar("T")

#: Every registry by its singular name ("head", "loss", ...). ``build`` uses it to build a
#: nested ``{"type": ...}`` mapping found under a key of the same name (``backbone:``),
#: or of its plural for lists (``losses: [...]``).
REGISTRIES: dict[str, "Registry"] = {}


class Registry:
    """A named dict of builders with a registering decorator and ``build(cfg)``."""

    def __init__(self, name: str) -> None:
        if name in REGISTRIES:
            raise ValueError(f"a registry named {name!r} exists already")
        self.name = name
        self._items: dict[str, Callable[..., Any]] = {}
        self._fallback: Fallback | None = None
        REGISTRIES[name] = self

    @property
    def plural(self) -> str:
        """``heads``, ``losses``: the name as messages and ``--list`` print it."""
        return self.name + ("es" if self.name.endswith(("s", "x", "ch", "sh")) else "s")

    # -- registering -------------------------------------------------------------------
    def register(
        self, name: str | Callable[..., Any] | None = None, *, force: bool = False
    ) -> Callable[..., Any]:
        """Decorator: ``@REG.register()``, ``@REG.register("fcn8s")`` or bare ``@REG.register``.

        Without a name the object's ``__name__`` is used. Registering a taken name is an
        error unless ``force=True`` (so two plugins never silently shadow each other).
        """
        if callable(name):  # used bare: @REG.register
            return self._add(name.__name__, name, force)

        def deco(obj: T) -> T:
            return self._add(obj.__name__ if name is None else name, obj, force)  # type: ignore[attr-defined]

        return deco

    def _add(self, name: str, obj: T, force: bool) -> T:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.name} registry: a name must be a non-empty string, got {name!r}")
        if name in self._items and not force and self._items[name] is not obj:
            # a user plugin can cause this, so it is a user error
            raise RecipeError(
                f"{self.name} registry: cannot register {_qualname(obj)} as {name!r}: the name is "
                f"taken by {_qualname(self._items[name])}; pass force=True to replace it"
            )
        self._items[name] = obj
        return obj

    def set_fallback(self, lookup: Callable[[str], Callable[..., Any] | None], names: Callable[[], list[str]],
                     described_as: str) -> None:
        """Serve names that are not registered from elsewhere (``torch.optim.<Name>``).

        ``lookup(name)`` returns a builder or None; ``names()`` lists what it serves, for
        suggestions; ``described_as`` says where in messages. Registered names win.
        """
        self._fallback = Fallback(lookup, names, described_as)

    # -- looking up --------------------------------------------------------------------
    def get(self, name: str) -> Callable[..., Any]:
        """The builder registered as ``name``; an unknown name raises with suggestions.

        A name registered with a trailing colon (``"timm:"``) serves a whole family:
        ``get("timm:resnet18")`` is that builder with ``"resnet18"`` as first argument.
        Entry-point plugins are loaded the first time a name is not found.
        """
        if not isinstance(name, str):
            raise RecipeError(f"{self.name} name must be a string, got {type(name).__name__} {name!r}")
        from ignite_zoo.registry import plugins

        for attempt in range(2):
            if name in self._items:
                return self._items[name]
            prefix, sep, rest = name.partition(":")
            if sep and rest and prefix + ":" in self._items:
                # a family of names such as "timm:resnet18" -> builder("resnet18", ...)
                return functools.partial(self._items[prefix + ":"], rest)
            found = self._fallback.lookup(name) if self._fallback is not None else None
            if found is not None:
                return found
            if attempt == 0:
                plugins.load_entry_point_plugins()
        msg = self.unknown_name_message(name)
        if plugins.failed_entry_points:
            # the name may live in a plugin that is installed but broken: say so
            msg += "; plugins that failed to load: " + "; ".join(plugins.failed_entry_points)
        raise RecipeError(msg)

    def unknown_name_message(self, name: object) -> str:
        """``unknown head 'fcn8'; did you mean 'fcn8s'?``, or the list of all names."""
        names = sorted(self._items)
        more = self._fallback.names() if self._fallback is not None else []
        close = _closest(str(name), names + [n for n in more if n not in self._items])
        msg = f"unknown {self.name} {name!r}"
        if close:
            return msg + f"; did you mean {' or '.join(repr(c) for c in close)}?"
        elsewhere = f"; or {self._fallback.described_as}" if self._fallback is not None else ""
        return msg + f"; registered {self.plural}: {', '.join(names) or '(none)'}{elsewhere}"

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {self.names()})"

    # -- building ----------------------------------------------------------------------
    def build(self, cfg: Mapping[str, Any] | str, _path: str | None = None, **extra: Any) -> Any:
        """Build ``cfg = {"type": name, **kwargs}`` (or just ``"name"``) with ``**extra``.

        A builder may list in ``run_supplied`` the ``extra`` names a recipe must not set
        (a scheduler's ``total_iters`` is the run's length), so none is silently replaced.

        A kwarg that is itself a ``{"type": ...}`` mapping is built first from the registry
        named like its key (``backbone:`` -> ``backbone`` registry, ``losses: [..]`` -> ``loss``),
        so a head can take a whole backbone recipe. ``_path`` is the recipe key path used in
        error messages.
        """
        path = _path or self.name
        if isinstance(cfg, str):
            cfg = {"type": cfg}
        if not isinstance(cfg, Mapping):
            raise RecipeError(f"{path}: expected a mapping with a 'type' key, got {type(cfg).__name__} {cfg!r}")
        if "type" not in cfg:
            raise RecipeError(
                f"{path}: missing 'type'; expected one of the registered {self.plural}: {', '.join(self.names())}"
            )
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        try:
            builder = self.get(cfg["type"])
        except RecipeError as e:
            raise RecipeError(f"{path}.type: {e}") from None
        run_supplied = sorted(set(getattr(builder, "run_supplied", ())) & set(kwargs))
        if run_supplied:
            raise RecipeError(f"{path}.{run_supplied[0]}: set by the run, not by the recipe; remove it")
        for key, value in list(kwargs.items()):
            kwargs[key] = _build_nested(key, value, f"{path}.{key}")
        kwargs.update(extra)
        _check_arguments(builder, kwargs, f"{path}: {self.name} {cfg['type']!r}")
        try:
            return builder(**kwargs)
        except UserError:
            raise
        except (ValueError, TypeError) as e:  # a component refusing a value ("dropout probability has to
            # be...") or its type (``lr: fast``: "'<' not supported between 'str' and 'float'")
            first = (str(e).strip().splitlines() or [""])[0]
            raise RecipeError(f"{path}: {self.name} {cfg['type']!r} refused its arguments: {first}") from e


@dataclass(frozen=True)
class Fallback:
    """Where a registry looks for names it does not hold (see ``Registry.set_fallback``)."""

    lookup: Callable[[str], Callable[..., Any] | None]
    names: Callable[[], list[str]]
    described_as: str


def _check_arguments(builder: Callable[..., Any], kwargs: dict[str, Any], where: str) -> None:
    """Fail on a wrong keyword before calling, naming the recipe key and what is accepted."""
    import inspect

    try:
        sig = inspect.signature(builder)
    except (TypeError, ValueError):  # builtins without a signature: let the call speak
        return
    params = sig.parameters.values()
    by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [p.name for p in params if p.kind in by_keyword]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    problems = []
    for k in kwargs:
        if k not in accepted and not takes_any:
            close = _closest(str(k), accepted)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            problems.append(f"unexpected argument {k!r}{hint}")
    missing = [
        p.name for p in params
        if p.default is inspect.Parameter.empty and p.name not in kwargs
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if missing:
        problems.append(f"missing required argument{'s' * (len(missing) > 1)} {', '.join(map(repr, missing))}")
    if not problems:
        try:
            sig.bind(**kwargs)
        except TypeError as e:  # anything the checks above do not describe
            problems.append(str(e))
    if problems:
        raise RecipeError(f"{where}: {'; '.join(problems)}; accepted arguments: {', '.join(accepted) or '(none)'}")


def _closest(name: str, names: list[str]) -> list[str]:
    """The registered names nearest to ``name``: the best match and any about as close."""
    scored = sorted(
        ((difflib.SequenceMatcher(None, name, n).ratio(), n) for n in names), key=lambda t: (-t[0], t[1])
    )
    scored = [(r, n) for r, n in scored if r >= 0.6]
    if not scored:
        return []
    best = scored[0][0]
    return [n for r, n in scored[:3] if r >= best - 0.05]


def _registry_for_key(key: str) -> "Registry | None":
    """``backbone`` -> the backbone registry; plurals too: ``heads`` -> head, ``losses`` -> loss."""
    if key in REGISTRIES:
        return REGISTRIES[key]
    if key.endswith("es") and key[:-2] in REGISTRIES:
        return REGISTRIES[key[:-2]]
    if key.endswith("s") and key[:-1] in REGISTRIES:
        return REGISTRIES[key[:-1]]
    return None


def _build_nested(key: str, value: Any, path: str) -> Any:
    reg = _registry_for_key(key)
    if reg is None:
        return value
    if isinstance(value, Mapping) and "type" in value:
        return reg.build(value, _path=path)
    if isinstance(value, list) and all(isinstance(v, Mapping) and "type" in v for v in value) and value:
        return [reg.build(v, _path=f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


BACKBONES = Registry("backbone")
HEADS = Registry("head")
LOSSES = Registry("loss")
DATASETS = Registry("dataset")
TRANSFORMS = Registry("transform")
OPTIMIZERS = Registry("optimizer")
SCHEDULERS = Registry("scheduler")
HANDLERS = Registry("handler")
