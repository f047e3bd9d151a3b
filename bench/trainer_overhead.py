"""Per-iteration cost of the ignite trainer against a plain PyTorch loop.

Both sides run the same model, the same optimizer object, the same DataLoader and the
project's own step function (``engines.trainer.make_train_step``: autocast, channels_last,
backward, optimizer step, ``loss.item()``). The ignite side is
``engines.trainer.create_trainer`` (a ``DeterministicEngine``, as runs use) with the
handlers a run attaches that fire every iteration or epoch: NanGuard, the epoch loss
``Average``, TensorBoard's loss/lr logging (every ``log_every`` = 10 iterations), the
progress bar (to /dev/null, on the run's time-filtered event) and the per-epoch
reseeding. The plain loop keeps the bookkeeping a user would write (sum of losses, a
finiteness check).

The two alternate epoch by epoch (ABBA order, 50 iterations each; the ignite side is one
``trainer.run`` per epoch, so its per-run setup is counted too) and the median of the
paired ratios is the result. The target row uses the main thread's CPU time
(``time.thread_time``): on a shared machine the wall time of a single-threaded epoch also
holds however long other processes had the core, which scatters paired ratios by several
percent; the wall-time ratio is reported beside it. Work that handlers hand to other
threads (TensorBoard's event writer) is not in the CPU time; on a 2-core machine it runs
beside the step.

The model is a narrow VGG16 classifier at 32x32 on one thread, so the step is short (about
10 ms) and the framework's per-iteration cost is as visible as it gets.
"""
from __future__ import annotations

import gc
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import median, row, threads  # noqa: E402

BATCH = 32
SIZE = 32
CLASSES = 10
EPOCH_LEN = 50  # iterations per epoch (real epochs hold 100s); TensorBoard writes every 10
#: One intra-op thread: the framework's cost is single-threaded Python either way, and on a
#: shared 2-core machine a 2-thread step of a few milliseconds mostly measures how long
#: OpenMP waits for its second thread to be scheduled (100x swings were seen).
THREADS = 1


def _setup() -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from ignite_zoo import zoo  # noqa: F401
    from ignite_zoo.engines.optim import sgd
    from ignite_zoo.engines.runtime import resolve_amp
    from ignite_zoo.engines.trainer import StepConfig, make_train_step
    from ignite_zoo.registry import LOSSES
    from ignite_zoo.zoo.model import build_model

    torch.manual_seed(0)
    device = torch.device("cpu")
    model = build_model({"backbone": {"type": "vgg16", "width": 0.125},
                         "head": {"type": "classifier", "num_classes": CLASSES, "hidden": 256}})
    model = model.to(memory_format=torch.channels_last)
    cfg = StepConfig(device=device, amp_dtype=resolve_amp("auto", device), channels_last=True)
    optimizer = sgd(model.parameters(), lr=0.01)
    loss_fn = LOSSES.build({"type": "cross_entropy"})
    n = EPOCH_LEN * BATCH
    ds = TensorDataset(torch.randn(n, 3, SIZE, SIZE), torch.randint(0, CLASSES, (n,)))
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True, drop_last=True, num_workers=0)
    return {"model": model, "cfg": cfg, "optimizer": optimizer, "loss_fn": loss_fn, "loader": loader,
            "step": make_train_step(model, optimizer, loss_fn, cfg)}


def _plain(s: dict[str, Any]):
    """One epoch of the plain loop per call; returns the epoch's mean loss."""
    step, loader = s["step"], s["loader"]
    engine = SimpleNamespace(state=SimpleNamespace(iteration=0))  # the step reads state.iteration

    def epoch() -> float:
        total, count = 0.0, 0
        for batch in loader:
            engine.state.iteration += 1
            loss = step(engine, batch)
            if not math.isfinite(loss):
                raise RuntimeError(f"plain loop: loss became {loss}")
            total += loss
            count += 1
        return total / count

    return epoch


