"""The training step and the trainer Engine.

ignite's ``amp_mode`` covers CUDA only, so the step is written here: autocast with the
run's dtype (bf16 on CPU), a GradScaler only for fp16 on CUDA, channels_last inputs,
gradient accumulation and clipping. The step is the whole per-iteration cost, so it does
nothing else (no syncs, no host copies except the loss scalar ignite needs).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from ignite.engine import DeterministicEngine, Engine

from ignite_zoo.engines.runtime import autocast
from ignite_zoo.engines.step import StepConfig, to_device

__all__ = ["StepConfig", "create_trainer", "make_train_step", "to_device"]


def make_train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    cfg: StepConfig,
    scheduler: Any | None = None,
) -> Callable[[Engine, Any], float]:
    """An ignite process function: forward under autocast, backward, step every N batches."""
    scaler = torch.amp.GradScaler("cuda") if cfg.amp_dtype == torch.float16 and cfg.device.type == "cuda" else None
    accum = max(1, cfg.accum_steps)

    def step(engine: Engine, batch: Any) -> float:
        model.train()
        x, y = to_device(batch, cfg)
        with autocast(cfg.device, cfg.amp_dtype):
            out = model(x)
            loss = loss_fn(out.float() if out.dtype != torch.float32 else out, y)
        last = True
        if accum > 1:
            # Groups of ``accum`` batches restart each epoch, and a short last group steps on
            # its own mean: no gradients are left over at an epoch's end, where checkpoints are
            # written, so a resumed run continues exactly.
            n = engine.state.epoch_length
            i = (engine.state.iteration - 1) % n  # this batch's place in its epoch
            start = i - i % accum
            size = min(accum, n - start)
            last = i == start + size - 1
            loss_to_backward = loss / size
        else:
            loss_to_backward = loss
        if scaler is not None:
            scaler.scale(loss_to_backward).backward()
        else:
            loss_to_backward.backward()
        if last:
            if cfg.clip_grad_norm is not None:
                if scaler is not None:
                    scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
            stepped = True
            if scaler is not None:
                scale = scaler.get_scale()
                scaler.step(optimizer)
                scaler.update()
                stepped = scaler.get_scale() >= scale  # a lowered scale means inf/NaN grads: step skipped
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if scheduler is not None and stepped:
                scheduler.step()
        return loss.detach().item()

    step.scaler = scaler  # type: ignore[attr-defined]  (checkpointed with the run)
    return step


def create_trainer(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    cfg: StepConfig,
    scheduler: Any | None = None,
    deterministic: bool = True,
) -> Engine:
    """The trainer Engine; deterministic (ignite's DeterministicEngine) so a resumed run
    sees the same batches and dropout masks as an uninterrupted one."""
    step = make_train_step(model, optimizer, loss_fn, cfg, scheduler)
    engine = DeterministicEngine(step) if deterministic else Engine(step)
    engine.grad_scaler = step.scaler  # type: ignore[attr-defined]  (fp16 on CUDA only, else None)
    return engine
