"""Per-epoch history: ``history.csv`` (one row per epoch) and ``metrics.json`` (the summary)."""
from __future__ import annotations

from typing import Any

from ignite.engine import Engine, Events

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.registry import HANDLERS


@HANDLERS.register("history")
class History:
    """Records each epoch's summary in ``history.csv`` and the run's final and best values
    of its metric in ``metrics.json`` (through the run directory's owner).

    On resume the rows of epochs the resumed run will redo are dropped, so the file always
    matches the weights. Both files are rewritten atomically.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def attach(self, run: RunContext) -> None:
        self.run = run
        run.trainer.add_event_handler(Events.STARTED, self._load)
        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, self._record)

    def _load(self, engine: Engine) -> None:
        self.rows = [r for r in self.run.run_dir.history() if r["epoch"] <= engine.state.epoch]

    def _record(self, engine: Engine) -> None:
        row = {"epoch": engine.state.epoch, **engine.state.epoch_summary}
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        self.run.run_dir.write_history(self.rows)
        spec = self.run.metric
        best = spec.best(self.rows)
        final = next((r for r in reversed(self.rows) if spec.key in r), self.rows[-1])
        summary: dict[str, Any] = {"metric": spec.key, "mode": spec.mode,
                                   "final": final, "best": best, "best_epoch": best["epoch"] if best else None}
        summary["init"] = self.run.provenance.get("init")
        self.run.run_dir.write_summary(summary)
