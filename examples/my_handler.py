"""An example user handler: each epoch's time and learning rate, in ``epoch_times.csv``.

Registering it is all it takes; nothing in the zoo changes. Name this module in a recipe
(``imports: [my_handler]`` with this file beside the recipe, or installed) and switch it
on under ``handlers:`` with its settings (``true`` for the defaults)::

    imports: [my_handler]
    handlers:
      my_handler: {every: 1}

A handler is built by name with the settings as keyword arguments, then ``attach(run)``
is called with an ``engines.events.RunContext``. It reads only what the run documents in
``engines.events``: here ``trainer.state.epoch_summary`` at ``RunEvents.EPOCH_SUMMARY``,
which the run sets after each epoch and its validation. It writes a file, so it is
attached on the process that writes the run directory only (``rank_zero_only``, the
default; set it False for a handler that must run on every process).
"""
from __future__ import annotations

import csv

from ignite.engine import Engine

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.registry import HANDLERS
from ignite_zoo.registry.errors import RecipeError

FILE = "epoch_times.csv"
COLUMNS = ("epoch", "train_seconds", "val_seconds", "lr")


@HANDLERS.register("my_handler")
class EpochTimes:
    rank_zero_only = True

    def __init__(self, every: int = 1) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise RecipeError(f"handlers.my_handler.every: expected a whole number >= 1, got {every!r}")
        self.every = every

    def attach(self, run: RunContext) -> None:
        self.path = run.run_dir.path / FILE
        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, self._record)

    def _record(self, engine: Engine) -> None:
        epoch = engine.state.epoch
        if epoch % self.every:
            return
        summary = engine.state.epoch_summary
        new = not self.path.is_file()
        with open(self.path, "a", newline="", encoding="utf-8") as f:  # a resumed run appends
            writer = csv.writer(f, lineterminator="\n")
            if new:
                writer.writerow(COLUMNS)
            writer.writerow([epoch, f"{summary['train/seconds']:.3f}",
                             "" if summary.get("val/seconds") is None else f"{summary['val/seconds']:.3f}",
                             f"{summary['lr']:.6g}"])
        print(f"{self.path.name}: epoch {epoch} took {summary['train/seconds']:.1f} s at lr {summary['lr']:.3g}",
              flush=True)
