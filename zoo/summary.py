"""A torchsummary-style architecture table for any ``nn.Module``.

The printed format is torchsummary's, number for number (VGG16 at 3x224x224 gives its
published 138,357,544 params and 746.96 MB), so tables can be compared with the many
published ones. Two deliberate differences: hooks go on leaf modules only (torchsummary
also hooks containers such as ResNet blocks and counts their parameters twice), and the
totals are the model's own parameters, counted once, so shared or reused modules and
parameters held outside leaves (a ViT's ``pos_embed``) are neither missed nor doubled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

_WIDE = "-" * 64
_DOUBLE = "=" * 64
_MB = 1024.0 ** 2


@dataclass
class Row:
    """One leaf module call: ``Conv2d-1``, its output shape(s) and its parameter count."""

    name: str
    output_shape: list[int] | list[list[int]]
    params: int
    trainable: bool
    numel: int  # output elements per sample (for the activation memory estimate)


@dataclass
class Summary:
    rows: list[Row] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    input_size_mb: float = 0.0
    forward_backward_mb: float = 0.0
    params_size_mb: float = 0.0

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_size_mb(self) -> float:
        return self.input_size_mb + self.forward_backward_mb + self.params_size_mb


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    return []


def _prod(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def summary_rows(
    model: nn.Module, input_size: tuple[int, ...], batch_size: int = -1, device: str | torch.device = "cpu"
) -> Summary:
    """Run one sample through ``model`` (eval, no grad) and collect one row per leaf call.

    ``batch_size`` is what the shapes show in the batch position (``-1`` = any) and scales
    the memory estimates (``-1`` counts as 1), as in torchsummary.
    """
    rows: list[Row] = []
    shown_batch = batch_size
    scale = 1 if batch_size == -1 else abs(batch_size)

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        outs = _tensors(output)
        shapes = [[shown_batch, *o.shape[1:]] for o in outs]
        params = list(module.parameters(recurse=False))
        rows.append(Row(
            name=f"{type(module).__name__}-{len(rows) + 1}",
            output_shape=shapes[0] if len(shapes) == 1 else shapes,
            params=sum(p.numel() for p in params),
            trainable=any(p.requires_grad for p in params),
            numel=sum(_prod(list(o.shape[1:])) for o in outs),
        ))

    leaves = [m for m in model.modules() if next(m.children(), None) is None and m is not model]
    if not leaves:  # a model that is itself a single layer
        leaves = [model]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        x = torch.rand(1, *input_size, device=device)
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    unique = {id(p): p for p in model.parameters()}.values()
    total = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return Summary(
        rows=rows,
        total_params=total,
        trainable_params=trainable,
        input_size_mb=_prod(list(input_size)) * scale * 4 / _MB,
        forward_backward_mb=2 * sum(r.numel for r in rows) * scale * 4 / _MB,  # x2: gradients
        params_size_mb=total * 4 / _MB,
    )


def format_summary(s: Summary) -> str:
    """The torchsummary table for ``s``."""
    lines = [_WIDE, "{:>20}  {:>25} {:>15}".format("Layer (type)", "Output Shape", "Param #"), _DOUBLE]
    for r in s.rows:
        lines.append("{:>20}  {:>25} {:>15}".format(r.name, str(r.output_shape), f"{r.params:,}"))
    lines += [
        _DOUBLE,
        f"Total params: {s.total_params:,}",
        f"Trainable params: {s.trainable_params:,}",
        f"Non-trainable params: {s.non_trainable_params:,}",
        _WIDE,
        "Input size (MB): %0.2f" % s.input_size_mb,
        "Forward/backward pass size (MB): %0.2f" % s.forward_backward_mb,
        "Params size (MB): %0.2f" % s.params_size_mb,
        "Estimated Total Size (MB): %0.2f" % s.total_size_mb,
        _WIDE,
    ]
    return "\n".join(lines)


def summarize(
    model: nn.Module, input_size: tuple[int, ...], batch_size: int = -1, device: str | torch.device = "cpu"
) -> str:
    """torchsummary's ``summary(model, input_size)`` as a string (``input_size`` without batch)."""
    return format_summary(summary_rows(model, tuple(input_size), batch_size, device))
