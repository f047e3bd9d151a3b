"""How much of the machine's matmul throughput a training step achieves.

For the VGG16 classifier at 32x32 and FCN8s at 512x512, the project's train step
(``engines.trainer.make_train_step`` with the recipes' SGD and cross-entropy) runs in four
configurations: fp32, fp32 + channels_last, bf16 autocast, bf16 autocast + channels_last.
The FLOPs of one step (forward and backward) are counted once with
``torch.utils.flop_counter.FlopCounterMode`` (the count does not depend on dtype or memory
format); achieved GFLOP/s = FLOPs / median step time. The reference is the machine's
matmul peak of the same dtype (2048 x 2048 matmuls, the better of ``torch.matmul`` and
oneDNN's linear layer; the peak rows name which, or the fallback), measured in the same
interleaved repeats as the steps, so each fraction compares a step with the peak measured
seconds away, under the same load.
"""
from __future__ import annotations

import copy
import math
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import interleaved, matmul_cases, median, peak_source, row, threads as use_threads  # noqa: E402

CONFIGS = (  # (label, autocast to bf16, channels_last)
    ("fp32", False, False),
    ("fp32 + channels_last", False, True),
    ("bf16 autocast", True, False),
    ("bf16 + channels_last", True, True),
)


def _workload(kind: str, size: int, batch: int) -> tuple[Any, Any, Any]:
    """(model, x, y) for ``vgg`` (classifier, 50 classes) or ``fcn`` (FCN8s, 7 classes)."""
    import torch

    from ignite_zoo import zoo  # noqa: F401
    from ignite_zoo.zoo.model import build_model

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    if kind == "vgg":
        model = build_model({"backbone": {"type": "vgg16"}, "head": {"type": "classifier", "num_classes": 50}})
        y = torch.randint(0, 50, (batch,), generator=g)
    else:
        model = build_model({"backbone": {"type": "vgg16"}, "head": {"type": "fcn8s", "num_classes": 7}})
        y = torch.randint(0, 7, (batch, size, size), generator=g)
    x = torch.randn(batch, 3, size, size, generator=g)
    return model, x, y


