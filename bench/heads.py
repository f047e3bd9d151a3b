"""Train-step speed of every segmentation head on one backbone (timm's ResNet-18) at 512x512.

For fcn8s, unet, fpn, deeplabv3plus, upernet and segformer (default widths, 7 classes),
the project's train step (``engines.trainer.make_train_step``, SGD, cross-entropy, bf16
autocast + channels_last: the CPU recipes' setting) runs interleaved with the bf16 matmul
peak measurement of bench/compute_efficiency.py. Rows: images/s, achieved GFLOP/s (the
step's FLOPs counted once by ``FlopCounterMode``, forward and backward, over the median
step time) and that as a share of the bf16 matmul peak measured in the same repeats.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import interleaved, matmul_cases, median, peak_source, row, threads as use_threads  # noqa: E402

HEADS = ("fcn8s", "unet", "fpn", "deeplabv3plus", "upernet", "segformer")
BACKBONE = {"type": "timm:resnet18"}
NUM_CLASSES = 7


def _step(head: str, size: int, batch: int) -> tuple[Callable[[], float], float]:
    """One bf16 + channels_last train step of ``head`` on the backbone, and its FLOPs."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ignite_zoo import zoo  # noqa: F401
    from ignite_zoo.engines.optim import sgd
    from ignite_zoo.engines.trainer import StepConfig, make_train_step
    from ignite_zoo.registry import LOSSES
    from ignite_zoo.zoo.model import build_model

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    head_cfg: dict[str, Any] = {"type": head, "num_classes": NUM_CLASSES}
    model = build_model({"backbone": BACKBONE, "head": head_cfg}).to(memory_format=torch.channels_last)
    x = torch.rand(batch, 3, size, size, generator=g) * 255
    y = torch.randint(0, NUM_CLASSES, (batch, size, size), generator=g)
    cfg = StepConfig(device=torch.device("cpu"), amp_dtype=torch.bfloat16, channels_last=True)
    fn = make_train_step(model, sgd(model.parameters(), lr=1e-3), LOSSES.build({"type": "cross_entropy"}), cfg)
    engine = type("E", (), {"state": type("S", (), {"iteration": 1})()})()  # the step reads state.iteration

    def one() -> float:
        loss = fn(engine, (x, y))
        if not math.isfinite(loss):
            raise RuntimeError(f"heads bench: {head} loss became {loss}")
        return loss

    with FlopCounterMode(display=False) as counter:
        one()
    return one, float(counter.get_total_flops())


def run(quick: bool = True, threads: int | None = None) -> list[dict[str, Any]]:
    import logging

    import torch

    logging.getLogger("zoo").setLevel(logging.ERROR)  # "no weights given" once per head is not a result
    n_threads = threads or torch.get_num_threads()
    size, batch, repeats = (64, 1, 1) if quick else (512, 2, 3)
    heads = HEADS[1:] if quick else HEADS  # quick: fcn8s's 4096-wide fc6 dominates the minutes
    what = f"timm resnet18, {size}x{size} batch {batch}, bf16 + channels_last{' (quick)' if quick else ''}, " \
           f"{n_threads} threads"
    rows: list[dict[str, Any]] = []
    peaks: list[float] = []
    peak_gflops: dict[str, list[float]] = {}
    with use_threads(n_threads):
        peak_cases = matmul_cases(512 if quick else 2048, tags=("bf16",))
        for head in heads:
            step, flops = _step(head, size, batch)
            cases = {**{f"peak {k}": v[0] for k, v in peak_cases.items()}, "step": step}
            times = interleaved(cases, repeats=repeats, warmup=1)
            peak_at = [max(peak_cases[k][1] / times[f"peak {k}"][r] for k in peak_cases) / 1e9 for r in range(repeats)]
            for k, (_, f) in peak_cases.items():
                peak_gflops.setdefault(k, []).append(f / median(times[f"peak {k}"]) / 1e9)
            peaks += peak_at
            seconds = median(times["step"])
            share = median([flops / times["step"][r] / 1e9 / peak_at[r] for r in range(repeats)])
            rows += [
                row(f"heads: {head} train step: images/s ({what})", batch / seconds, "images/s", digits=2),
                row(f"heads: {head} train step: GFLOP/s ({what})", flops / seconds / 1e9, "GFLOP/s", digits=1),
                row(f"heads: {head} train step: % of bf16 matmul peak ({what})", 100 * share, "%", digits=1),
                row(f"heads: {head} train step: GFLOP per step ({what})", flops / 1e9, "GFLOP", digits=2),
            ]
    source = peak_source("bf16", {k: median(v) for k, v in peak_gflops.items()})
    return [row(f"heads: matmul peak bf16 ({source}; {n_threads} threads; median over every head's repeats)",
                median(peaks), "GFLOP/s", digits=1)] + rows


if __name__ == "__main__":
    t = [int(a.split("=")[1]) for a in sys.argv if a.startswith("--threads=")]
    for r in run(quick="--quick" in sys.argv, threads=t[0] if t else None):
        print(f"{r['name']}: {r['value']} {r['unit']}")
