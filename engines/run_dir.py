"""The run directory's one owner: where a run writes, what its files are called, and how
every tool reads a run back.

Training creates (or, to resume, finds) a directory, locks it while it writes, writes
``recipe.yaml`` once through the project's one YAML writer, and names the checkpoints.
Readers (resume, predict, evaluate, tsne, compare, report, summary) open it with
``RunDir.open``, which validates the stored recipe through the schema again: every reader
sees the same filled-in recipe and keeps no defaults of its own.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any, Mapping

from ignite_zoo.engines.outputs import atomic_write_text, check_new_run_folder, check_run_location
from ignite_zoo.registry.errors import RecipeError, RunError
from ignite_zoo.registry.recipe import dump_recipe, load_yaml, validate

RECIPE_FILE = "recipe.yaml"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "metrics.json"
LOCK_FILE = ".lock"
CHECKPOINTS = "checkpoints"
#: ignite ``Checkpoint`` filename prefixes: ``last_checkpoint_<E>.pt`` holds the whole
#: training state, ``best_checkpoint_<E>_<metric>=<v>.pt`` the weights and the recipe.
LAST_PREFIX = "last"
BEST_PREFIX = "best"
_EPOCH_RE = re.compile(r"_(\d+)(?:_|\.pt$)")
_SCORE_RE = re.compile(r"=(-?[0-9.]+(?:e-?\d+)?)\.pt$")


def checkpoint_epoch(path: Path) -> int:
    m = _EPOCH_RE.search(Path(path).name)
    return int(m.group(1)) if m else -1


def checkpoint_score(path: Path) -> float:
    """The score in a best checkpoint's name (``best_checkpoint_3_mIoU=0.5123.pt``)."""
    m = _SCORE_RE.search(Path(path).name)
    return float(m.group(1)) if m else float("-inf")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class RunDir:
    """One run's directory; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.checkpoints_dir = self.path / CHECKPOINTS
        self.masks_dir = self.path / "masks"
        self.tb_dir = self.path / "tb"
        self.history_path = self.path / HISTORY_FILE
        self.summary_path = self.path / SUMMARY_FILE
        self._recipe: dict[str, Any] | None = None
        self._locked = False

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- reading a run back ------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run directory; ``RunError`` when ``path`` is not one."""
        run = cls(Path(path).expanduser())
        if not run.path.is_dir():
            what = "a file, not a directory" if run.path.exists() else "not found"
            raise RunError(f"{run.path}: run directory {what}; expected a folder written by tools/run.py "
                           "(runs/<recipe>/<time>, holding recipe.yaml)")
        if not (run.path / RECIPE_FILE).is_file():
            raise RunError(f"{run.path}: not a run directory (no {RECIPE_FILE}); expected runs/<recipe>/<time>")
        return run

    @property
    def recipe(self) -> dict[str, Any]:
        """``recipe.yaml`` validated through the schema again (every default filled in)."""
        if self._recipe is None:
            path = self.path / RECIPE_FILE
            try:
                self._recipe = validate(load_yaml(path))
            except RecipeError as e:
                raise RunError(f"{path}: {e}") from None
        return self._recipe

    @property
    def metric(self) -> Any:
        from ignite_zoo.engines.metrics import metric_spec

        return metric_spec(self.recipe)

    def history(self) -> list[dict[str, Any]]:
        """Rows of ``history.csv`` with numbers parsed (empty cells -> None)."""
        if not self.history_path.is_file():
            return []
        with open(self.history_path, newline="", encoding="utf-8") as f:
            return [{k: int(v) if k == "epoch" else (float(v) if v not in ("", None) else None)
                     for k, v in row.items()} for row in csv.DictReader(f)]

    def summary(self) -> dict[str, Any]:
        """``metrics.json``: metric, mode, final, best, best_epoch, init ({} when absent)."""
        if not self.summary_path.is_file():
            return {}
        try:
            return json.loads(self.summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise RunError(f"{self.summary_path}: unreadable ({e})") from None

    def last_checkpoint(self) -> Path | None:
        """The newest ``last_*.pt`` (by epoch), or None."""
        found = sorted(self.checkpoints_dir.glob(f"{LAST_PREFIX}_*.pt"), key=checkpoint_epoch)
        return found[-1] if found else None

    def best_checkpoint(self) -> Path | None:
        found = list(self.checkpoints_dir.glob(f"{BEST_PREFIX}_*.pt"))
        return max(found, key=checkpoint_score) if found else None

    def checkpoint(self) -> Path:
        """The best checkpoint, else the last; ``RunError`` when there is none."""
        found = self.best_checkpoint() or self.last_checkpoint()
        if found is None:
            raise RunError(f"{self.path}: a run directory without checkpoints/*.pt; did the run finish an epoch?")
        return found

    # -- writing -----------------------------------------------------------------------
    def write_recipe(self, recipe: Mapping[str, Any]) -> None:
        dump_recipe(recipe, self.path / RECIPE_FILE)
        self._recipe = None

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        keys: list[str] = []
        for r in rows:
            keys += [k for k in r if k not in keys]

        def cell(k: str, v: Any) -> str:
            return "" if v is None else (str(v) if k == "epoch" else f"{v:.6g}")

        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: cell(k, r.get(k)) for k in keys} for r in rows)
        atomic_write_text(self.history_path, text.getvalue())

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        atomic_write_text(self.summary_path, json.dumps(dict(summary), indent=2, allow_nan=True))

    def check_writable(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write_test.{os.getpid()}"  # per process: two runs may probe one folder
            probe.write_text("ok")
            probe.unlink()
        except OSError as e:
            raise RunError(f"run directory {self.path} is not writable ({e.strerror or e}); set out.root or "
                           "out.dir to a folder you can write") from None

    # -- one writer at a time ----------------------------------------------------------
    def lock(self) -> None:
        """Claim the directory for this process; ``RunError`` naming the holder's pid when a
        live process holds it. A lock left by a dead process is taken over."""
        lock = self.path / LOCK_FILE
        me = f"{os.getpid()} {socket.gethostname()}\n"
        for _ in range(3):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid_text, _, host = lock.read_text().strip().partition(" ")
                    pid = int(pid_text)
                except (OSError, ValueError):
                    pid, host = -1, ""
                if pid > 0 and (host not in ("", socket.gethostname()) or _pid_alive(pid)):
                    raise RunError(f"run directory {self.path} is in use by process {pid}"
                                   f"{' on ' + host if host and host != socket.gethostname() else ''}; "
                                   "wait for it to finish or stop it (its lock is "
                                   f"{lock})") from None
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(me)
            self._locked = True
            return
        raise RunError(f"run directory {self.path}: cannot take its lock {lock}")

    def unlock(self) -> None:
        if self._locked:
            (self.path / LOCK_FILE).unlink(missing_ok=True)
            self._locked = False

    def unlock_if_mine(self) -> None:
        """Release a lock this process took through another ``RunDir`` of the same path."""
        lock = self.path / LOCK_FILE
        try:
            mine = lock.read_text().split()[0] == str(os.getpid())
        except (OSError, IndexError):
            return
        if mine:
            lock.unlink(missing_ok=True)

    def holds_checkpoints(self) -> bool:
        return any(self.checkpoints_dir.glob("*.pt"))


def _is_used(path: Path) -> bool:
    return path.exists() and any((path / f).exists() for f in (RECIPE_FILE, HISTORY_FILE, CHECKPOINTS))


def find_resumable(recipe: Mapping[str, Any]) -> tuple[RunDir, Path] | None:
    """For ``resume=auto``: (run, newest checkpoint) of this recipe's latest run, if any."""
    out = recipe["out"]
    if out["dir"]:
        candidates = [Path(out["dir"])]
    else:
        base = Path(out["root"]) / out["name"]
        candidates = sorted((p for p in base.glob("*") if p.is_dir()), key=lambda p: p.name, reverse=True)
    for path in candidates:
        run = RunDir(path)
        ckpt = run.last_checkpoint()
        if ckpt is not None:
            return run, ckpt
    return None


def prepare_run_dir(recipe: Mapping[str, Any]) -> tuple[RunDir, Path | None]:
    """(run, checkpoint to resume from or None), checked writable before any work.

    ``resume: auto`` continues the newest run of this recipe that has a checkpoint (or
    starts a new one when there is none); ``resume: path/to.pt`` or a run directory
    continues that run. A new run gets ``out.root/out.name/<timestamp>``, or ``out.dir``
    if that is set and unused: a second run never writes into a first one's directory.
    Nothing is written into an existing run here. A new run's folder must pass
    ``check_run_location``.
    """
    resume = recipe.get("resume")
    if resume == "auto":
        found = find_resumable(recipe)
        if found is not None:
            found[0].check_writable()
            return found
    elif resume:
        ckpt = Path(resume).expanduser()
        if ckpt.is_dir():
            ckpt_found = RunDir(ckpt).last_checkpoint()
            if ckpt_found is None:
                raise RunError(f"resume={resume}: no checkpoints/{LAST_PREFIX}_*.pt in that directory")
            ckpt = ckpt_found
        if not ckpt.is_file():
            raise RunError(f"resume={resume}: checkpoint file not found; expected 'auto', a run directory or a .pt file")
        run = RunDir(ckpt.parent.parent if ckpt.parent.name == CHECKPOINTS else ckpt.parent)
        run.check_writable()
        return run, ckpt
    check_run_location(recipe)
    out = recipe["out"]
    if out["dir"]:
        path = Path(out["dir"])
        if _is_used(path):
            raise RunError(f"out.dir={path} already holds a run; pass resume=auto to continue it, "
                           "or choose another out.dir (runs are never overwritten)")
        check_new_run_folder(path, ignore=(LOCK_FILE, ".write_test."))
    else:
        base = Path(out["root"]) / out["name"]
        RunDir(base).check_writable()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, n = base / stamp, 2
        while True:  # claimed by mkdir, which only one of two runs started in the same second wins
            try:
                path.mkdir()
                break
            except FileExistsError:
                path, n = base / f"{stamp}-{n}", n + 1
            except OSError:
                break  # check_writable says why
    run = RunDir(path)
    run.check_writable()
    return run, None
