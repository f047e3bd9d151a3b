"""Run directories: where a run writes, never over another run, and where resume finds it."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

from engines.checkpoint import latest_checkpoint
from registry.errors import RunError

RUN_FILES = ("recipe.yaml", "history.csv", "checkpoints")


def _check_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write_test.{os.getpid()}"  # per process: two runs may probe one folder
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise RunError(f"run directory {path} is not writable ({e.strerror or e}); set out.root or out.dir "
                       "to a folder you can write") from None


def _is_used(path: Path) -> bool:
    return path.exists() and any((path / f).exists() for f in RUN_FILES)


def find_resumable(recipe: Mapping[str, Any]) -> tuple[Path, Path] | None:
    """For ``resume=auto``: (run dir, newest checkpoint) of this recipe's latest run, if any."""
    out = recipe["out"]
    if out["dir"]:
        candidates = [Path(out["dir"])]
    else:
        base = Path(out["root"]) / out["name"]
        candidates = sorted((p for p in base.glob("*") if p.is_dir()), key=lambda p: p.name, reverse=True)
    for run_dir in candidates:
        ckpt = latest_checkpoint(run_dir)
        if ckpt is not None:
            return run_dir, ckpt
    return None


def prepare_run_dir(recipe: Mapping[str, Any]) -> tuple[Path, Path | None]:
    """(run dir, checkpoint to resume from or None), checked writable before any work.

    ``resume: auto`` continues the newest run of this recipe that has a checkpoint (or
    starts a new one when there is none); ``resume: path/to.pt`` continues that run. A new
    run gets ``out.root/out.name/<timestamp>``, or ``out.dir`` if that is set and unused:
    a second run never writes into a first one's directory.
    """
    resume = recipe.get("resume")
    if resume == "auto":
        found = find_resumable(recipe)
        if found is not None:
            _check_writable(found[0])
            return found
    elif resume:
        ckpt = Path(resume)
        if ckpt.is_dir():
            ckpt_found = latest_checkpoint(ckpt)
            if ckpt_found is None:
                raise RunError(f"resume={resume}: no checkpoints/last_*.pt in that directory")
            ckpt = ckpt_found
        if not ckpt.is_file():
            raise RunError(f"resume={resume}: checkpoint file not found; expected 'auto', a run directory or a .pt file")
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
        _check_writable(run_dir)
        return run_dir, ckpt
    out = recipe["out"]
    if out["dir"]:
        run_dir = Path(out["dir"])
        if _is_used(run_dir):
            raise RunError(f"out.dir={run_dir} already holds a run; pass resume=auto to continue it, "
                           "or choose another out.dir (runs are never overwritten)")
    else:
        base = Path(out["root"]) / out["name"]
        _check_writable(base)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir, n = base / stamp, 2
        while True:  # claimed by mkdir, which only one of two runs started in the same second wins
            try:
                run_dir.mkdir()
                break
            except FileExistsError:
                run_dir, n = base / f"{stamp}-{n}", n + 1
            except OSError:
                break  # _check_writable says why
    _check_writable(run_dir)
    return run_dir, None
