"""A recipe's ``handlers:`` section turned into attached handlers."""
from __future__ import annotations

from typing import Any, Mapping

from ignite_zoo.engines.events import RunContext
from ignite_zoo.registry import HANDLERS


def _settings(value: Any) -> dict[str, Any] | None:
    """``false``/``null`` -> off; ``true`` -> on with defaults; a mapping -> its settings
    (``enabled: false`` in it switches the handler off)."""
    if value is None or value is False:
        return None
    kwargs = {} if value is True else dict(value)
    return kwargs if kwargs.pop("enabled", True) is not False else None


def check_handlers(section: Mapping[str, Any]) -> None:
    """Every named handler exists: a typo fails before a model is built, with close names."""
    for name, value in section.items():
        if _settings(value) is not None:
            try:
                HANDLERS.get(name)
            except Exception as e:  # RecipeError listing the close names
                raise type(e)(f"handlers.{name}: {e}") from None


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
        kwargs = _settings(value)
        if kwargs is None:
            continue
        handler = HANDLERS.build({"type": name, **kwargs}, _path=f"handlers.{name}")
        if getattr(handler, "rank_zero_only", True) and run.run_dir is None:
            continue
        handler.attach(run)
        attached.append(handler)
    return attached
