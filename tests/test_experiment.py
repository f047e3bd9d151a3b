"""Whole runs through engines.experiment: files written, TensorBoard contents, plugins, DDP."""
from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ignite_zoo.engines.checkpoint import load_model, read_checkpoint
from ignite_zoo.engines.run_dir import RunDir
from ignite_zoo.engines.launch import run_experiment
from ignite_zoo.registry.errors import RunError
from ignite_zoo.registry.recipe import load_recipe
from tests.helpers import DEMO, tiny_seg


def _rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("demo")
    recipe = load_recipe(DEMO, tiny_seg(tmp, "train.epochs=3", f"out.dir={tmp / 'run'}", "handlers.checkpoint.keep_last=2",
                                        'handlers.mask_snapshots.ids=["0002", "0006"]',
                                        "handlers.mask_snapshots.epochs=[1, 2, last]"))
    return run_experiment(recipe)


def test_demo_run_writes_every_promised_file(demo_run):
    rows = _rows(demo_run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for r in rows:
        assert 0.0 <= float(r["val/mIoU"]) <= 1.0
        assert float(r["train/loss"]) > 0
    assert {f"val/IoU/{c}" for c in ("Urban", "Agriculture", "Barren", "Unknown")} <= set(rows[0])
    summary = json.loads((demo_run / "metrics.json").read_text())
    assert summary["final"]["epoch"] == 3 and summary["metric"] == "val/mIoU" and summary["mode"] == "max"
    assert summary["best"]["val/mIoU"] == max(float(r["val/mIoU"]) for r in rows)
    assert summary["best_epoch"] == summary["best"]["epoch"] and summary["init"] == "random init"
    assert "epochs" not in summary  # the history is written once, in history.csv
    ckpts = sorted(p.name for p in (demo_run / "checkpoints").glob("*.pt"))
    assert "last_checkpoint_3.pt" in ckpts and "last_checkpoint_2.pt" in ckpts
    assert "last_checkpoint_1.pt" not in ckpts  # keep_last = 2
    assert len([c for c in ckpts if c.startswith("best_")]) == 1
    for epoch in (1, 2, 3):
        for id_ in ("0002", "0006"):
            assert (demo_run / "masks" / f"epoch_{epoch}" / f"{id_}_mask.png").is_file()
    assert (demo_run / "masks" / "grid.png").stat().st_size > 10_000
    assert (demo_run / "recipe.yaml").is_file()


def test_tensorboard_events_hold_scalars_and_images(demo_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(demo_run / "tb"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"val/mIoU", "val/pixel_acc", "train/loss", "lr/group_0", "val/IoU/Urban"} <= set(tags["scalars"])
    miou = [e.value for e in acc.Scalars("val/mIoU")]
    history = [float(r["val/mIoU"]) for r in _rows(demo_run)]
    assert miou == pytest.approx(history, abs=1e-5)
    assert [e.step for e in acc.Scalars("val/mIoU")] == [1, 2, 3]
    epoch_loss = acc.Scalars("train/epoch_loss")
    assert [e.step for e in epoch_loss] == [1, 2, 3]
    assert [e.value for e in epoch_loss] == pytest.approx([float(r["train/loss"]) for r in _rows(demo_run)], rel=1e-5)
    assert [e.step for e in acc.Scalars("epoch/lr")] == [1, 2, 3]
    assert {"masks/0002", "masks/0006"} <= set(tags["images"])
    assert "model/architecture/text_summary" in tags["tensors"]
    assert [e.step for e in acc.Images("masks/0002")] == [1, 2, 3]


def test_checkpoint_rebuilds_the_model_and_recipe(demo_run):
    model, recipe = load_model(demo_run / "checkpoints" / "last_checkpoint_3.pt")
    assert recipe["model"]["head"]["type"] == "fcn8s"
    ckpt = read_checkpoint(RunDir(demo_run).last_checkpoint())
    assert ckpt["trainer"]["iteration"] == 3 * ckpt["trainer"]["epoch_length"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, ckpt["model"][k])


def test_second_run_into_the_same_dir_never_overwrites(demo_run):
    recipe = load_recipe(DEMO, tiny_seg(demo_run.parent, f"out.dir={demo_run}"))
    before = (demo_run / "history.csv").read_text()
    with pytest.raises(RunError, match="already holds a run"):
        run_experiment(recipe)
    assert (demo_run / "history.csv").read_text() == before


def test_imports_plugin_head_trains_one_step(tmp_path, monkeypatch):
    plugin = tmp_path / "my_plugin_heads.py"
    plugin.write_text(textwrap.dedent('''
        from torch import nn
        from ignite_zoo.registry import HEADS
        from ignite_zoo.zoo.heads.common import Head, resize_to

        @HEADS.register("plugin_tiny_head")
        class TinyHead(Head):
            def __init__(self, feature_info, num_classes):
                super().__init__()
                self.score = nn.Conv2d(feature_info[-1].channels, num_classes, 1)

            def forward(self, features, size):
                return resize_to(self.score(features[-1]), size)
    '''))
    recipe_file = tmp_path / "plugin.yaml"
    recipe_file.write_text(f"_base_: {DEMO}\nimports: [my_plugin_heads]\n"
                           "model:\n  head: {_replace_: true, type: plugin_tiny_head, num_classes: 7}\n")
    overrides = [o for o in tiny_seg(tmp_path, "train.epochs=1", "train.max_iters_per_epoch=1",
                                     f"out.dir={tmp_path / 'run'}") if not o.startswith("model.head.")]
    recipe = load_recipe(recipe_file, overrides)
    run_dir = run_experiment(recipe, search_dir=tmp_path)
    rows = _rows(run_dir)
    assert len(rows) == 1 and float(rows[0]["train/loss"]) > 0
    model, _ = load_model(run_dir)
    assert type(model.head).__name__ == "TinyHead"


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    """2 CPU ranks (gloo) train and score as 1 process does on the same data.

    Training: 4 training tiles make one step of batch 4 (2 per rank), so both runs take the
    same SGD step (lr > 0) only if the ranks' gradients are averaged; no augmentation, no
    ignored pixels (every tile's loss weighs the same), no batch norm. Validation: 5 tiles
    (3 on one rank, 2 on the other) must each be scored exactly once. Every process computes
    with one thread (the thread count changes float summation order)."""
    results = {}
    with socket.socket() as busy:  # ignite's default port, taken (as by another run): a free one is picked
        try:
            busy.bind(("127.0.0.1", 2222))
            busy.listen()
        except OSError:
            pass  # already taken
        for nproc in (1, 2):
            recipe = load_recipe(DEMO, tiny_seg(tmp_path, "train.epochs=1", "data.args.n=9", "data.args.val_fraction=0.56",
                                                "data.loader.batch_size=4", "data.train.transforms=[]",
                                                "loss.ignore_index=255", "optim.type=sgd", "optim.lr=0.5", "sched=null",
                                                f"train.nproc_per_node={nproc}", f"out.dir={tmp_path / f'run{nproc}'}",
                                                "handlers.tensorboard.enabled=false", "train.amp=false",
                                                "handlers.mask_snapshots.epochs=[]",
                                                "model.backbone.type=vgg16", "train.threads=1"))
            run_dir = run_experiment(recipe)
            results[nproc] = _rows(run_dir)[-1]
    assert len(list((tmp_path / "demo_data" / "validation").glob("*_sat.jpg"))) == 5
    assert len(list((tmp_path / "demo_data" / "train").glob("*_sat.jpg"))) == 4
    one, two = results[1], results[2]
    assert float(two["train/loss"]) == pytest.approx(float(one["train/loss"]), rel=1e-4)
    # after the step (half the batch alone moves val/loss by ~3e-3 relative): the counts behind
    # mIoU and accuracy would be off by a whole tile if one were scored twice or missed
    assert float(two["val/loss"]) == pytest.approx(float(one["val/loss"]), rel=1e-4)
    for key in ("val/mIoU", "val/pixel_acc", "val/IoU/Urban", "val/IoU/Agriculture"):
        assert float(two[key]) == pytest.approx(float(one[key]), abs=1e-3), key


@pytest.mark.slow
def test_torchrun_runs_the_recipe_as_the_spawned_ranks_do(tmp_path):
    """``torchrun --nproc_per_node 2 tools/run.py`` (each process one rank, rank 0 choosing
    the run directory for all) trains exactly as ``train.nproc_per_node=2`` does."""
    from tests.helpers import REPO

    overrides = tiny_seg(tmp_path, "train.epochs=2", "handlers.tensorboard.enabled=false", "train.amp=false",
                         "model.backbone.type=vgg16", "train.threads=1")
    spawned = run_experiment(load_recipe(DEMO, [*overrides, "train.nproc_per_node=2", f"out.dir={tmp_path / 'spawned'}"]))
    root = tmp_path / "launched"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(REPO / "tools" / "run.py"), str(DEMO), *overrides, f"out.root={root}"],
        capture_output=True, text=True, timeout=300, cwd=str(REPO), env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [p for p in root.rglob("history.csv")]
    assert len(runs) == 1, runs  # one run directory for both ranks
    assert proc.stdout.count("run directory:") == 1, proc.stdout  # printed by rank 0 only
    launched, ref = _rows(runs[0].parent), _rows(spawned)
    assert [r["epoch"] for r in launched] == ["1", "2"]
    for got, want in zip(launched, ref):
        assert float(got["val/mIoU"]) == pytest.approx(float(want["val/mIoU"]), abs=1e-6)
        assert float(got["train/loss"]) == pytest.approx(float(want["train/loss"]), rel=1e-5)
    assert (runs[0].parent / "checkpoints" / "last_checkpoint_2.pt").is_file()

    failed_root = tmp_path / "failed"  # a user error in every rank: one line each, no run left behind
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(REPO / "tools" / "run.py"), str(DEMO), *overrides, "model.head.dropout=5", f"out.root={failed_root}"],
        capture_output=True, text=True, timeout=300, cwd=str(REPO), env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode != 0
    assert proc.stderr.count("error: model.head.dropout: expected a probability in [0, 1), got 5") == 2, proc.stderr[-3000:]
    assert "]: Traceback" not in proc.stderr, proc.stderr[-3000:]  # no rank's "[rankN]: Traceback ..."
    assert not list(failed_root.rglob("recipe.yaml")), list(failed_root.rglob("*"))


