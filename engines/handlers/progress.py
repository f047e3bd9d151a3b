"""Progress bars for training and validation, on a terminal only."""
from __future__ import annotations

import sys
import time
from typing import Any

from ignite.engine import Engine, Events

from ignite_zoo.engines.events import RunContext
from ignite_zoo.engines.handlers.args import flag
from ignite_zoo.registry import HANDLERS


def progress_event(seconds: float = 0.1) -> Any:
    """ITERATION_COMPLETED filtered to at most one per ``seconds`` plus each epoch's last
    iteration: ignite's progress bar redraws the whole tqdm line on every call (2% of a
    10 ms iteration), and nobody reads more than ten redraws a second."""
    last = [float("-inf")]

    def due(engine: Engine, iteration: int) -> bool:
        now = time.monotonic()
        length = engine.state.epoch_length
        if now - last[0] >= seconds or (length and iteration % length == 0):
            last[0] = now
            return True
        return False

    return Events.ITERATION_COMPLETED(event_filter=due)


@HANDLERS.register("progress")
class Progress:
    """ignite's ``ProgressBar`` on the trainer (with the loss) and the evaluator. Written
    to a file, tqdm's carriage returns and cursor moves are noise, so when stderr is not a
    terminal no bar is drawn; the console handler's epoch lines tell the run instead."""

    def __init__(self, force: bool = False) -> None:
        self.force = flag(force, "handlers.progress.force")

    def attach(self, run: RunContext) -> None:
        if not (self.force or sys.stderr.isatty()):
            return
        from ignite.handlers import ProgressBar

        ProgressBar(persist=True, desc="train").attach(run.trainer, output_transform=lambda loss: {"loss": loss},
                                                       event_name=progress_event())
        ProgressBar(persist=False, desc="validate").attach(run.evaluator, event_name=progress_event())
