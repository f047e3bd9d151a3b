"""Reports a tuning trial's validation metric each epoch, and stops the run when the study
prunes it (``ignite-zoo tune`` switches it on with ``handlers.tune_report=true``)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ignite.engine import Engine

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.registry import HANDLERS

_ACTIVE: list[Any] = []  # the trial this process is running (``engines.tune`` sets it)


def active_trial() -> Any:
    """The optuna trial this process runs, or None outside a study."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextmanager
def running(trial: Any) -> Iterator[None]:
    """Make ``trial`` the one this process's ``tune_report`` handler reports to."""
    _ACTIVE.append(trial)
    try:
        yield
    finally:
        _ACTIVE.pop()


@HANDLERS.register("tune_report")
class TuneReport:
    """``trial.report(value, epoch)`` after every validated epoch and ``optuna.TrialPruned``
    when ``trial.should_prune()``. The trial is the one ``engines.tune`` is running in this
    process; outside a study (the run's recipe run again by hand) the handler does nothing."""

    def attach(self, run: RunContext) -> None:
        self.trial = active_trial()
        if self.trial is None:
            return
        self.spec = run.metric
        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, self._report)

    def _report(self, engine: Engine) -> None:
        value = engine.state.epoch_summary.get(self.spec.key)
        if value is None or value != value:
            return
        self.trial.report(float(value), engine.state.epoch)
        if self.trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"pruned at epoch {engine.state.epoch} ({self.spec.key} {value:.4g})")
