"""What one training or evaluation step needs to know about the machine, shared by the
trainer, the evaluator and prediction (so the evaluator never imports the trainer)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class StepConfig:
    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    accum_steps: int = 1
    clip_grad_norm: float | None = None
    non_blocking: bool = False


def to_device(batch: Any, cfg: StepConfig) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch[0], batch[1]
    x = x.to(cfg.device, non_blocking=cfg.non_blocking)
    if cfg.channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    y = y.to(cfg.device, non_blocking=cfg.non_blocking) if isinstance(y, torch.Tensor) else torch.as_tensor(y, device=cfg.device)
    return x, y
