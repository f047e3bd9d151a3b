"""What one training or evaluation step needs to know about the machine, built from the
recipe in one place (``StepConfig.from_recipe``) and shared by the trainer, the evaluator
and the predictor, so training and every tool run a model the same way."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch


@dataclass
class StepConfig:
    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    accum_steps: int = 1
    clip_grad_norm: float | None = None
    non_blocking: bool = False

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any], device: str | torch.device | None = None) -> "StepConfig":
        """The validated recipe's ``train`` section (its defaults are the schema's); ``device``
        overrides ``train.device`` (a tool's ``--device``)."""
        from ignite_zoo.engines.runtime import resolve_amp, resolve_device

        tr = recipe["train"]
        dev = device if isinstance(device, torch.device) else (
            resolve_device(device, "--device") if device else resolve_device(tr["device"]))
        return cls(device=dev, amp_dtype=resolve_amp(tr["amp"], dev), channels_last=bool(tr["channels_last"]),
                   accum_steps=tr["accum_steps"], clip_grad_norm=tr["clip_grad_norm"],
                   non_blocking=dev.type == "cuda")


def to_device(batch: Any, cfg: StepConfig) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch[0], batch[1]
    x = x.to(cfg.device, non_blocking=cfg.non_blocking)
    if cfg.channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    y = y.to(cfg.device, non_blocking=cfg.non_blocking) if isinstance(y, torch.Tensor) else torch.as_tensor(y, device=cfg.device)
    return x, y
