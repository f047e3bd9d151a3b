"""Launching a run: in this process, in ``train.nproc_per_node`` spawned processes, or as
one rank of ``torchrun``; the run directory's lock, SIGTERM, and errors from child
processes turned back into the one-line errors they were."""
from __future__ import annotations

import gc
import os
import shutil
import socket
import traceback
from pathlib import Path
from typing import Any, Mapping

import ignite.distributed as idist
import torch

from ignite_zoo.engines.experiment import run_rank
from ignite_zoo.engines.handlers import check_handlers
from ignite_zoo.engines.metrics import metric_spec
from ignite_zoo.engines.run_dir import RunDir, prepare_run_dir
from ignite_zoo.registry.cli import sigterm_as_interrupt
from ignite_zoo.registry.plugins import import_modules


def _rank_process(local_rank: int, *args: Any, spawned: bool = False) -> None:
    """One rank's run (``run_rank`` takes the arguments).

    With several processes the process group must be gone before the interpreter exits.
    The DDP model's reducer holds it and the engines' handlers keep the model in reference
    cycles (a failed run's traceback keeps it too): left to the collection at exit, the group
    outlives ``destroy_process_group``, and its gloo worker thread, dropping a finished
    collective's tensors during interpreter teardown, aborts the process (SIGABRT,
    "terminate called without an active exception").
    """
    if idist.get_world_size() == 1:
        run_rank(local_rank, *args)
        return
    try:
        run_rank(local_rank, *args)
    except BaseException as e:
        traceback.clear_frames(e.__traceback__)  # the traceback's text stays, its locals go
        gc.collect()
        if spawned:  # ignite's worker finalizes only after a return
            idist.finalize()
        raise
    gc.collect()


def backend(recipe: Mapping[str, Any]) -> str:
    """NCCL when the run trains on GPUs, gloo on CPU."""
    return "nccl" if torch.cuda.is_available() and recipe["train"]["device"] != "cpu" else "gloo"


def master_port() -> int:
    """``MASTER_PORT`` if set, else a free port: ignite's fixed default (2222) would make a
    second multi-process run on the same machine fail with "address already in use"."""
    if os.environ.get("MASTER_PORT"):
        return int(os.environ["MASTER_PORT"])
    with socket.socket() as s:
        s.bind(("", 0))  # the address the rendezvous store listens on
        return s.getsockname()[1]


def user_error_from_child(e: BaseException) -> BaseException:
    """A user error raised in a spawned rank comes back as its text with the child's
    traceback; rebuild it as the one-line error it was (anything else stays as it is)."""
    import ignite_zoo.registry.errors as errors

    last = next((line for line in reversed(str(e).splitlines()) if line.strip()), "")
    name, sep, message = last.partition(": ")
    cls = getattr(errors, name.rpartition(".")[2], None) if name.startswith("ignite_zoo.registry.errors.") else None
    if sep and isinstance(cls, type) and issubclass(cls, errors.UserError):
        return cls(f"{message} (in training process {getattr(e, 'error_index', '?')})")
    return e


def check_before_work(recipe: dict[str, Any], search_dir: str | Path | None, weights: bool = True) -> None:
    """What can be checked without data or a model: plugins import, handlers build with
    their settings (filled into ``recipe["handlers"]``), the metric is one the task
    computes, the backbone's weights file is there."""
    from ignite_zoo.engines import handlers  # noqa: F401  (registers the built-in handlers)

    from ignite_zoo.zoo.backbones.weights import check_weights

    import_modules(recipe["imports"], search_dir)
    recipe["handlers"] = check_handlers(recipe["handlers"])
    metric_spec(recipe)
    if weights:
        check_weights(recipe["model"]["backbone"])


def run_experiment(recipe: dict, search_dir: str | Path | None = None) -> Path:
    """Run a resolved recipe (see ``registry.recipe.load_recipe``); returns the run directory.

    Runs in this process, or in ``train.nproc_per_node`` processes (gloo on CPU, NCCL on
    GPU), or as one rank of ``torchrun``; only rank 0 writes files.
    """
    check_before_work(recipe, search_dir)
    search = str(search_dir) if search_dir else None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return _run_under_launcher(recipe, search)
    run, resume = prepare_run_dir(recipe)
    try:
        run.lock()
    except BaseException:
        _remove_if_empty(run, resumed=resume is not None)
        raise
    args = (recipe, str(run.path), str(resume) if resume else None, search)
    nproc = recipe["train"]["nproc_per_node"]
    try:
        with sigterm_as_interrupt():
            if nproc > 1:
                with idist.Parallel(backend=backend(recipe), nproc_per_node=nproc,
                                    master_port=master_port()) as parallel:
                    try:
                        parallel.run(_rank_process, *args, spawned=True)
                    except torch.multiprocessing.ProcessRaisedException as e:
                        raise user_error_from_child(e) from e
            else:
                threads = torch.get_num_threads()
                try:
                    _rank_process(0, *args)
                finally:
                    torch.set_num_threads(threads)  # train.threads is this run's, not the caller's
    except BaseException as e:
        run.unlock()
        _remove_if_empty(run, resumed=resume is not None)
        converted = _disk_error_of_run(e, run)
        if converted is e:
            raise
        raise converted from None
    run.unlock()
    return run.path


def _disk_error_of_run(e: BaseException, run: RunDir) -> BaseException:
    """A full or read-only disk during a run: the one-line message, with how the run goes on
    (``resume=auto`` from its last checkpoint, or starting again when it had none)."""
    from ignite_zoo.registry.cli import USER_OS_ERRORS, disk_error_message
    from ignite_zoo.registry.errors import RunError

    if not isinstance(e, OSError) or e.errno not in USER_OS_ERRORS:
        return e
    kept = run.path.is_dir() and run.holds_checkpoints()
    then = ("continue with resume=auto (the checkpoints written before are kept)" if kept
            else "start the run again (it had written no checkpoint)")
    return RunError(f"{disk_error_message(e, then)}")


def _run_under_launcher(recipe: dict, search: str | None) -> Path:
    """This process is one rank of torchrun: rank 0 chooses and locks the run directory."""
    chosen: list[tuple[str, str | None]] = []  # (run dir, checkpoint resumed from), as rank 0 chose
    rank0 = os.environ.get("RANK") == "0"
    try:
        with sigterm_as_interrupt(), idist.Parallel(backend=backend(recipe)) as parallel:
            parallel.run(_rank_process, recipe, None, None, search, chosen)
    except BaseException:
        if chosen and rank0:
            RunDir(chosen[0][0]).unlock_if_mine()
            _remove_if_empty(RunDir(chosen[0][0]), resumed=chosen[0][1] is not None)
        raise
    if chosen and rank0:
        RunDir(chosen[0][0]).unlock_if_mine()
    return Path(chosen[0][0])


def _remove_if_empty(run: RunDir, resumed: bool) -> None:
    """A new run that failed before its first checkpoint left nothing worth keeping: remove
    it so resume=auto and tools never pick up an empty run."""
    if not resumed and not run.holds_checkpoints():
        shutil.rmtree(run.path, ignore_errors=True)
