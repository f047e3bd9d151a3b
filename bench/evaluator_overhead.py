"""Cost of a validation pass through the project's evaluator against a plain inference loop.

The ignite side is what a run does at a mask-snapshot epoch: ``engines.evaluator.create_evaluator``
with ``engines.metrics.segmentation_metrics`` (ignite's ConfusionMatrix over every pixel,
IoU / mIoU / pixel accuracy derived from it), the scalars flattened for the history, then
``MaskSnapshots.snapshot`` (three single-image predictions written as palette PNGs and
logged to TensorBoard). The plain side is what a user writes to get the predicted masks of
the set: ``model.eval()``, then per batch ``model(x).argmax(1)`` under
``inference_mode`` and the same autocast and memory format.

The two are interleaved batch by batch (a handler attached last to the evaluator's
ITERATION_COMPLETED runs one plain batch and times it; the evaluator's time is the pass's
wall time minus those), so load changes on a shared machine hit both alike. The model is
the real FCN8s (VGG16, fc6/fc7 4096 wide) at a reduced resolution, so the compute per
pixel, and with it the weight of the per-pixel metric work, is that of a real run; the
set has the size of the course's validation split (257 images).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import median, row, threads  # noqa: E402

CLASSES = 7
SNAPSHOT_IDS = ["0010", "0097", "0107"]
#: One intra-op thread, as for the trainer overhead: the framework's cost is single-threaded,
#: and 2-thread timings on a shared 2-core machine mostly measure OpenMP waiting for a core.
THREADS = 1


class _Set:
    """An in-memory segmentation set with the dataset contract MaskSnapshots reads."""

    def __init__(self, n: int, size: int, seed: int = 0) -> None:
        import torch

        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, size, size, generator=g)
        self.y = torch.randint(0, CLASSES, (n, size, size), generator=g)
        self.ids = [f"{i:04d}" for i in range(n)]
        self._index = {k: i for i, k in enumerate(self.ids)}
        self.classes = [str(c) for c in range(CLASSES)]
        self.num_classes = CLASSES
        from ignite_zoo.zoo.data.sat import landcover_info

        self.info = landcover_info()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]

    def index_of(self, id_: str) -> int:
        return self._index[id_]


def measure(n: int, size: int, batch: int, repeats: int) -> dict[str, Any]:
    import torch
    from ignite.engine import Events
    from torch.utils.data import DataLoader

    from ignite_zoo import zoo  # noqa: F401
    from ignite_zoo.engines.evaluator import create_evaluator
    from ignite.engine import Engine

    from ignite_zoo.engines.events import RunContext, RunEvents
    from ignite_zoo.engines.handlers.mask_snapshots import MaskSnapshots
    from ignite_zoo.engines.handlers.tensorboard import TensorBoard
    from ignite_zoo.engines.metrics import MetricSpec
    from ignite_zoo.engines.run_dir import RunDir
    from ignite_zoo.engines.metrics import flatten_metrics, segmentation_metrics
    from ignite_zoo.engines.predictor import PredictSettings, Predictor
    from ignite_zoo.engines.runtime import autocast, resolve_amp
    from ignite_zoo.engines.trainer import StepConfig
    from ignite_zoo.zoo.model import build_model

    torch.manual_seed(0)
    device = torch.device("cpu")
    cfg = StepConfig(device=device, amp_dtype=resolve_amp("auto", device), channels_last=True)
    model = build_model({"backbone": {"type": "vgg16"}, "head": {"type": "fcn8s", "num_classes": CLASSES}})
    model = model.to(memory_format=torch.channels_last)
    ds = _Set(n, size)
    loader = DataLoader(ds, batch_size=batch, shuffle=False, num_workers=0)
    metrics = segmentation_metrics(CLASSES, list(range(6)), device=device)
    predictor = Predictor.for_model(model, cfg, PredictSettings(mode="whole"))  # as validation builds it
    evaluator = create_evaluator(predictor, metrics, cfg)

    def plain_batch(x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(device, cfg.amp_dtype):
            return model(x).argmax(1)

    state: dict[str, Any] = {"it": None, "plain": 0.0}

    def interleave(engine: Any) -> None:
        if state["it"] is None:  # warm-up run
            return
        t0 = time.perf_counter()
        x, _ = next(state["it"])
        plain_batch(x)
        state["plain"] += time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        # the run's own handlers on a stand-in trainer: snapshots fire MASKS_SAVED, TensorBoard writes the images
        trainer = Engine(lambda e, b: None)
        trainer.register_events(*RunEvents)
        recipe = {"task": "segmentation", "train": {"epochs": 1, "log_every": 10}, "eval": {"miou_classes": None}}
        run = RunContext(recipe=recipe, trainer=trainer, evaluator=evaluator, model=model,
                         optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
                         to_save={}, metric=MetricSpec("mIoU"), val_ds=ds, step_cfg=cfg, run_dir=RunDir(tmp),
                         dataset_info=ds.info, predictor=predictor)
        tb = TensorBoard()
        tb.attach(run)
        snaps = MaskSnapshots(SNAPSHOT_IDS, [1])
        snaps.attach(run)

        def snapshot(epoch: int) -> None:
            trainer.state.epoch = epoch
            trainer.state.saved_masks = snaps.snapshot(epoch)
            trainer.fire_event(RunEvents.MASKS_SAVED)
        evaluator.add_event_handler(Events.ITERATION_COMPLETED, interleave)  # last: after the metrics

        def validation_pass(epoch: int) -> tuple[float, float, float]:
            model.eval()  # the plain loop's one-off; the evaluator's step does it per batch
            state["it"], state["plain"] = iter(loader), 0.0
            t0 = time.perf_counter()
            evaluator.run(loader)
            flatten_metrics(evaluator.state.metrics, ds.classes)
            snapshot(epoch)
            total = time.perf_counter() - t0
            return total - state["plain"], state["plain"], float(evaluator.state.metrics["mIoU"])

        try:
            with threads(THREADS):
                evaluator.run(DataLoader(torch.utils.data.Subset(ds, range(2 * batch)), batch_size=batch))
                plain_batch(ds.x[:batch])  # warm-up: kernels for these shapes, first-touch memory
                snapshot(0)
            ign, pln = [], []
            for r in range(repeats):
                with threads(THREADS):
                    a, b, miou = validation_pass(r + 1)
                ign.append(a)
                pln.append(b)
        finally:
            tb.logger.close()
    return {"ignite": ign, "plain": pln, "miou": miou, "amp": "bf16" if cfg.amp_dtype is not None else "fp32"}


def run(quick: bool = True) -> list[dict[str, Any]]:
    n, size, batch = 257, 64, 8
    repeats = 2 if quick else 5
    t = measure(n, size, batch, repeats)
    ratios = [a / b for a, b in zip(t["ignite"], t["plain"])]
    what = (f"FCN8s VGG16, {n} images {size}x{size} batch {batch}, {t['amp']} + channels_last, "
            f"{THREADS} thread, {repeats} passes interleaved by batch")
    return [
        row(f"evaluator: plain inference loop, s/pass ({what})", median(t["plain"]), "s"),
        row(f"evaluator: ignite evaluator + mIoU + 3 mask snapshots, s/pass ({what})", median(t["ignite"]), "s"),
        row("evaluator overhead: evaluator + mIoU + snapshots / plain loop (median of paired passes)",
            median(ratios), "x", "<= 1.05"),
    ]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