def test_checkpoints_left_by_a_crash_are_pruned_to_keep_last(tmp_path):
    """A crash can leave more files than keep_last (ignite prunes one per save): adopting
    them on resume drops the oldest at once and hands the rest to the handler."""
    from ignite.handlers import Checkpoint, DiskSaver

    from ignite_zoo.engines.handlers.checkpoint import adopt
    from ignite_zoo.engines.run_dir import checkpoint_epoch

    for e in (1, 2, 3, 4):
        (tmp_path / f"last_checkpoint_{e}.pt").write_bytes(b"x")
    handler = Checkpoint({"m": torch.nn.Linear(1, 1)}, DiskSaver(str(tmp_path), require_empty=False),
                         filename_prefix="last", n_saved=2)
    adopt(handler, sorted((checkpoint_epoch(p), p) for p in tmp_path.glob("last_*.pt")), keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_checkpoint_3.pt", "last_checkpoint_4.pt"]
    (saved,) = handler.state_dict().values()  # public state: (priority, filename) pairs
    assert [name for _, name in saved] == ["last_checkpoint_3.pt", "last_checkpoint_4.pt"]


def test_resume_loads_an_unwrapped_checkpoint_into_a_ddp_model(tmp_path, monkeypatch):
    """ignite's Checkpoint saves a DDP model's ``module`` state (no ``module.`` prefix), so a
    run with train.nproc_per_node > 1 must load its own checkpoint back into the DDP model."""
    import types

    import ignite.distributed as idist
    import torch.distributed as dist
    from ignite.engine import Engine
    from ignite.handlers import Checkpoint, DiskSaver

    from ignite_zoo.engines.experiment import resume_from
    from ignite_zoo.engines.launch import master_port

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.delenv("MASTER_PORT", raising=False)
    monkeypatch.setenv("MASTER_PORT", str(master_port()))  # a free one
    monkeypatch.setenv("LOCAL_RANK", "0")  # ignite would guess it from host names, with a warning
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        saved = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 2))
        engine = Engine(lambda e, b: None)
        engine.state.epoch = engine.state.iteration = 1
        from ignite_zoo.engines.checkpoint import RecipeState

        recipe = RecipeState(load_recipe(DEMO))  # a checkpoint carries its run's recipe
        Checkpoint({"model": saved, "other": torch.nn.Linear(1, 1), "recipe": recipe},
                   DiskSaver(str(tmp_path), require_empty=False), filename_prefix="last")(engine)
        ckpt = next(tmp_path.glob("last_*.pt"))
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 2))
        trainer = types.SimpleNamespace(state=types.SimpleNamespace(epoch=1, iteration=1))
        to_save = {"model": model, "other": torch.nn.Linear(1, 1)}
        resume_from(types.SimpleNamespace(model=model, to_save=to_save, trainer=trainer), ckpt)
        assert torch.equal(model.module.weight, saved.module.weight)
    finally:
        idist.get_world_size()  # ignite picks up the group now if it has not yet
        idist.finalize()  # destroys the group and puts ignite back to one process for later tests
        if dist.is_initialized():
            dist.destroy_process_group()


def test_a_user_error_in_a_spawned_rank_comes_back_as_one_line():
    from torch.multiprocessing import ProcessRaisedException

    from ignite_zoo.engines.launch import user_error_from_child
    from ignite_zoo.registry.errors import CheckpointError

    text = ("\n\n-- Process 1 terminated with the following error:\nTraceback (most recent call last):\n"
            '  File "x.py", line 1, in f\n    g()\n'
            "ignite_zoo.registry.errors.CheckpointError: run/last.pt does not fit this model; missing keys: a\n")
    err = user_error_from_child(ProcessRaisedException(text, 1, 1234))
    assert isinstance(err, CheckpointError)
    assert str(err) == "run/last.pt does not fit this model; missing keys: a (in training process 1)"
    other = ProcessRaisedException("...\nZeroDivisionError: division by zero\n", 0, 1)
    assert user_error_from_child(other) is other
