"""Runs started where they must not be, resumed with other settings, or given component
arguments the component cannot use: each is one ``error:`` line (exit 2) naming the key, the
value and what was expected, and no file anywhere is written, changed or removed."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli_check import no_run_left, snapshot, user_error
from tests.helpers import DEMO, call_tool, tiny_seg

ONE_STEP = ["train.epochs=1", "train.max_iters_per_epoch=1", "handlers.mask_snapshots.epochs=[]", "train.threads=1"]
ADAM = "optim={_delete_: true, type: adam, lr: 0.001}"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs_rules")


@pytest.fixture(scope="module")
def adam_run(data_dir) -> Path:
    """A finished one-epoch run trained with Adam under the poly schedule (TensorBoard on)."""
    from ignite_zoo.engines.launch import run_experiment
    from ignite_zoo.registry.recipe import load_recipe

    return run_experiment(load_recipe(DEMO, tiny_seg(data_dir, *ONE_STEP, ADAM, f"out.dir={data_dir / 'adam'}")))


# -- resume compares the new settings with the checkpoint's -------------------------------
@pytest.mark.parametrize("change, fragments", [
    (["optim={_delete_: true, type: sgd, lr: 0.01, momentum: 0.9}"],
     ["optim.type: 'adam' -> 'sgd'", "optim.momentum: (not set) -> 0.9"]),
    ([ADAM.replace("0.001", "0.01")], ["optim.lr: 0.001 -> 0.01"]),
    (["sched={_delete_: true, type: cosine}"], ["sched.type: 'poly' -> 'cosine'"]),
    (["loss.label_smoothing=0.1"], ["loss.label_smoothing: (not set) -> 0.1"]),
    (["train.epochs=3"], ["train.epochs=1 under sched 'poly'", "train.epochs=3 would train past the schedule's "
                          "end (lr 0)", "resume with train.epochs=1"]),
])
def test_resume_with_other_training_settings_is_refused_and_changes_nothing(capsys, data_dir, adam_run, change,
                                                                          fragments):
    """Later overrides win: each case changes one thing of the run's own settings (ADAM, 2 epochs:
    1 more than done, so the run would train)."""
    before = snapshot(adam_run)
    user_error(capsys, "run", DEMO, *tiny_seg(data_dir, *ONE_STEP, ADAM, "train.epochs=2", *change,
                                              f"out.dir={adam_run}", "resume=auto", "handlers.tensorboard.enabled=true"),
               expect=[f"resume: {adam_run / 'checkpoints'}", *fragments])
    assert snapshot(adam_run) == before  # recipe.yaml, TensorBoard files, checkpoints: byte-identical


def test_how_a_run_is_carried_out_may_change_on_resume():
    """Device, threads, handlers, logging: not what is trained, so they never block a resume."""
    from ignite_zoo.engines.resume_check import check_resume_settings
    from ignite_zoo.registry.recipe import load_recipe

    old = load_recipe(DEMO, ["sched=null", "train.epochs=1"])
    new = load_recipe(DEMO, ["sched=null", "train.epochs=4", "train.threads=1", "train.device=cpu",
                             "handlers.tensorboard.enabled=false", "train.log_every=1", "resume=auto"])
    check_resume_settings(old, new, "ckpt.pt")  # more epochs without a schedule spanning the run: fine


# -- the output-folder rule for runs -------------------------------------------------------
def test_out_root_inside_the_dataset_is_refused(capsys, data_dir, adam_run):
    data = data_dir / "demo_data"
    before = snapshot(data)
    user_error(capsys, "run", DEMO, *tiny_seg(data_dir, *ONE_STEP, f"out.root={data / 'runs'}"),
               expect=[f"out.root={data / 'runs'}: shares a folder with the dataset", f"data.root={data}"])
    assert snapshot(data) == before and not (data / "runs").exists()


def test_out_dir_as_the_dataset_root_is_refused(capsys, data_dir, adam_run):
    data = data_dir / "demo_data"
    before = snapshot(data)
    user_error(capsys, "run", DEMO, *tiny_seg(data_dir, *ONE_STEP, f"out.dir={data}"),
               expect=[f"out.dir={data}: shares a folder with the dataset"])
    assert snapshot(data) == before


def test_relative_paths_are_compared_resolved(capsys, data_dir, adam_run, monkeypatch):
    monkeypatch.chdir(data_dir)
    user_error(capsys, "run", DEMO, *ONE_STEP, *tiny_seg(Path("."), "out.root=demo_data/sub/../runs"),
               expect=["shares a folder with the dataset"])
    assert not (data_dir / "demo_data" / "runs").exists()


def test_out_dir_holding_someone_elses_files_is_refused(capsys, data_dir, tmp_path, adam_run):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    user_error(capsys, "run", DEMO, *tiny_seg(data_dir, *ONE_STEP, f"out.dir={mine}"),
               expect=[f"out.dir={mine}: holds files that are not a run (notes.txt)", "new or empty"])
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_export_into_its_input_run_is_refused(capsys, adam_run):
    before = snapshot(adam_run)
    user_error(capsys, "export", adam_run, "--onnx", adam_run / "model.onnx",
               expect=[f"--onnx {adam_run / 'model.onnx'}: is inside the input {adam_run}"])
    assert snapshot(adam_run) == before


def test_export_relative_path_into_its_input_is_refused(capsys, adam_run, monkeypatch):
    monkeypatch.chdir(adam_run.parent)
    user_error(capsys, "export", adam_run.name, "--onnx", os.path.join(adam_run.name, "sub", "m.onnx"),
               expect=["is inside the input"])


# -- each component checks its own arguments, before any training ------------------------
@pytest.mark.parametrize("override, fragments", [
    ("sched.power=-1", ["sched.power: expected a number > 0", "got -1"]),
    ("sched.warmup_epochs=-1", ["sched.warmup_epochs: expected a number of epochs >= 0", "got -1"]),
    ("optim={_delete_: true, type: SparseAdam}", ["SparseAdam cannot train here", "sparse gradients"]),
    ("loss.label_smoothing=2", ["loss.label_smoothing: expected a number in [0, 1], got 2"]),
])
def test_component_arguments_are_checked_when_built(capsys, data_dir, tmp_path, override, fragments):
    user_error(capsys, "run", DEMO, *tiny_seg(data_dir, *ONE_STEP, f"out.root={tmp_path / 'runs'}"), override,
               expect=fragments)
    no_run_left(tmp_path / "runs")


def test_export_to_a_bare_extension_says_what_name_is_expected(capsys, adam_run, tmp_path):
    user_error(capsys, "export", adam_run, "--onnx", tmp_path / ".onnx",
               expect=[f"--onnx {tmp_path / '.onnx'}: a name with nothing before .onnx", "model.onnx"])


def test_summary_of_a_checkpoint_names_its_run(capsys, adam_run):
    ckpt = next((adam_run / "checkpoints").glob("last_*.pt"))
    user_error(capsys, "summary", ckpt, expect=[f"MODEL {ckpt}: a checkpoint file", f"(here: {adam_run})"])


def test_a_best_checkpoint_by_loss_is_named_by_its_negative(data_dir, tmp_path):
    """Lower is better for the loss: the best file's score is its negative and says so
    (``neg_loss=-1.9377``), matching the history's validation loss."""
    import csv

    from ignite_zoo.engines.launch import run_experiment
    from ignite_zoo.engines.run_dir import RunDir, checkpoint_score
    from ignite_zoo.registry.recipe import load_recipe

    run = run_experiment(load_recipe(DEMO, tiny_seg(data_dir, *ONE_STEP, "eval.metric=loss",
                                                    "handlers.tensorboard.enabled=false", f"out.dir={tmp_path / 'r'}")))
    (best,) = (run / "checkpoints").glob("best_*.pt")
    assert "_neg_loss=-" in best.name, best.name
    with open(run / "history.csv", newline="") as f:
        loss = float(list(csv.DictReader(f))[-1]["val/loss"])
    assert checkpoint_score(best) == pytest.approx(-loss, abs=1e-4)
    assert RunDir(run).best_checkpoint() == best


