"""MLflow tracking: the resolved recipe as params, each epoch's scalars as metrics, and at
the end the best checkpoint, the run's figures and ``recipe.yaml`` as artifacts.

mlflow is optional (``pip install "ignite-zoo[mlflow]"``) and imported when the handler is
attached: importing it takes seconds that a run without it should not pay.

Where runs go: ``tracking_uri``, else the ``MLFLOW_TRACKING_URI`` environment variable,
else ``sqlite:///<out.root>/mlflow.db`` (``runs/mlflow.db``: one store for every recipe's
runs, beside them; artifacts in ``<out.root>/mlartifacts``). mlflow 3 refuses a plain
folder store such as ``./mlruns`` unless ``MLFLOW_ALLOW_FILE_STORE=true`` is set.
The experiment defaults to ``out.name`` (the recipe's name), the run name to the run
directory's name. A resumed run continues its MLflow run (``mlflow_run.json`` in the run
directory remembers which).
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Mapping

from ignite.engine import Engine

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.engines.run_dir import RECIPE_FILE
from ignite_zoo.engines.handlers.args import flag
from ignite_zoo.registry import HANDLERS
from ignite_zoo.registry.errors import RecipeError, RunError

log = logging.getLogger("engines")
STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
RUN_FILE = "mlflow_run.json"
#: MLflow's limits: a param value (6000 characters since mlflow 2.8), a key, params per call
MAX_VALUE, MAX_KEY, PARAMS_PER_CALL = 6000, 250, 100
_BAD_KEY_CHARS = re.compile(r"[^\w\-. /:]")  # MLflow keys: alphanumerics, _ - . space / :
INSTALL_HINT = 'pip install "ignite-zoo[mlflow]"'


def mlflow_key(key: str) -> str:
    return _BAD_KEY_CHARS.sub("_", key)[:MAX_KEY]


def flatten_params(recipe: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"optim": {"lr": 0.01}}`` -> ``{"optim.lr": "0.01"}``: every leaf of the recipe by
    its key path; non-strings as JSON (``null``, ``true``, ``[1, 2]``), cut to MLflow's limit
    (the whole recipe is logged as ``recipe.yaml`` too)."""
    out: dict[str, str] = {}
    for key, value in recipe.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_params(value, path + "."))
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out[mlflow_key(path)] = text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 3] + "..."
    return out


def default_tracking_uri(recipe: Mapping[str, Any]) -> str:
    root = Path(recipe["out"]["root"]).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / STORE_FILE}"


def _artifact_location(uri: str) -> str | None:
    """For a SQLite store, artifacts beside the database (not in the working directory)."""
    if not uri.startswith("sqlite:///"):
        return None
    return str(Path(uri[len("sqlite:///"):]).expanduser().resolve().parent / ARTIFACTS_DIR)


def _one_line(e: BaseException) -> str:
    text = str(getattr(e, "message", None) or e).strip()
    return text.splitlines()[0] if text else type(e).__name__


