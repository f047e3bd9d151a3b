"""A run that fails costs minutes, never the run: NaN loss, an unwritable or full disk, two
runs started at once, and a checkpoint of another recipe each stop with a message that says
what happened, and every checkpoint written before is still there and loads.

Tiny in-process runs (1/8-width VGG16, 32x32 tiles, 2 iterations per epoch); faults come
from a plugin loss named in the recipe's ``imports:`` or from patching ``torch.save``.
"""
from __future__ import annotations

import errno
import multiprocessing
import os
import shutil
import signal
import subprocess
import textwrap
import types
import uuid
from pathlib import Path

import pytest
import torch

import ignite_zoo.engines.experiment as experiment
import ignite_zoo.engines.run_dir as run_dir_module
from ignite_zoo.engines.checkpoint import load_model, read_checkpoint
from ignite_zoo.engines.launch import run_experiment
from ignite_zoo.engines.run_dir import prepare_run_dir
from ignite_zoo.registry.errors import CheckpointError, RunError
from ignite_zoo.registry.recipe import load_recipe
from tests.cli_check import start_paused_run, user_error
from tests.helpers import DEMO, tiny_seg

ITERS = 2  # training iterations per epoch (train.max_iters_per_epoch)
FAST = ("train.max_iters_per_epoch=2", "handlers.tensorboard.enabled=false", "handlers.mask_snapshots.epochs=[]",
        "train.threads=1")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One folder whose ``demo_data`` the synthetic dataset generates once for every test here."""
    return tmp_path_factory.mktemp("run_failures")


def recipe(data_dir: Path, *extra: str) -> dict:
    return load_recipe(DEMO, tiny_seg(data_dir, *FAST, *extra))


def checkpoints(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").iterdir())


def assert_loads_finite(path: Path) -> None:
    model, _ = load_model(path)
    for name, value in model.state_dict().items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), f"{path.name}: {name} is not finite"


# --------------------------------------------------------------------------------------
# NaN loss
# --------------------------------------------------------------------------------------
NAN_PLUGIN = '''
"""Test plugin: cross-entropy that turns NaN after ``good_steps`` training steps, on every
process or on rank ``only_rank`` alone (calls on logits without a graph, the pre-flight's and
validation's, do not count)."""
import ignite.distributed as idist
import torch

from ignite_zoo.registry import LOSSES
from ignite_zoo.zoo.losses import CrossEntropyLoss


@LOSSES.register("{name}")
def nan_later(good_steps, only_rank=None, **kwargs):
    inner = CrossEntropyLoss(**kwargs)
    calls = [0]

    def loss(logits, target):
        calls[0] += logits.requires_grad  # training steps only (not pre-flight, validation)
        value = inner(logits, target)
        here = only_rank is None or idist.get_rank() == only_rank
        return value * float("nan") if here and calls[0] > good_steps else value

    return loss
'''


def test_nan_loss_stops_the_run_naming_epoch_and_iteration_and_keeps_the_last_good_checkpoint(data_dir, tmp_path):
    module = f"nan_loss_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(NAN_PLUGIN.format(name=module)))
    run = tmp_path / "run"
    r = recipe(data_dir, "train.epochs=3", f"imports=[{module}]", f"loss.type={module}", f"loss.good_steps={ITERS}",
               f"out.dir={run}")
    with pytest.raises(RunError) as e:
        run_experiment(r, search_dir=tmp_path)
    msg = str(e.value)
    assert "loss became nan" in msg and f"epoch 2, iteration {ITERS + 1}" in msg, msg
    assert "last good checkpoint is kept" in msg
    assert not [n for n in checkpoints(run) if "_2" in n], checkpoints(run)  # nothing of the NaN epoch
    last = run / "checkpoints" / "last_checkpoint_1.pt"
    assert last.is_file()
    assert_loads_finite(last)
    assert read_checkpoint(last)["trainer"]["iteration"] == ITERS
    assert len((run / "history.csv").read_text().strip().splitlines()) == 2  # header + epoch 1


@pytest.mark.slow
def test_nan_on_one_rank_never_checkpoints_the_nan_weights(data_dir, tmp_path):
    """Rank 1's loss turns NaN on the last step of epoch 2 and its guard stops it. Rank 0's
    loss of that step is finite, but the gradient all-reduce has made its weights NaN; it
    must not checkpoint them. It cannot: the epoch's loss ``Average`` is all-reduced at the
    epoch's end, before any checkpoint handler, and rank 1 is gone (no validation in epoch 2
    to stop it earlier)."""
    module = f"nan_rank1_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(NAN_PLUGIN.format(name=module)))
    run = tmp_path / "run"
    r = recipe(data_dir, "train.epochs=3", "train.nproc_per_node=2", "train.amp=false", "model.backbone.type=vgg16",
               "eval.every=3",  # no validation (whose all-reduce would hold rank 0) before epoch 2's checkpoint
               f"imports=[{module}]", f"loss.type={module}", f"loss.good_steps={2 * ITERS - 1}", "loss.only_rank=1", f"out.dir={run}")
    with pytest.raises(RunError) as e:
        run_experiment(r, search_dir=tmp_path)
    msg = str(e.value)
    assert f"epoch 2, iteration {2 * ITERS}" in msg and "in training process" in msg, msg
    assert "loss became nan" in msg, msg
    assert not [n for n in checkpoints(run) if "_2" in n], checkpoints(run)  # nothing of the NaN epoch
    assert_loads_finite(run / "checkpoints" / "last_checkpoint_1.pt")
    assert len((run / "history.csv").read_text().strip().splitlines()) == 2  # header + epoch 1


# --------------------------------------------------------------------------------------
# the run directory cannot be written
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["out.root", "out.dir"])
def test_unwritable_run_dir_is_reported_before_anything_is_built(data_dir, tmp_path, monkeypatch, key):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    target = blocker / "runs"

    def never(*a, **k):
        raise AssertionError("training was set up although the run directory cannot be written")

    monkeypatch.setattr(experiment, "build_training", never)
    with pytest.raises(RunError) as e:
        run_experiment(recipe(data_dir, f"{key}={target}"))
    msg = str(e.value)
    assert str(target) in msg and "not writable" in msg and "out.root or out.dir" in msg, msg
    assert blocker.read_text() == "not a folder"


# --------------------------------------------------------------------------------------
# disk full while writing a checkpoint
# --------------------------------------------------------------------------------------
def test_disk_full_during_a_checkpoint_write_keeps_the_previous_one(data_dir, tmp_path, monkeypatch):
    """keep_last=1 is the hard case: ignite removes the old file before writing the new one."""
    real_save = torch.save
    failed: list[str] = []

    def save(obj, f, *a, **kw):
        trainer = obj.get("trainer") if isinstance(obj, dict) else None
        if trainer and trainer["iteration"] > trainer["epoch_length"]:  # epoch 2 on
            f.write(b"the first bytes of a checkpoint")  # a partial temporary file
            failed.append(getattr(f, "name", "?"))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **kw)

    monkeypatch.setattr(torch, "save", save)
    run = tmp_path / "run"
    r = recipe(data_dir, "train.epochs=3", "handlers.checkpoint.keep_last=1", "handlers.checkpoint.keep_best=1",
               f"out.dir={run}")
    with pytest.raises(RunError) as e:
        run_experiment(r)
    msg = str(e.value)
    assert failed, "the patched torch.save was never asked for epoch 2"
    assert msg.startswith("disk full: cannot write checkpoint") and str(run / "checkpoints") in msg, msg
    assert "_checkpoint_2" in msg and "No space left on device" in msg and "resume=auto" in msg, msg
    monkeypatch.setattr(torch, "save", real_save)
    names = checkpoints(run)
    assert "last_checkpoint_1.pt" in names and [n for n in names if n.startswith("best_checkpoint_1_")], names
    assert not [n for n in names if "_2" in n or n.startswith("tmp")], names  # no partial file left
    assert_loads_finite(run / "checkpoints" / "last_checkpoint_1.pt")


# --------------------------------------------------------------------------------------
# two runs started in the same second
# --------------------------------------------------------------------------------------
STAMP = "20250101-120000"


def test_two_runs_started_in_the_same_second_get_their_own_directories(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(run_dir_module, "time", types.SimpleNamespace(strftime=lambda fmt: STAMP))
    root = tmp_path / "runs"
    r = recipe(data_dir, "train.epochs=1", "train.max_iters_per_epoch=1", f"out.root={root}")
    first = run_experiment(r)
    history = (first / "history.csv").read_text()
    second = run_experiment(r)
    assert first != second
    assert (first.name, second.name) == (STAMP, f"{STAMP}-2")
    assert (first / "history.csv").read_text() == history
    for d in (first, second):
        assert (d / "recipe.yaml").is_file() and (d / "checkpoints" / "last_checkpoint_1.pt").is_file()


def _claim_dirs(recipe_out: dict, barrier, queue, n: int) -> None:
    run_dir_module.time = types.SimpleNamespace(strftime=lambda fmt: STAMP)
    barrier.wait()
    try:
        queue.put([str(prepare_run_dir({"resume": None, "out": recipe_out})[0]) for _ in range(n)])
    except Exception as e:  # noqa: BLE001 - reported by the test
        queue.put(f"{type(e).__name__}: {e}")


def test_runs_racing_for_the_same_second_never_share_a_directory(tmp_path):
    """Two processes claim run directories with the same timestamp at once: every claim is distinct."""
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    out = {"root": str(tmp_path), "name": "race", "dir": None}
    procs = [ctx.Process(target=_claim_dirs, args=(out, barrier, queue, 150)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    for res in results:
        assert isinstance(res, list), res
    claimed = results[0] + results[1]
    assert len(set(claimed)) == len(claimed) == 300


# --------------------------------------------------------------------------------------
# a checkpoint of another recipe
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fcn32s_run(data_dir) -> Path:
    return run_experiment(recipe(data_dir, "train.epochs=1", "model.head.type=fcn32s",
                                 f"out.dir={data_dir / 'fcn32s_run'}"))


@pytest.mark.parametrize("change, expected", [
    (["model.head.type=fcn8s"], ["missing keys: head.score_pool4.weight", "unexpected keys: head.upscore.weight"]),
    (["model.head.hidden=16"], ["shape mismatches: ", "(32, ", "vs model (16, "]),
])
def test_resume_from_another_recipes_checkpoint_lists_the_keys_and_changes_nothing(data_dir, fcn32s_run,
                                                                                   change, expected):
    ckpt = fcn32s_run / "checkpoints" / "last_checkpoint_1.pt"
    before = {p.name: p.read_bytes() for p in (fcn32s_run / "recipe.yaml", ckpt)}
    names = checkpoints(fcn32s_run)
    with pytest.raises(CheckpointError) as e:
        run_experiment(recipe(data_dir, "train.epochs=2", "model.head.type=fcn32s", *change, f"resume={ckpt}"))
    msg = str(e.value)
    assert str(ckpt) in msg and "does not fit this model" in msg and "different recipe" in msg, msg
    for fragment in expected:
        assert fragment in msg, msg
    # the first run is untouched: same recipe.yaml (not the failed resume's), same checkpoint
    assert {p.name: p.read_bytes() for p in (fcn32s_run / "recipe.yaml", ckpt)} == before
    assert checkpoints(fcn32s_run) == names


# --------------------------------------------------------------------------------------
# through the command line: disk full (injected and real), SIGTERM
# --------------------------------------------------------------------------------------
def _cli_args(data_dir: Path, *extra: str) -> list[str]:
    return tiny_seg(data_dir, *FAST, *extra)


def test_disk_full_reported_by_torch_save_as_runtime_error_then_resume_auto_finishes(capsys, data_dir, tmp_path,
                                                                                     monkeypatch):
    """On a full disk ``torch.save`` raises RuntimeError ("file write failed"), not OSError."""
    real_save = torch.save

    def save(obj, f, *a, **kw):
        trainer = obj.get("trainer") if isinstance(obj, dict) else None
        if trainer and trainer["iteration"] > trainer["epoch_length"]:  # epoch 2
            f.write(b"the first bytes")
            raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0: "
                               "PytorchStreamWriter failed writing file data/0: file write failed")
        return real_save(obj, f, *a, **kw)

    run = tmp_path / "run"
    args = _cli_args(data_dir, "train.epochs=2", "handlers.checkpoint.keep_last=1", f"out.dir={run}")
    monkeypatch.setattr(torch, "save", save)
    message = user_error(capsys, "run", DEMO, *args,
                         expect=["error: disk full: cannot write checkpoint", str(run / "checkpoints"),
                                 "PytorchStreamWriter failed writing file data/0: file write failed", "needs about",
                                 "MiB", "resume=auto"])
    assert message.count(str(run / "checkpoints")) >= 2, message  # the file and the folder that needs the bytes
    monkeypatch.setattr(torch, "save", real_save)
    assert checkpoints(run)[-1] == "last_checkpoint_1.pt" and not [n for n in checkpoints(run) if "tmp" in n]
    assert_loads_finite(run / "checkpoints" / "last_checkpoint_1.pt")
    assert not (run / ".lock").exists()
    run_experiment(load_recipe(DEMO, [*args, "resume=auto"]))
    assert "last_checkpoint_2.pt" in checkpoints(run) and "last_checkpoint_1.pt" not in checkpoints(run)
    assert len((run / "history.csv").read_text().strip().splitlines()) == 3  # header + epochs 1 and 2


@pytest.fixture
def small_disk(tmp_path):
    """A real size-limited file system (tmpfs), mounted at ``tmp_path/disk``; resized with
    ``small_disk(size_kib)``."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a size-limited tmpfs needs root and mount(8); the injected RuntimeError test covers the logic")
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({probe.stderr.strip()})")

    def resize(kib: int) -> Path:
        subprocess.run(["mount", "-o", f"remount,size={kib}k", str(disk)], check=True)
        return disk

    try:
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_real_full_disk_keeps_the_last_checkpoint_and_resume_auto_finishes(capsys, data_dir, fcn32s_run,
                                                                             small_disk):
    """Room for epoch 1's checkpoints but not for epoch 2's last one (written before the old is removed)."""
    sizes = {p.name.split("_")[0]: p.stat().st_size for p in (fcn32s_run / "checkpoints").iterdir()}
    disk = small_disk((sizes["last"] + sizes["best"] + sizes["last"] // 2) // 1024 + 64)
    run = disk / "run"
    args = _cli_args(data_dir, "train.epochs=2", "model.head.type=fcn32s", "handlers.checkpoint.keep_last=1",
                     f"out.dir={run}")  # the model of fcn32s_run, whose checkpoint sizes set the disk's
    user_error(capsys, "run", DEMO, *args,
               expect=["error: disk full: cannot write checkpoint", str(run / "checkpoints"), "needs about", "free",
                       "resume=auto"])
    assert "last_checkpoint_1.pt" in checkpoints(run) and not [n for n in checkpoints(run) if "tmp" in n]
    assert_loads_finite(run / "checkpoints" / "last_checkpoint_1.pt")
    assert not (run / ".lock").exists()
    small_disk(64 * 1024)  # space freed
    run_experiment(load_recipe(DEMO, [*args, "resume=auto"]))
    assert "last_checkpoint_2.pt" in checkpoints(run)
    assert len((run / "history.csv").read_text().strip().splitlines()) == 3


@pytest.mark.slow
def test_sigterm_before_the_first_checkpoint_leaves_no_run_directory(data_dir, tmp_path):
    out_root = tmp_path / "runs"
    proc, _ = start_paused_run(tmp_path, 1, *_cli_args(data_dir, "train.epochs=2", f"out.root={out_root}"))
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted (stopped by SIGTERM)", err[-3000:]
    assert not [p for p in out_root.rglob("*") if p.is_file()], list(out_root.rglob("*"))
    assert not list(out_root.glob("*/*")), list(out_root.rglob("*"))  # no run directory either
