"""The evaluator Engine and batched inference shared by training, snapshots and tools."""
from __future__ import annotations

from typing import Any, Callable

import torch
from ignite.engine import Engine
from ignite.metrics import Metric

from ignite_zoo.engines.runtime import autocast
from ignite_zoo.engines.step import StepConfig, to_device


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, x: torch.Tensor, cfg: StepConfig, tta: str | None = None) -> torch.Tensor:
    """float32 logits of ``model`` on a batch already on the device; ``tta="flip"`` averages
    the horizontally flipped prediction in."""
    model.eval()
    if cfg.channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    with autocast(cfg.device, cfg.amp_dtype):
        out = model(x).float()
        if tta == "flip":
            out = 0.5 * (out + model(x.flip(-1)).float().flip(-1))
        elif tta is not None:
            raise ValueError(f"unknown test-time augmentation {tta!r}; expected 'flip' or None")
    return out


def create_evaluator(model: torch.nn.Module, metrics: dict[str, Metric], cfg: StepConfig,
                     predict: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Engine:
    """An Engine whose output is ``(logits, target)`` for the attached metrics; ``predict``
    (a batch on the device -> float32 logits) replaces whole-image prediction, e.g. tiles."""

    def step(engine: Engine, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = to_device(batch, cfg)
        return (predict(x) if predict is not None else predict_logits(model, x, cfg)), y

    evaluator = Engine(step)
    for name, metric in metrics.items():
        metric.attach(evaluator, name)
    return evaluator
