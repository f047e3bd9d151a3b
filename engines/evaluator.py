"""The evaluator Engine: the run's ``Predictor`` on each validation batch, metrics attached."""
from __future__ import annotations

from typing import Any, Callable

import torch
from ignite.engine import Engine
from ignite.metrics import Metric

from ignite_zoo.engines.step import StepConfig, to_device


def create_evaluator(predictor: Callable[[torch.Tensor], torch.Tensor], metrics: dict[str, Metric],
                     cfg: StepConfig) -> Engine:
    """An Engine whose output is ``(logits, target)`` for the attached metrics; ``predictor``
    (``engines.predictor.Predictor``: whole or tiled, with TTA) turns a batch into logits."""

    def step(engine: Engine, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = to_device(batch, cfg)
        return predictor(x), y

    evaluator = Engine(step)
    for name, metric in metrics.items():
        metric.attach(evaluator, name)
    return evaluator
