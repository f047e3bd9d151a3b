"""ignite-zoo tune: the search space, and a two-trial study killed half-way that resumes
to completion with best_recipe.yaml and its figure."""
from __future__ import annotations

import optuna
import pytest
import yaml
from ignite.engine import Engine

from ignite_zoo.engines import tune as T
from ignite_zoo.engines.events import RunEvents
from ignite_zoo.registry import HANDLERS
from ignite_zoo.registry.errors import RecipeError
from tests.helpers import DEMO, call_tool, tiny_seg

KILL = {"armed": False, "runs": 0}


@HANDLERS.register("kill_second_trial_once")
class KillSecondTrialOnce:
    """Ctrl-C in the second trial's first epoch, once (the test's stand-in for a killed process)."""

    def attach(self, run):
        KILL["runs"] += 1

        def stop(engine: Engine) -> None:
            if KILL["armed"] and KILL["runs"] == 2:
                KILL["armed"] = False
                raise KeyboardInterrupt("killed")

        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, stop)


def test_space_is_checked():
    space = T.parse_space({"optim.lr": {"loguniform": [1e-4, 1e-2]}, "model.head.type": {"choice": ["fcn8s", "fcn32s"]},
                           "data.loader.batch_size": {"int": [2, 4]}, "optim.weight_decay": {"uniform": [0, 0.1]}})
    assert space["model.head.type"] == ("choice", ["fcn8s", "fcn32s"])
    for bad, match in (({"optim.lr": {"logunif": [1, 2]}}, "optim.lr: expected one of"),
                       ({"optim.lr": {"loguniform": [0, 1]}}, r"optim.lr.loguniform: expected \[low, high\].*> 0"),
                       ({"x": {"int": [1.5, 3]}}, "integers"), ({}, "expected a mapping")):
        with pytest.raises(RecipeError, match=match):
            T.parse_space(bad)
    assert T.as_overrides({"model.head.type": "fcn8s", "optim.lr": 0.001}) == ['model.head.type="fcn8s"',
                                                                                 "optim.lr=0.001"]


@pytest.mark.slow
def test_a_killed_study_resumes_to_completion(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"optim.lr": {"loguniform": [1.0e-4, 1.0e-2]},
                                     "model.head.type": {"choice": ["fcn8s", "fcn32s"]}}))
    argv = [str(DEMO), "--space", str(space), "--n-trials", "2", "--study", "tiny",
            *tiny_seg(tmp_path, "train.epochs=2", "data.args.n=4", "handlers.mask_snapshots=false",
                      f"out.root={tmp_path / 'runs'}", "handlers.kill_second_trial_once=true")]
    KILL.update(armed=True, runs=0)
    code, _, _ = call_tool("tune", *argv, capsys=capsys)  # Ctrl-C: the tool stops with an error status
    assert code != 0
    folder = tmp_path / "runs" / "tiny"
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{folder / 'study.db'}")
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]
    killed = study.trials[1]
    assert not (folder / "best_recipe.yaml").exists()

    code, out, err = call_tool("tune", *argv, capsys=capsys)  # the same command resumes
    assert code == 0, err
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{folder / 'study.db'}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 2 and len(study.trials) == 3  # the failed trial, retried once, with its values
    retry = study.trials[2]
    assert retry.user_attrs["retry_of"] == 1 and retry.params == killed.params
    assert retry.user_attrs["run_dir"] == killed.user_attrs["run_dir"]
    best = yaml.safe_load((folder / "best_recipe.yaml").read_text())
    assert best["optim"]["lr"] == pytest.approx(study.best_trial.params["optim.lr"])
    assert best["model"]["head"]["type"] == study.best_trial.params["model.head.type"]
    assert (folder / "search.png").stat().st_size > 0
    assert "study tiny: 2 finished trials" in out

    code, out, _ = call_tool("tune", *argv, capsys=capsys)  # nothing left to do
    assert code == 0 and len(optuna.load_study(study_name="tiny",
                                               storage=f"sqlite:///{folder / 'study.db'}").trials) == 3


def test_missing_space_file_is_one_line(tmp_path, capsys):
    code, _, err = call_tool("tune", str(DEMO), "--space", str(tmp_path / "nope.yaml"), "--n-trials", "1",
                             capsys=capsys)
    assert code != 0 and "--space" in err and "file not found" in err