# -- symbolic links that lead nowhere are named, never skipped or a traceback ---------------
def _with_link(src, dst, name: str, loop: bool):
    import shutil

    shutil.copytree(src, dst)
    link = dst / name
    link.symlink_to(link if loop else dst / "no_such_file.png")
    return link


@pytest.mark.parametrize("loop", [False, True])
def test_a_broken_link_in_a_training_split_is_named(capsys, data_dir, tmp_path, adam_run, loop):
    root = tmp_path / "set"
    _with_link(data_dir / "demo_data", root, "train/0999_sat.jpg", loop)
    why = "loops back on itself" if loop else "leads to a missing file"
    user_error(capsys, "run", DEMO, *tiny_seg(data_dir, *ONE_STEP, "data.type=dlcv_sat", "data.args={}",
                                              f"data.root={root}", f"out.root={tmp_path / 'runs'}"),
               expect=[f"{root / 'train' / '0999_sat.jpg'}: a symbolic link that {why}"])
    no_run_left(tmp_path / "runs")


@pytest.mark.parametrize("loop", [False, True])
def test_a_broken_link_among_predict_inputs_is_named(capsys, data_dir, tmp_path, adam_run, loop):
    images = tmp_path / "images"
    link = _with_link(data_dir / "demo_data" / "validation", images, "0999_sat.jpg", loop)
    user_error(capsys, "predict", adam_run, images, tmp_path / "preds", expect=[f"{link}: a symbolic link that"])
    assert not (tmp_path / "preds").exists() or not any((tmp_path / "preds").iterdir())


def test_a_looping_link_among_evaluated_predictions_is_named(capsys, data_dir, tmp_path):
    preds = tmp_path / "preds"
    link = _with_link(data_dir / "demo_data" / "validation", preds, "0999_mask.png", loop=True)
    user_error(capsys, "evaluate", preds, data_dir / "demo_data" / "validation", "--no-progress",
               expect=[f"{link}: a symbolic link that loops back on itself"])
