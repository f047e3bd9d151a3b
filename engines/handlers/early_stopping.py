"""Stop training when the run's metric has not improved for ``patience`` validations."""
from __future__ import annotations

from ignite.engine import Engine
from ignite.handlers import EarlyStopping as IgniteEarlyStopping

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.engines.handlers.args import count
from ignite_zoo.registry import HANDLERS


@HANDLERS.register("early_stopping")
class EarlyStopping:
    """ignite's ``EarlyStopping`` on the run's metric spec (its direction included), fed at
    each validated epoch's summary. Runs on every rank: the metrics are all-reduced, so all
    ranks stop together."""

    rank_zero_only = False

    def __init__(self, patience: int | None = None) -> None:
        self.patience = count(patience, "handlers.early_stopping.patience", 1, optional=True)

    def attach(self, run: RunContext) -> None:
        if self.patience is None:
            return
        key, spec = run.metric.key, run.metric

        def score(engine: Engine) -> float:
            return spec.score(engine.state.epoch_summary[key])

        stopper = IgniteEarlyStopping(self.patience, score, run.trainer)

        def on_summary(engine: Engine) -> None:
            if key in engine.state.epoch_summary:
                stopper(engine)

        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, on_summary)
