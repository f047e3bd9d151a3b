"""Handlers through the command line: a user's handler from a recipe's ``imports:``, handler
names checked before any work, TensorBoard's hparams, MLflow tracking read back."""
from __future__ import annotations

import csv
import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

from ignite_zoo.engines.handlers.mlflow import INSTALL_HINT, MAX_VALUE, MLflow, flatten_params
from ignite_zoo.registry.errors import RunError
from ignite_zoo.registry.recipe import load_yaml
from tests.helpers import DEMO, REPO, run_here, run_tool, tiny_seg

EXAMPLE = REPO / "examples" / "seg_my_handler_demo.yaml"
QUICK = ("train.epochs=2", "train.max_iters_per_epoch=1")
BUILT_IN = {"checkpoint", "console", "early_stopping", "history", "mask_snapshots", "mlflow", "nan_guard",
            "progress", "tensorboard"}
HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def example_run(tmp_path_factory) -> tuple[Path, str]:
    """The example recipe (user handler, TensorBoard on) for two one-step epochs."""
    tmp = tmp_path_factory.mktemp("example")
    proc = run_here("run", EXAMPLE, *tiny_seg(tmp, *QUICK, f"out.dir={tmp / 'run'}"))
    return tmp / "run", proc.stdout


def test_user_handler_from_imports_writes_epoch_times(example_run):
    run, stdout = example_run
    rows = _csv(run / "epoch_times.csv")
    history = _csv(run / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["train_seconds"]) > 0 and float(r["val_seconds"]) > 0 for r in rows)
    assert [float(r["lr"]) for r in rows] == pytest.approx([float(r["lr"]) for r in history], rel=1e-5)
    assert "epoch_times.csv: epoch 2 took" in stdout
    assert load_yaml(run / "recipe.yaml")["handlers"]["my_handler"] == {"every": 1}


def test_tensorboard_hparams_hold_final_and_best_metric(example_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run, _ = example_run
    summary = json.loads((run / "metrics.json").read_text())
    acc = EventAccumulator(str(run / "tb" / "hparams"), size_guidance={"scalars": 0})
    acc.Reload()
    assert acc.Scalars("hparam/final_mIoU")[-1].value == pytest.approx(summary["final"]["val/mIoU"], rel=1e-5)
    assert acc.Scalars("hparam/best_mIoU")[-1].value == pytest.approx(summary["best"]["val/mIoU"], rel=1e-5)
    assert summary["final"]["val/mIoU"] == pytest.approx(float(_csv(run / "history.csv")[-1]["val/mIoU"]), rel=1e-5)
    content = acc.PluginTagToContent("hparams")
    session = next(plugin_data_pb2.HParamsPluginData.FromString(c) for c in content.values()
                   if plugin_data_pb2.HParamsPluginData.FromString(c).HasField("session_start_info"))
    hparams = session.session_start_info.hparams
    recipe = load_yaml(run / "recipe.yaml")
    assert hparams["head"].string_value == recipe["model"]["head"]["type"]
    assert hparams["epochs"].number_value == 2
    assert hparams["lr"].number_value == pytest.approx(recipe["optim"]["lr"])


def test_misspelt_handler_fails_before_any_work_naming_close_names(tmp_path):
    proc = run_here("run", DEMO, *tiny_seg(tmp_path, "handlers.checkpont.keep_last=1", f"out.dir={tmp_path / 'run'}"),
                    check=False)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[0]
    assert line.startswith("error: handlers.checkpont:") and "'checkpoint'" in line, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "demo_data").exists()  # no data, no run dir


def test_list_shows_every_built_in_handler():
    from ignite_zoo.engines import handlers  # noqa: F401  (registers the built-in handlers)
    from ignite_zoo.registry import HANDLERS

    out = run_here("run", "--list").stdout
    line = next(l for l in out.splitlines() if l.startswith("handlers ("))
    listed = set(line.split(":", 1)[1].replace(" ", "").split(","))
    assert BUILT_IN <= set(HANDLERS.names()) and set(HANDLERS.names()) <= listed, line


BOOM = '''
from ignite_zoo.registry import HANDLERS
from ignite_zoo.registry.errors import RunError
from ignite_zoo.engines.events import RunEvents

@HANDLERS.register("{name}")
class Boom:
    def attach(self, run):
        def fail(engine):
            raise RunError("{name}: failing on purpose at epoch %d" % engine.state.epoch)
        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, fail)
'''


def test_an_error_in_a_handler_ends_the_run_with_tensorboard_on(tmp_path):
    """A failing handler fails the run with TensorBoard on: handlers clean up in ``close``,
    never on ignite's EXCEPTION_RAISED (where an exception that is not raised again is lost)."""
    (tmp_path / "boom_handler.py").write_text(textwrap.dedent(BOOM.format(name="boom")))
    recipe = tmp_path / "boom.yaml"
    recipe.write_text(f"_base_: {DEMO}\nimports: [boom_handler]\nhandlers: {{boom: true}}\n")
    proc = run_here("run", recipe, *tiny_seg(tmp_path, *QUICK, f"out.dir={tmp_path / 'run'}"), check=False)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "error: boom: failing on purpose at epoch 1" in proc.stderr
    assert "run directory:" not in proc.stdout