def _steps(kind: str, size: int, batch: int) -> tuple[dict[str, Callable[[], float]], float]:
    """One callable per configuration running one train step, and the FLOPs of a step."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ignite_zoo.engines.optim import sgd
    from ignite_zoo.engines.trainer import StepConfig, make_train_step
    from ignite_zoo.registry import LOSSES

    model, x, y = _workload(kind, size, batch)
    variants = {False: model, True: copy.deepcopy(model).to(memory_format=torch.channels_last)}
    device = torch.device("cpu")
    loss_fn = LOSSES.build({"type": "cross_entropy"})
    engine = type("E", (), {"state": type("S", (), {"iteration": 1})()})()  # the step reads state.iteration
    # the recipes' SGD (momentum, weight decay); two configurations share each model variant
    optimizers = {cl: sgd(m.parameters(), lr=1e-3) for cl, m in variants.items()}
    steps: dict[str, Callable[[], float]] = {}
    for label, bf16, cl in CONFIGS:
        cfg = StepConfig(device=device, amp_dtype=torch.bfloat16 if bf16 else None, channels_last=cl)
        fn = make_train_step(variants[cl], optimizers[cl], loss_fn, cfg)

        def one(fn=fn) -> float:
            loss = fn(engine, (x, y))
            if not math.isfinite(loss):
                raise RuntimeError(f"compute bench: loss became {loss}")
            return loss

        steps[label] = one
    with FlopCounterMode(display=False) as counter:
        steps["bf16 + channels_last"]()
    return steps, float(counter.get_total_flops())


def measure(kind: str, size: int, batch: int, repeats: int) -> dict[str, Any]:
    peak_cases = matmul_cases(2048)
    steps, flops = _steps(kind, size, batch)
    cases = {**{f"peak {k}": v[0] for k, v in peak_cases.items()}, **steps}
    times = interleaved(cases, repeats=repeats, warmup=1)

    def peak_at(r: int, tag: str) -> float:
        return max(peak_cases[k][1] / times[f"peak {k}"][r] for k in peak_cases if k.startswith(tag + " ")) / 1e9

    out: dict[str, Any] = {"flops": flops, "gflops": {}, "fraction": {}, "seconds": {}, "peaks": {}}
    for k, (_, f) in peak_cases.items():
        out["peaks"][k] = f / median(times[f"peak {k}"]) / 1e9
    for tag in ("fp32", "bf16"):
        out["peaks"][tag] = median([peak_at(r, tag) for r in range(repeats)])
    for label, bf16, _ in CONFIGS:
        tag = "bf16" if bf16 else "fp32"
        out["seconds"][label] = median(times[label])
        out["gflops"][label] = flops / out["seconds"][label] / 1e9
        out["fraction"][label] = median([flops / times[label][r] / 1e9 / peak_at(r, tag) for r in range(repeats)])
    return out


def run(quick: bool = True, threads: int | None = None) -> list[dict[str, Any]]:
    import torch

    n_threads = threads or torch.get_num_threads()
    if quick:
        plans = [("vgg", "VGG16 classifier", 32, 8, 2), ("fcn", "FCN8s", 256, 1, 2)]
    else:
        plans = [("vgg", "VGG16 classifier", 32, 32, 5), ("fcn", "FCN8s", 512, 2, 3)]
    rows: list[dict[str, Any]] = []
    peak_rows: dict[str, list[float]] = {}
    results = {}
    for kind, title, size, batch, repeats in plans:
        with use_threads(n_threads):
            res = measure(kind, size, batch, repeats)
        results[kind] = res
        for k, v in res["peaks"].items():
            peak_rows.setdefault(k, []).append(v)
        what = f"{size}x{size} batch {batch}{' (quick)' if quick else ''}, {n_threads} threads"
        for label, bf16, _ in CONFIGS:
            rows.append(row(f"compute: {title} train step, {label}: GFLOP/s ({what})", res["gflops"][label], "GFLOP/s", digits=1))
        for label, bf16, _ in CONFIGS:
            tag = "bf16" if bf16 else "fp32"
            rows.append(row(f"compute: {title} train step, {label}: % of {tag} matmul peak ({what})",
                            100 * res["fraction"][label], "%", digits=1))
        if kind == "fcn":
            speed = res["seconds"]["fp32"] / res["seconds"]["bf16 + channels_last"]
            rows.append(row(f"compute: FCN8s train step speedup, bf16 + channels_last over fp32 ({what})",
                            speed, "x", ">= 1.7", digits=2))
            best = max(res["fraction"][lab] for lab, bf16, _ in CONFIGS if bf16)
            rows.append(row(f"compute: FCN8s train step, best bf16 configuration: % of bf16 matmul peak ({what})",
                            100 * best, "%", ">= 60", digits=1))
    cases = {k: median(v) for k, v in peak_rows.items() if k not in ("fp32", "bf16")}
    peaks = [row(f"compute: matmul peak {k} ({peak_source(k, cases)}; 2048x2048, {n_threads} threads; "
                 "median over both workloads' repeats)", median(v), "GFLOP/s", digits=1)
             for k, v in peak_rows.items() if k in ("fp32", "bf16")]
    detail = [row(f"compute: matmul {k} (2048x2048, {n_threads} threads)", median(v), "GFLOP/s", digits=1)
              for k, v in peak_rows.items() if k not in ("fp32", "bf16")]
    return peaks + detail + rows


if __name__ == "__main__":
    t = [int(a.split("=")[1]) for a in sys.argv if a.startswith("--threads=")]
    for r in run(quick="--quick" in sys.argv, threads=t[0] if t else None):
        print(f"{r['name']}: {r['value']} {r['unit']}" + (f"  [{r['target']}: {r['met']}]" if r["target"] else ""))
