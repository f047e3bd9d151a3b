"""The run's own events and the context every handler is attached with.

Handlers never depend on the order they were attached in: what they read is set by the
run itself before the event they listen to fires.

- ``RunEvents.EPOCH_SUMMARY`` fires on the trainer after each epoch (after its validation,
  when the epoch validates). Before it fires, ``trainer.state.epoch_summary`` holds that
  epoch's scalars: ``train/loss``, ``lr``, ``train/seconds`` and, on validation epochs,
  ``val/<metric>`` for every metric (``val/IoU/<class>`` per class) and ``val/seconds``.
- ``RunEvents.MASKS_SAVED`` fires on the trainer when predicted masks were written;
  ``trainer.state.saved_masks`` maps image id to its colour mask (RGB uint8 [H, W, 3]).
- ignite's own ``Events`` (ITERATION_COMPLETED with ``state.output`` = the step's loss,
  COMPLETED, ...) as documented by ignite.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from ignite.engine import Engine, EventEnum


class RunEvents(EventEnum):
    EPOCH_SUMMARY = "epoch_summary"
    MASKS_SAVED = "masks_saved"


@dataclass
class RunContext:
    """What a handler may attach to and read. ``run_dir`` is None on ranks other than 0,
    which write no files; handlers that write files are attached on rank 0 only."""

    recipe: dict
    trainer: Engine
    evaluator: Engine
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    to_save: dict
    metric: Any  # engines.metrics.MetricSpec
    val_ds: Any
    step_cfg: Any  # engines.step.StepConfig
    predictor: Any = None  # engines.predictor.Predictor: the validation's images -> logits
    run_dir: Any = None  # engines.run_dir.RunDir on rank 0
    dataset_info: Any = None  # the validation dataset's facts (classes, colours, ...)
    provenance: dict = field(default_factory=dict)  # {"init": what the backbone started from}
