"""Soak: many epochs through the real ``engines.launch.run_experiment``; memory and file handles stay flat.

The recipe is ``recipes/seg_demo.yaml`` shrunk to seconds per dozen epochs (VGG16 width
0.125, fc6/fc7 32 wide, 8 generated 32x32 tiles, batch 4) with every handler a run has
on: validation each epoch, checkpoints (last and best), history, TensorBoard, mask
snapshots at the first, middle and last epoch. The resident set is sampled at the end of
every epoch by a handler added next to the run's own epoch handler (the run itself is
unchanged), and open file descriptors are counted in ``/proc/self/fd`` before the run,
every epoch and after it. A 2-epoch run goes first, so that one-time caches (matplotlib
keeps the 2 font files of the mask grid open for the life of the process) are not counted
as growth of the measured run.

The target is a slope: at most 0.1 MiB per epoch over epochs 10-200 (least squares of RSS
against epoch), and no open file descriptor gained. ``--quick`` runs 20 epochs, too few
for a slope to mean much: its rows are indicative and carry no target.

    python bench/soak.py [--quick] [--json] [--epochs N]

bench/run.py runs it in a fresh process, so that the resident set is the soak run's alone
(not what other benchmarks left in the heap).
"""
from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import fd_count, rss_mib, row  # noqa: E402


def _recipe(tmp: Path, epochs: int) -> dict[str, Any]:
    from ignite_zoo.registry.recipe import load_recipe
    from ignite_zoo.zoo.data.synthetic import validation_ids

    n, val_fraction = 8, 0.25
    ids = [f"{i:04d}" for i in validation_ids(n, val_fraction)]
    overrides = [
        f"data.root={tmp / 'data'}",
        f"data.args={json.dumps({'n': n, 'size': 32, 'seed': 0, 'val_fraction': val_fraction})}",
        "model.backbone.width=0.125",
        "model.head.hidden=32",
        "model.input_size=[3, 32, 32]",
        f"train.epochs={epochs}",
        "train.threads=1",  # a tiny model: one thread is fastest, and steadier on a shared machine
        f"out.root={tmp / 'runs'}",
        "handlers.progress=false", "handlers.console=false",  # stdout carries the JSON result
        f"handlers.mask_snapshots.ids={json.dumps(ids)}",
    ]
    return load_recipe(ROOT / "recipes" / "seg_demo.yaml", overrides)


def soak(epochs: int) -> dict[str, Any]:
    import torch
    from ignite.engine import Events

    import ignite_zoo.engines.experiment as experiment
    from ignite_zoo.engines.launch import run_experiment

    samples: list[tuple[int, float, int]] = []  # (epoch, RSS MiB, open fds)
    original = experiment.attach_epoch_summary

    def attach_epoch_summary(t: Any) -> None:
        original(t)
        t.trainer.add_event_handler(Events.EPOCH_COMPLETED,
                                    lambda e: samples.append((e.state.epoch, rss_mib(), fd_count())))

    threads = torch.get_num_threads()
    quiet = {name: logging.getLogger(name).level
             for name in ("engines", "zoo", "ignite", "ignite.distributed.auto.auto_dataloader")}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as tmp:  # warm-up run: imports, one-time caches
            run_experiment(_recipe(Path(tmp), 2))
        with tempfile.TemporaryDirectory() as tmp:
            recipe = _recipe(Path(tmp), epochs)
            fds_before = fd_count()
            with mock.patch.object(experiment, "attach_epoch_summary", attach_epoch_summary):
                run_dir = run_experiment(recipe)
            fds_after = fd_count()
            checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt"))
    finally:
        torch.set_num_threads(threads)  # train.threads is process-wide
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
    return {"samples": samples, "fds_before": fds_before, "fds_after": fds_after, "checkpoints": checkpoints}


def rss_slope(samples: dict[int, float], first: int) -> float:
    """Least-squares slope of RSS (MiB) against epoch over the epochs from ``first`` on.

    A slope, not end minus start: one late allocation (a checkpoint buffer, a TensorBoard
    flush) moves the end point by megabytes without being a leak, while a leak of a few
    hundred KiB per epoch shows in every sample.
    """
    import statistics

    epochs = sorted(e for e in samples if e >= first)
    if len(epochs) < 2:
        raise ValueError(f"soak: a slope needs at least 2 epochs from epoch {first}, got {len(epochs)}")
    return statistics.linear_regression(epochs, [samples[e] for e in epochs]).slope


def rows_from(r: dict[str, Any], epochs: int, quick: bool) -> list[dict[str, Any]]:
    """The soak rows from ``soak()``'s result; targets only in the full mode (200 epochs)."""
    warm = min(10, epochs // 4)
    by_epoch = {e: (rss, fds) for e, rss, fds in r["samples"]}
    if len(by_epoch) != epochs:
        raise RuntimeError(f"soak: sampled {len(by_epoch)} epochs, expected {epochs}")
    rss_warm, rss_end = by_epoch[warm][0], by_epoch[epochs][0]
    rss_max = max(rss for e, (rss, _) in by_epoch.items() if e >= warm)
    fds_warm, fds_end = by_epoch[warm][1], by_epoch[epochs][1]
    slope = rss_slope({e: rss for e, (rss, _) in by_epoch.items()}, warm)
    what = f"{epochs} epochs of recipes/seg_demo.yaml shrunk to 32x32, checkpoints on"
    note = "; quick: indicative, no target" if quick else ""

    def target(t: str) -> str | None:
        return None if quick else t

    return [
        row(f"soak: RSS slope over epochs {warm}-{epochs}, least squares ({what}{note})", slope, "MiB/epoch",
            target("<= 0.1"), digits=4),
        row(f"soak: RSS at epoch {warm} ({what})", rss_warm, "MiB", digits=1),
        row(f"soak: RSS growth from epoch {warm} to the last epoch ({what})", rss_end - rss_warm, "MiB", digits=1),
        row(f"soak: largest RSS after epoch {warm} minus RSS at epoch {warm}", rss_max - rss_warm, "MiB", digits=1),
        row(f"soak: open file descriptors, epoch {warm} -> last epoch (growth{note})", fds_end - fds_warm, "fds",
            target("<= 0"), digits=0),
        row(f"soak: open file descriptors, before -> after the run (growth{note})", r["fds_after"] - r["fds_before"],
            "fds", target("<= 0"), digits=0),
    ]


def run(quick: bool = True) -> list[dict[str, Any]]:
    epochs = 20 if quick else 200
    return rows_from(soak(epochs), epochs, quick)


if __name__ == "__main__":
    args = sys.argv[1:]
    quick = "--quick" in args
    if "--epochs" in args:
        n = int(args[args.index("--epochs") + 1])
        r = soak(n)
        for e, rss, fds in r["samples"]:
            print(f"epoch {e:4d}  RSS {rss:8.1f} MiB  fds {fds}")
        print(f"fds before {r['fds_before']} after {r['fds_after']}; checkpoints {r['checkpoints']}")
        first = min(10, n // 4)
        slope = rss_slope({e: rss for e, rss, _ in r["samples"]}, first)
        print(f"RSS slope over epochs {first}-{n}: {slope:.4f} MiB/epoch")
    elif "--json" in args:
        from ignite_zoo.engines.runtime import keep_freed_memory

        keep_freed_memory()  # as bench/run.py and the run command do
        print(json.dumps(run(quick=quick)))
    else:
        for x in run(quick=quick):
            print(f"{x['name']}: {x['value']} {x['unit']}" + (f"  [{x['target']}: {x['met']}]" if x["target"] else ""))
