"""Handlers, each with one job, built by name from a recipe's ``handlers:`` section.

Importing this package registers the built-in ones in ``registry.HANDLERS``; a user's
handler is a class registered the same way in a module named in the recipe's ``imports:``.
A handler has ``attach(run: engines.events.RunContext)`` and reads only the state that
``engines.events`` documents. ``rank_zero_only = False`` lets it run on every process.
"""
from ignite_zoo.engines.handlers import (  # noqa: F401  (registers)
    checkpoint,
    confusion,
    console,
    early_stopping,
    ema,
    history,
    mask_snapshots,
    mlflow,
    nan_guard,
    progress,
    tensorboard,
    tune_report,
)
from ignite_zoo.engines.handlers.ema import prepare_ema
from ignite_zoo.engines.handlers.mask_snapshots import resolve_epochs
from ignite_zoo.engines.handlers.wiring import attach_handlers, check_handlers, close_handlers

__all__ = ["attach_handlers", "check_handlers", "close_handlers", "prepare_ema", "resolve_epochs"]