def test_flatten_params_key_paths_and_limits():
    params = flatten_params({"optim": {"type": "sgd", "lr": 0.01}, "sched": None, "data": {"args": {}},
                             "eval": {"miou_classes": [0, 1]}, "x": {"a b?": "y" * (MAX_VALUE + 10)}})
    assert params["optim.type"] == "sgd" and params["optim.lr"] == "0.01" and params["sched"] == "null"
    assert params["data.args"] == "{}" and params["eval.miou_classes"] == "[0, 1]"
    assert len(params["x.a b_"]) == MAX_VALUE and params["x.a b_"].endswith("...")


def test_mlflow_missing_says_how_to_install(monkeypatch):
    for name in ("mlflow", "mlflow.exceptions", "mlflow.tracking"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as when not installed
    with pytest.raises(RunError) as e:
        MLflow().attach(None)
    assert INSTALL_HINT in str(e.value) and "\n" not in str(e.value)


@pytest.mark.skipif(not HAS_MLFLOW, reason='mlflow is not installed (pip install "ignite-zoo[mlflow]"); '
                                           "it is not in the test extra: it brings ~90 packages")
def test_mlflow_logs_params_metrics_per_epoch_and_artifacts_and_resume_continues_the_run(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    run = tmp_path / "run"
    settings = f"handlers.mlflow={{tracking_uri: '{uri}', experiment: zoo-test, run_name: tiny}}"
    # sched=null: a finished run is resumed for more epochs (a schedule spanning the run refuses that)
    base = tiny_seg(tmp_path, "handlers.tensorboard.enabled=false", f"out.dir={run}", settings, "sched=null")
    run_tool("run", DEMO, *base, *QUICK)
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("zoo-test")
    (found,) = client.search_runs([exp.experiment_id])
    assert found.info.run_name == "tiny" and found.info.status == "FINISHED"
    recipe = load_yaml(run / "recipe.yaml")
    params = found.data.params
    assert params == flatten_params(recipe)
    assert params["model.head.type"] == recipe["model"]["head"]["type"] and params["train.epochs"] == "2"
    history = _csv(run / "history.csv")
    for key in ("val/mIoU", "train/loss", "lr", "val/IoU/Urban"):
        metric = client.get_metric_history(found.info.run_id, key)
        assert [m.step for m in metric] == [1, 2], key
        assert [m.value for m in metric] == pytest.approx([float(r[key]) for r in history], rel=1e-5), key
    names = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"recipe.yaml", "history.csv", "metrics.json", "checkpoints", "masks"} <= names
    (best,) = client.list_artifacts(found.info.run_id, "checkpoints")
    assert best.path == f"checkpoints/{next((run / 'checkpoints').glob('best_*.pt')).name}"
    assert [a.path for a in client.list_artifacts(found.info.run_id, "masks")] == ["masks/grid.png"]

    run_tool("run", DEMO, *base, "train.epochs=3", "train.max_iters_per_epoch=1", "resume=auto")
    (again,) = client.search_runs([exp.experiment_id])  # the same MLflow run, continued
    assert again.info.run_id == found.info.run_id and again.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(found.info.run_id, "val/mIoU")] == [1, 2, 3]
    assert again.data.params["train.epochs"] == "2"  # params cannot change; recipe.yaml is the resumed one
    local = tmp_path / "artifact"
    client.download_artifacts(found.info.run_id, "recipe.yaml", str(local.mkdir() or local))
    assert load_yaml(local / "recipe.yaml")["train"]["epochs"] == 3


@pytest.mark.skipif(not HAS_MLFLOW, reason='mlflow is not installed (pip install "ignite-zoo[mlflow]")')
def test_mlflow_marks_a_run_that_fails_as_failed(tmp_path):
    """With TensorBoard on, its handler may raise the error before MLflow's sees it; the
    run is still marked FAILED (at exit), not left RUNNING."""
    from mlflow.tracking import MlflowClient

    (tmp_path / "boom_mlflow.py").write_text(textwrap.dedent(BOOM.format(name="boom_mlflow")))
    recipe = tmp_path / "boom.yaml"
    recipe.write_text(f"_base_: {DEMO}\nimports: [boom_mlflow]\nhandlers: {{boom_mlflow: true}}\n")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = run_tool("run", recipe, *tiny_seg(tmp_path, *QUICK, f"out.dir={tmp_path / 'run'}",
                                             f"handlers.mlflow={{tracking_uri: '{uri}', experiment: fails}}"),
                    check=False)
    assert proc.returncode == 2 and "failing on purpose" in proc.stderr, proc.stderr[-2000:]
    client = MlflowClient(tracking_uri=uri)
    (found,) = client.search_runs([client.get_experiment_by_name("fails").experiment_id])
    assert found.info.status == "FAILED"


@pytest.mark.skipif(not HAS_MLFLOW, reason='mlflow is not installed (pip install "ignite-zoo[mlflow]")')
def test_mlflow_refused_store_is_a_one_line_run_error(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from ignite_zoo.engines.run_dir import RunDir

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    ctx = SimpleNamespace(recipe={"out": {"root": str(tmp_path), "name": "x"}}, run_dir=RunDir(tmp_path / "run"))
    with pytest.raises(RunError) as e:
        MLflow(tracking_uri=str(tmp_path / "mlruns")).attach(ctx)
    msg = str(e.value)
    assert msg.startswith(f"handlers.mlflow: tracking store {tmp_path / 'mlruns'}:") and "\n" not in msg
    assert "MLFLOW_ALLOW_FILE_STORE" in msg
