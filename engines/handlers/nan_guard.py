"""Stop a run at the first non-finite loss, before anything is saved from it."""
from __future__ import annotations

import math

from ignite.engine import Engine, Events

from ignite_zoo.engines.events import RunContext
from ignite_zoo.registry import HANDLERS
from ignite_zoo.registry.errors import RunError


@HANDLERS.register("nan_guard")
class NanGuard:
    """Raise ``RunError`` naming the epoch and iteration when the loss is NaN/inf.

    On ITERATION_COMPLETED, so a bad step never reaches a checkpoint (written at epoch
    ends) and the last good checkpoint stays the newest on disk; ignite's TerminateOnNan
    would end the run quietly and let end-of-run handlers save the broken weights.
    Every rank checks its own loss.
    """

    rank_zero_only = False

    def attach(self, run: RunContext) -> None:
        run.trainer.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        loss = engine.state.output
        if isinstance(loss, (int, float)) and not math.isfinite(loss):
            raise RunError(
                f"loss became {loss} at epoch {engine.state.epoch}, iteration {engine.state.iteration}; "
                "the run stopped and the last good checkpoint is kept (lower optim.lr, enable "
                "train.clip_grad_norm, or check the data)"
            )
