"""A recipe's ``handlers:`` section turned into attached handlers."""
from __future__ import annotations

import inspect
from typing import Any, Mapping

from ignite_zoo.engines.events import RunContext
from ignite_zoo.registry import HANDLERS
from ignite_zoo.registry.errors import RecipeError


def _settings(name: str, value: Any) -> dict[str, Any] | None:
    """``false``/``null`` -> off; ``true`` -> on with defaults; a mapping -> its settings
    (``enabled: false`` in it switches the handler off)."""
    if value is None or value is False:
        return None
    kwargs = {} if value is True else dict(value)
    enabled = kwargs.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise RecipeError(f"handlers.{name}.enabled: expected true or false, got {type(enabled).__name__} {enabled!r}")
    return kwargs if enabled else None


def check_handlers(section: Mapping[str, Any]) -> dict[str, Any]:
    """Build every switched-on handler once, before any work, so a typo in a name or a bad
    setting fails with its key path (each handler checks its own arguments); returns the
    section with each handler's defaults filled in, for the run's recipe.yaml."""
    out: dict[str, Any] = {}
    for name, value in section.items():
        kwargs = _settings(name, value)
        if kwargs is None:
            out[name] = value if isinstance(value, Mapping) else False
            continue
        try:
            builder = HANDLERS.get(name)
        except RecipeError as e:  # listing the close names
            raise RecipeError(f"handlers.{name}: {e}") from None
        HANDLERS.build({"type": name, **kwargs}, _path=f"handlers.{name}")
        out[name] = {**defaults_of(builder), **kwargs}
    return out


def defaults_of(builder: Any) -> dict[str, Any]:
    """The keyword defaults a handler's signature declares (its settings when left out)."""
    try:
        params = inspect.signature(builder).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: list(p.default) if isinstance(p.default, tuple) else p.default for p in params
            if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD}


def close_handlers(handlers: list[Any], error: BaseException | None) -> None:
    """After the run, ended or failed: each handler's ``close(error)``, if it has one.

    Handlers clean up here, never on ignite's EXCEPTION_RAISED: ignite hands an exception
    to those handlers instead of raising it, so one that forgot to raise it again would turn
    a failed run into a finished one. A failing ``close`` does not hide the run's error.
    """
    for handler in handlers:
        close = getattr(handler, "close", None)
        if close is None:
            continue
        try:
            close(error)
        except Exception:
            if error is None:
                raise


def attach_handlers(run: RunContext, section: Mapping[str, Any]) -> list[Any]:
    """Build each switched-on handler by name and attach it. Handlers that write files
    (the default) are attached on rank 0 only, where ``run.run_dir`` is set."""
    attached = []
    for name, value in section.items():
        kwargs = _settings(name, value)
        if kwargs is None:
            continue
        handler = HANDLERS.build({"type": name, **kwargs}, _path=f"handlers.{name}")
        if getattr(handler, "rank_zero_only", True) and run.run_dir is None:
            continue
        handler.attach(run)
        attached.append(handler)
    return attached
