"""Hyper-parameter search with optuna: every trial is a normal run of the recipe under the
study's folder, with the sampled values as overrides.

The search space is a small YAML mapping of recipe keys to distributions::

    optim.lr: {loguniform: [1.0e-4, 1.0e-2]}
    optim.weight_decay: {uniform: [0.0, 1.0e-3]}
    data.loader.batch_size: {int: [4, 16]}
    model.head.type: {choice: [fcn8s, fcn32s]}

The study lives in ``<out.root>/<study>/study.db`` (sqlite): an interrupted search resumes
where it stopped, and several processes can search together. ``n_trials`` counts finished
(complete or pruned) trials of the whole study. A trial that failed (an exception, Ctrl-C)
or whose process died (no heartbeat for ``GRACE`` seconds) is tried again with the same
values, continuing its run from its last checkpoint when it has one. Pruning: the median
rule on the validation metric, reported each epoch (``handlers.tune_report``). At the end
``best_recipe.yaml`` (the recipe with the best trial's values) and ``search.png``.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Sequence

from ignite_zoo.registry.errors import RecipeError, UsageError

HEARTBEAT, GRACE = 30, 120  # seconds: a RUNNING trial silent for GRACE belongs to a dead process
KINDS = {"loguniform": 2, "uniform": 2, "int": 2, "choice": None}


def require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise UsageError("tune needs optuna, which is not installed: pip install 'ignite-zoo[tune]'") from None
    return optuna


def parse_space(space: Any, where: str = "--space") -> dict[str, tuple[str, list]]:
    """``{key: {kind: values}}`` checked: one kind each, two bounds (low < high) or choices."""
    if not isinstance(space, dict) or not space:
        raise RecipeError(f"{where}: expected a mapping of recipe keys to distributions, got {space!r}")
    out: dict[str, tuple[str, list]] = {}
    for key, dist in space.items():
        if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in KINDS:
            raise RecipeError(f"{where}: {key}: expected one of {{loguniform: [low, high]}}, {{uniform: [low, high]}}, "
                              f"{{int: [low, high]}}, {{choice: [...]}}; got {dist!r}")
        kind, values = next(iter(dist.items()))
        if not isinstance(values, list) or not values:
            raise RecipeError(f"{where}: {key}.{kind}: expected a list, got {values!r}")
        if KINDS[kind]:
            ok = len(values) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            ok = ok and values[0] < values[1] and (kind != "loguniform" or values[0] > 0)
            ok = ok and (kind != "int" or all(isinstance(v, int) for v in values))
            if not ok:
                raise RecipeError(f"{where}: {key}.{kind}: expected [low, high] with low < high"
                                  f"{' > 0' if kind == 'loguniform' else ''}"
                                  f"{' (integers)' if kind == 'int' else ''}, got {values!r}")
        out[str(key)] = (kind, values)
    return out


def suggest(trial: Any, space: dict[str, tuple[str, list]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, (kind, v) in space.items():
        if kind == "choice":
            params[key] = trial.suggest_categorical(key, v)
        elif kind == "int":
            params[key] = trial.suggest_int(key, v[0], v[1])
        else:
            params[key] = trial.suggest_float(key, float(v[0]), float(v[1]), log=kind == "loguniform")
    return params


def as_overrides(params: dict[str, Any]) -> list[str]:
    """``key=value`` overrides; JSON values are YAML, so strings stay strings."""
    return [f"{k}={json.dumps(v)}" for k, v in params.items()]


class Search:
    """One study of ``recipe_path`` with ``space``; ``run()`` does the trials."""

    def __init__(self, recipe_path: str, space: dict[str, tuple[str, list]], overrides: Sequence[str] = (),
                 study: str | None = None) -> None:
        from ignite_zoo.engines.metrics import metric_spec
        from ignite_zoo.registry.recipe import load_recipe

        self.optuna = require_optuna()
        self.recipe_path, self.space, self.overrides = recipe_path, space, list(overrides)
        recipe = load_recipe(recipe_path, self.overrides)
        self.spec = metric_spec(recipe)
        self.name = study or Path(recipe_path).stem
        self.folder = Path(recipe["out"]["root"]) / self.name
        self.folder.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # the heartbeat is "experimental" in optuna's words
            warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
            storage = self.optuna.storages.RDBStorage(f"sqlite:///{(self.folder / 'study.db').resolve()}",
                                                      heartbeat_interval=HEARTBEAT, grace_period=GRACE)
        self.study = self.optuna.create_study(
            study_name=self.name, storage=storage, load_if_exists=True,
            direction="maximize" if self.spec.mode == "max" else "minimize",
            sampler=self.optuna.samplers.TPESampler(seed=recipe["seed"]),
            pruner=self.optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))

    def finished(self) -> int:
        states = (self.optuna.trial.TrialState.COMPLETE, self.optuna.trial.TrialState.PRUNED)
        return len(self.study.get_trials(deepcopy=False, states=states))

    def retry_failed(self) -> None:
        """Queue once more, with the same values, each trial that failed or whose process died."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", self.optuna.exceptions.ExperimentalWarning)
            self.optuna.storages.fail_stale_trials(self.study)
        trials = self.study.get_trials(deepcopy=False)
        retried = {t.user_attrs.get("retry_of") for t in trials}
        for t in trials:
            if t.state == self.optuna.trial.TrialState.FAIL and t.number not in retried:
                self.study.enqueue_trial(t.params, user_attrs={"retry_of": t.number,
                                                               "run_dir": t.user_attrs.get("run_dir")})

    def objective(self, trial: Any) -> float:
        from ignite_zoo.engines.handlers.tune_report import running
        from ignite_zoo.engines.launch import run_experiment
        from ignite_zoo.engines.run_dir import RunDir
        from ignite_zoo.registry.recipe import load_recipe

        params = suggest(trial, self.space)
        run_dir = Path(trial.user_attrs.get("run_dir") or self.folder / f"trial_{trial.number:03d}")
        trial.set_user_attr("run_dir", str(run_dir))
        extra = [f"out.dir={run_dir}", "handlers.tune_report=true"]
        if run_dir.is_dir() and RunDir(run_dir).holds_checkpoints():
            extra.append(f"resume={run_dir}")  # a retried trial continues its run
        recipe = load_recipe(self.recipe_path, [*self.overrides, *as_overrides(params), *extra])
        print(f"trial {trial.number}: {', '.join(f'{k}={v}' for k, v in params.items())} -> {run_dir}", flush=True)
        with running(trial):
            run_experiment(recipe)
        best = RunDir(run_dir).summary().get("best") or {}
        value = best.get(self.spec.key)
        return float("nan") if value is None else float(value)

    def run(self, n_trials: int, timeout: float | None = None) -> None:
        self.retry_failed()
        if self.finished() >= n_trials:
            return
        done = self.optuna.study.MaxTrialsCallback(
            n_trials, states=(self.optuna.trial.TrialState.COMPLETE, self.optuna.trial.TrialState.PRUNED))
        self.study.optimize(self.objective, timeout=timeout, callbacks=[done], gc_after_trial=True)

    def write_results(self) -> tuple[Path | None, Path]:
        """``best_recipe.yaml`` (None before any complete trial) and ``search.png``."""
        from ignite_zoo.registry.recipe import dump_recipe, load_recipe

        best_path = None
        complete = [t for t in self.study.get_trials(deepcopy=False)
                    if t.state == self.optuna.trial.TrialState.COMPLETE and t.value is not None
                    and not math.isnan(t.value)]
        if complete:
            best = self.study.best_trial
            recipe = load_recipe(self.recipe_path, [*self.overrides, *as_overrides(best.params)])
            recipe["out"]["dir"] = None
            best_path = self.folder / "best_recipe.yaml"
            dump_recipe(recipe, best_path)
        from ignite_zoo.engines.tune_figure import plot_search

        return best_path, plot_search(self.study, self.spec.key, self.folder / "search.png")


def tune(recipe_path: str, space: dict[str, tuple[str, list]], n_trials: int, timeout: float | None = None,
         overrides: Sequence[str] = (), study: str | None = None) -> Search:
    """Run (or resume) the study until ``n_trials`` trials have finished; write its results."""
    search = Search(recipe_path, space, overrides, study)
    search.run(n_trials, timeout)
    best, figure = search.write_results()
    print(f"study {search.name}: {search.finished()} finished trials in {search.folder / 'study.db'}; "
          f"best recipe {best or '- (no complete trial yet)'}; figure {figure}", flush=True)
    return search