def _trainer(s: dict[str, Any], log_dir: str):
    """The trainer with a run's per-iteration and per-epoch handlers; returns (trainer, close)."""
    from ignite.engine import Events
    from ignite.handlers import ProgressBar
    from ignite.metrics import Average
    from ignite.utils import manual_seed

    from ignite_zoo.engines.events import RunContext, RunEvents
    from ignite_zoo.engines.handlers.nan_guard import NanGuard
    from ignite_zoo.engines.handlers.progress import progress_event
    from ignite_zoo.engines.handlers.tensorboard import TensorBoard
    from ignite_zoo.engines.metrics import MetricSpec
    from ignite_zoo.engines.run_dir import RunDir
    from ignite_zoo.engines.trainer import create_trainer

    trainer = create_trainer(s["model"], s["optimizer"], s["loss_fn"], s["cfg"])
    trainer.register_events(*RunEvents)
    run = RunContext(recipe={"train": {"log_every": 10}}, trainer=trainer, evaluator=None, model=s["model"],
                     optimizer=s["optimizer"], to_save={}, metric=MetricSpec("accuracy"), val_ds=None,
                     step_cfg=s["cfg"], run_dir=RunDir(log_dir))
    NanGuard().attach(run)
    Average(output_transform=lambda loss: loss, device=s["cfg"].device).attach(trainer, "train_loss")
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: manual_seed(e.state.seed + 7919 * e.state.epoch))
    tb = TensorBoard(log_every=10)
    tb.attach(run)
    devnull = open(os.devnull, "w")
    ProgressBar(persist=False, desc="train", file=devnull).attach(trainer, output_transform=lambda loss: {"loss": loss},
                                                                 event_name=progress_event())

    def close() -> None:
        tb.logger.close()
        devnull.close()

    return trainer, close


def measure(pairs: int) -> dict[str, list[float]]:
    """Per-epoch times of the trainer and the plain loop: ``ignite``/``plain`` in the main
    thread's CPU seconds, ``ignite_wall``/``plain_wall`` in wall seconds."""
    s = _setup()
    out: dict[str, list[float]] = {"ignite": [], "plain": [], "ignite_wall": [], "plain_wall": []}
    with tempfile.TemporaryDirectory() as tmp, threads(THREADS):
        trainer, close = _trainer(s, tmp)
        cases = {"ignite": lambda: trainer.run(s["loader"], max_epochs=1), "plain": _plain(s)}
        try:
            for f in cases.values():  # warm-up
                f()
            for r in range(pairs):
                for name in (("ignite", "plain") if r % 2 == 0 else ("plain", "ignite")):
                    gc.collect()
                    c, w = time.thread_time(), time.perf_counter()
                    cases[name]()
                    out[name].append(time.thread_time() - c)
                    out[name + "_wall"].append(time.perf_counter() - w)
        finally:
            close()
    return out


def run(quick: bool = True) -> list[dict[str, Any]]:
    pairs = 10 if quick else 40
    t = measure(pairs)
    ratios = [a / b for a, b in zip(t["ignite"], t["plain"])]
    wall = [a / b for a, b in zip(t["ignite_wall"], t["plain_wall"])]
    amp = "bf16"
    try:
        from ignite_zoo.engines.runtime import cpu_has_bf16

        amp = "bf16" if cpu_has_bf16() else "fp32"
    except ImportError:
        pass
    what = (f"VGG16 width 0.125 classifier, {SIZE}x{SIZE} batch {BATCH}, {amp} + channels_last, "
            f"{THREADS} thread, {pairs} ABBA pairs of {EPOCH_LEN}-iteration epochs")
    return [
        row(f"trainer: plain PyTorch loop, CPU ms/iteration ({what})", median(t["plain"]) / EPOCH_LEN * 1e3, "ms"),
        row(f"trainer: ignite trainer + run handlers, CPU ms/iteration ({what})",
            median(t["ignite"]) / EPOCH_LEN * 1e3, "ms"),
        row("trainer overhead: ignite / plain loop, wall time (median of paired epochs)", median(wall), "x"),
        row("trainer overhead: ignite / plain loop, CPU time (median of paired epochs)", median(ratios), "x", "<= 1.02"),
    ]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
