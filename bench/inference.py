"""Inference throughput of FCN32s/16s/8s and the peak memory of FCN8s training, at 512x512.

Throughput: ``engines.predictor.forward_logits`` (inference_mode, bf16 autocast,
channels_last: what validation and ``tools/predict.py`` run) plus the argmax to masks, on
the real VGG16 heads, the three models interleaved.

Peak memory: a fresh Python process builds FCN8s as a run does (channels_last model, the
recipes' SGD, malloc keeping freed memory), runs two bf16 train steps at 512x512 batch 8
(the second one holds the momentum buffers too) and reports its own peak resident set
(VmHWM, read from /proc). ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is no substitute here:
a forked child's high-water mark starts at the parent's resident set at fork time, and
this parent may already hold gigabytes from the other benchmarks.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import interleaved, median, row, threads as use_threads  # noqa: E402

CLASSES = 7
HEADS = ("fcn32s", "fcn16s", "fcn8s")


def throughput(size: int, batch: int, repeats: int) -> dict[str, float]:
    import torch

    from ignite_zoo import zoo  # noqa: F401
    from ignite_zoo.engines.predictor import forward_logits
    from ignite_zoo.engines.trainer import StepConfig
    from ignite_zoo.zoo.model import build_model

    torch.manual_seed(0)
    cfg = StepConfig(device=torch.device("cpu"), amp_dtype=torch.bfloat16, channels_last=True)
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    cases = {}
    for head in HEADS:
        model = build_model({"backbone": {"type": "vgg16"}, "head": {"type": head, "num_classes": CLASSES}})
        model = model.to(memory_format=torch.channels_last)
        cases[head] = lambda m=model: forward_logits(m, x, cfg).argmax(1)
    times = interleaved(cases, repeats=repeats, warmup=1)
    return {h: batch / median(t) for h, t in times.items()}


def _child(size: int, batch: int, steps: int, n_threads: int, width: float = 1.0, hidden: int = 4096) -> None:
    """Runs in the subprocess: FCN8s training steps, then prints its peak RSS as JSON.
    ``width`` / ``hidden``: the backbone's width and fc6/fc7's, for a run of the code at tiny size."""
    import torch

    from ignite_zoo import zoo  # noqa: F401
    from ignite_zoo.engines.optim import sgd
    from ignite_zoo.engines.runtime import keep_freed_memory
    from ignite_zoo.engines.trainer import StepConfig, make_train_step
    from ignite_zoo.registry import LOSSES
    from ignite_zoo.zoo.model import build_model

    keep_freed_memory()  # as a CPU run does
    torch.set_num_threads(n_threads)
    torch.manual_seed(0)
    model = build_model({"backbone": {"type": "vgg16", "width": width},
                         "head": {"type": "fcn8s", "num_classes": CLASSES, "hidden": hidden}})
    model = model.to(memory_format=torch.channels_last)
    cfg = StepConfig(device=torch.device("cpu"), amp_dtype=torch.bfloat16, channels_last=True)
    step = make_train_step(model, sgd(model.parameters(), lr=1e-3), LOSSES.build({"type": "cross_entropy"}), cfg)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, CLASSES, (batch, size, size))
    state = type("S", (), {"iteration": 0})()
    engine = type("E", (), {"state": state})()
    for i in range(steps):
        state.iteration = i + 1
        step(engine, (x, y))
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"peak_mib": hwm / 1024}))


def training_peak_rss(size: int, batch: int, steps: int, n_threads: int, width: float = 1.0,
                      hidden: int = 4096) -> float:
    """Peak RSS in MiB that the child reports."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--rss-child", str(size), str(batch), str(steps), str(n_threads),
         str(width), str(hidden)],
        capture_output=True, text=True, cwd=str(ROOT), check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"FCN8s memory child failed ({out.returncode}): {out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"])


def run(quick: bool = True, threads: int | None = None) -> list[dict[str, Any]]:
    import torch

    n_threads = threads or torch.get_num_threads()
    size = 512
    batch, repeats = (1, 2) if quick else (4, 5)
    with use_threads(n_threads):
        ips = throughput(size, batch, repeats)
    what = f"{size}x{size} batch {batch}, bf16 + channels_last, inference_mode, {n_threads} threads"
    rows = [row(f"inference: {h.upper().replace('S', 's')} images/s ({what})", v, "images/s", digits=2)
            for h, v in ips.items()]
    rss_batch = 2 if quick else 8
    reported = training_peak_rss(size, rss_batch, 2, n_threads)
    label = f"FCN8s training {size}x{size} batch {rss_batch}, bf16 + channels_last, 2 steps, in a subprocess"
    if quick:
        rows.append(row(f"memory: peak RSS of {label} (quick: batch 2, the 8 GiB target is for batch 8)",
                        reported / 1024, "GiB", None, digits=2))
    else:
        rows.append(row(f"memory: peak RSS of {label}", reported / 1024, "GiB", "< 8", digits=2))
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--rss-child":
        size, batch, steps, n_threads, width, hidden = sys.argv[2:8]
        _child(int(size), int(batch), int(steps), int(n_threads), float(width), int(hidden))
    else:
        for r in run(quick="--quick" in sys.argv):
            print(f"{r['name']}: {r['value']} {r['unit']}" + (f"  [{r['target']}: {r['met']}]" if r["target"] else ""))