@HANDLERS.register("mlflow")
class MLflow:
    """Tracks the run in MLflow; see the module docstring. ``log_checkpoint: false`` keeps
    the best checkpoint (hundreds of MB for a full-size model) out of the artifact store."""

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None,
                 run_name: str | None = None, log_checkpoint: bool = True) -> None:
        for key, value in (("tracking_uri", tracking_uri), ("experiment", experiment), ("run_name", run_name)):
            if value is not None and not isinstance(value, str):
                raise RecipeError(f"handlers.mlflow.{key}: expected a string or null, got {type(value).__name__} "
                                  f"{value!r}")
        self.tracking_uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.log_checkpoint = flag(log_checkpoint, "handlers.mlflow.log_checkpoint")
        self.run_id: str | None = None

    def attach(self, run: RunContext) -> None:
        try:
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise RunError(f"handlers.mlflow: mlflow is not installed; {INSTALL_HINT} "
                           "(or switch it off: handlers.mlflow=false)") from None
        self.run = run
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(run.recipe)
        try:
            self.client = MlflowClient(tracking_uri=uri)
            self.run_id = self._open_run(uri)
            self._log_params()
        except MlflowException as e:
            self._end("FAILED")
            raise RunError(f"handlers.mlflow: tracking store {uri}: {_one_line(e)}") from None
        log.info("mlflow: run %s in experiment '%s' at %s", self.run_id, self.experiment_name, uri)
        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, self._log_epoch)

    def _open_run(self, uri: str) -> str:
        """This run directory's MLflow run when it is resumed, else a new one."""
        run_dir = self.run.run_dir
        self.experiment_name = self.experiment or self.run.recipe["out"]["name"] or "ignite-zoo"
        remembered = run_dir.path / RUN_FILE
        if remembered.is_file():
            try:
                known = json.loads(remembered.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                known = {}
            if known.get("tracking_uri") == uri and known.get("run_id"):
                from mlflow.exceptions import MlflowException

                try:
                    found = self.client.get_run(known["run_id"])
                except MlflowException:
                    found = None
                if found is not None and found.info.lifecycle_stage == "active":
                    self.client.update_run(found.info.run_id, status="RUNNING")
                    return found.info.run_id
        exp = self.client.get_experiment_by_name(self.experiment_name)
        if exp is None:
            exp_id = self.client.create_experiment(self.experiment_name, artifact_location=_artifact_location(uri))
        elif exp.lifecycle_stage != "active":
            raise RunError(f"handlers.mlflow.experiment: experiment '{self.experiment_name}' at {uri} is deleted; "
                           "restore it (mlflow experiments restore) or name another one")
        else:
            exp_id = exp.experiment_id
        created = self.client.create_run(exp_id, run_name=self.run_name or run_dir.path.name,
                                         tags={"ignite_zoo.run_dir": str(run_dir.path.resolve())})
        remembered.write_text(json.dumps({"tracking_uri": uri, "run_id": created.info.run_id}), encoding="utf-8")
        return created.info.run_id

    def _log_params(self) -> None:
        """The resolved recipe; a resumed run adds only keys it did not log (MLflow params
        cannot change; ``resume`` itself does)."""
        from mlflow.entities import Param

        logged = self.client.get_run(self.run_id).data.params
        params = [Param(k, v) for k, v in flatten_params(self.run.recipe).items() if k not in logged]
        for i in range(0, len(params), PARAMS_PER_CALL):
            self.client.log_batch(self.run_id, params=params[i:i + PARAMS_PER_CALL])

    def _log_epoch(self, engine: Engine) -> None:
        from mlflow.entities import Metric

        now, epoch = int(time.time() * 1000), engine.state.epoch
        metrics = [Metric(mlflow_key(k), float(v), now, epoch)
                   for k, v in engine.state.epoch_summary.items() if v is not None]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def close(self, error: BaseException | None) -> None:
        """After the run (every COMPLETED handler has drawn its figures): the artifacts and
        FINISHED, or the run marked FAILED (KILLED when interrupted)."""
        if error is not None:
            self._end("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
            return
        run_dir = self.run.run_dir
        files = [(run_dir.path / RECIPE_FILE, None), (run_dir.history_path, None), (run_dir.summary_path, None)]
        files += [(p, "figures") for p in sorted(run_dir.path.glob("*.png"))]
        files.append((run_dir.masks_dir / "grid.png", "masks"))
        best = run_dir.best_checkpoint()
        if self.log_checkpoint and best is not None:
            files.append((best, "checkpoints"))
        for file, folder in files:
            if file.is_file():
                self.client.log_artifact(self.run_id, str(file), folder)
        self._end("FINISHED")

    def _end(self, status: str) -> None:
        if self.run_id is None:
            return
        run_id, self.run_id = self.run_id, None
        try:
            self.client.set_terminated(run_id, status)
        except Exception as e:  # the store is unreachable: the run's own outcome matters more
            log.warning("mlflow: could not mark run %s %s: %s", run_id, status, _one_line(e))
