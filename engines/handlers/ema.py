"""An exponential moving average of the weights (``train.ema: {momentum: 0.999}``), through
ignite's ``EMAHandler``; validation and the best checkpoint use the averaged weights."""
from __future__ import annotations

from typing import Any, Mapping

import torch
from ignite.engine import Engine, Events
from ignite.handlers import EMAHandler

from ignite_zoo.engines.events import RunContext
from ignite_zoo.registry import HANDLERS
from ignite_zoo.registry.errors import RecipeError

#: the key of the averaged model in the run's ``to_save`` (and so in its last checkpoints)
EMA_KEY = "ema_model"


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, (torch.nn.parallel.DistributedDataParallel,
                                              torch.nn.DataParallel)) else model


def _tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    return [*model.parameters(), *model.buffers()]


@HANDLERS.register("ema")
class EMA:
    """After every iteration ``ema = momentum * ema + (1 - momentum) * weights`` (ignite's
    ``EMAHandler``, which counts its ``momentum`` the other way round: it is given
    ``1 - momentum``). While the evaluator runs the model holds the averaged weights, and
    the training weights are put back when it completes, so every validation score, the
    early stopping and the best checkpoint (which saves the averaged model) see the
    average, and training continues from the raw weights. The average is saved in the
    last checkpoints (``ema_model``), so a resumed run continues it.

    ``warmup_iters`` with ``momentum_warmup``: ignite's linear warm-up of the momentum (a
    young average follows the weights faster). ``buffers``: ``copy`` (batch-norm
    statistics taken from the model) or ``update`` (averaged too). Runs on every process.
    """

    rank_zero_only = False

    def __init__(self, momentum: float = 0.999, momentum_warmup: float | None = None,
                 warmup_iters: int | None = None, buffers: str = "copy") -> None:
        for key, value in (("momentum", momentum), ("momentum_warmup", momentum_warmup)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 < value < 1):
                raise RecipeError(f"train.ema.{key}: expected a number in (0, 1) such as 0.999, got {value!r}")
        if buffers not in ("copy", "update"):
            raise RecipeError(f"train.ema.buffers: expected 'copy' or 'update', got {buffers!r}")
        self.momentum, self.momentum_warmup = float(momentum), momentum_warmup
        self.warmup_iters, self.buffers = warmup_iters, buffers
        self.handler: EMAHandler | None = None
        self._saved: list[torch.Tensor] | None = None

    def prepare(self, model: torch.nn.Module, to_save: dict) -> None:
        """Make the averaged model (a copy of ``model`` now) and add it to ``to_save``:
        called before a resume loads the checkpoint, so the average resumes too."""
        warm = None if self.momentum_warmup is None else 1 - float(self.momentum_warmup)
        self.handler = EMAHandler(model, momentum=1 - self.momentum, momentum_warmup=warm,
                                  warmup_iters=self.warmup_iters, handle_buffers=self.buffers)
        self.model = _unwrap(model)
        to_save[EMA_KEY] = self.handler.ema_model

    def attach(self, run: RunContext) -> None:
        if self.handler is None:
            self.prepare(run.model, run.to_save)
        self.handler.attach(run.trainer, name="ema_momentum", event=Events.ITERATION_COMPLETED)
        run.evaluator.add_event_handler(Events.STARTED, self.swap_in)
        run.evaluator.add_event_handler(Events.COMPLETED, self.restore)

    def swap_in(self, engine: Engine | None = None) -> None:
        """The model takes the averaged weights; its own are kept aside."""
        with torch.no_grad():
            own = _tensors(self.model)
            self._saved = [t.detach().clone() for t in own]
            for t, e in zip(own, _tensors(self.handler.ema_model)):
                t.copy_(e)

    def restore(self, engine: Engine | None = None) -> None:
        """The model's own weights back (after validation)."""
        if self._saved is None:
            return
        with torch.no_grad():
            for t, s in zip(_tensors(self.model), self._saved):
                t.copy_(s)
        self._saved = None

    def close(self, error: BaseException | None) -> None:
        self.restore()  # a validation that failed half-way leaves the training weights in place


def prepare_ema(recipe: Mapping[str, Any], model: torch.nn.Module, to_save: dict) -> EMA | None:
    """The run's EMA handler from ``train.ema`` (None when off), its average in ``to_save``."""
    settings = recipe["train"].get("ema")
    if settings is None:
        return None
    handler = HANDLERS.build({"type": "ema", **settings}, _path="train.ema")
    handler.prepare(model, to_save)
    return handler
