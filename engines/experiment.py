"""Compose a resolved recipe into ignite engines and handlers, and run it.

This is the whole data flow of DESIGN: registries build the parts, ``trainer``/``evaluator``
run them, handlers attached to events write the run directory. One function per stage so
tools and tests can reuse them (``build_loaders``, ``build_training``).
"""
from __future__ import annotations

import gc
import logging
import os
import shutil
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, EarlyStopping, global_step_from_engine
from ignite.metrics import Average
from ignite.utils import manual_seed

from engines import optim as _optim  # noqa: F401  (registers optimizers and schedulers)
from engines.checkpoint import (BEST_PREFIX, LAST_PREFIX, EngineState, RecipeState, SafeDiskSaver, checkpoint_epoch,
                                checkpoint_score, load_state_strict, read_checkpoint)
from engines.evaluator import create_evaluator
from engines.handlers import History, MaskSnapshots, NanGuard, TensorBoard
from engines.metrics import (
    best_metric_name,
    classification_metrics,
    default_miou_classes,
    flatten_metrics,
    score_fn,
    segmentation_metrics,
)
from engines.run_dir import prepare_run_dir
from engines.runtime import (
    keep_freed_memory,
    resolve_amp,
    resolve_device,
    seed_everything,
    set_deterministic,
    set_threads,
)
from engines.trainer import StepConfig, create_trainer
from registry import LOSSES, OPTIMIZERS, SCHEDULERS
from registry.errors import RecipeError
from registry.plugins import import_modules
from registry.recipe import dump_recipe

log = logging.getLogger("engines")


def build_loaders(recipe: Mapping[str, Any], device: torch.device) -> tuple[Any, Any, Any, Any]:
    """(train dataset, val dataset, train loader, val loader) from the recipe's ``data``."""
    from zoo.data import build_dataset, seed_worker

    data = recipe["data"]
    train_ds = build_dataset(data, "train")
    val_ds = build_dataset(data, "val")
    ld = data["loader"]
    pin = ld["pin_memory"] if isinstance(ld["pin_memory"], bool) else device.type == "cuda"
    workers = ld["num_workers"]
    common: dict[str, Any] = {"num_workers": workers, "pin_memory": pin, "worker_init_fn": seed_worker}
    if workers > 0:
        common["persistent_workers"] = ld["persistent_workers"]
        if ld["prefetch_factor"] is not None:
            common["prefetch_factor"] = ld["prefetch_factor"]
    bs = ld["batch_size"]
    drop_last = ld["drop_last"] and len(train_ds) >= bs * idist.get_world_size()
    train_loader = idist.auto_dataloader(train_ds, batch_size=bs, shuffle=True, drop_last=drop_last, **common)
    val_loader = idist.auto_dataloader(val_ds, batch_size=ld["val_batch_size"] or bs, shuffle=False,
                                       drop_last=False, **common)
    if len(train_loader) == 0:
        raise RecipeError(f"data.loader.batch_size={bs} leaves no training batch for {len(train_ds)} images")
    return train_ds, val_ds, train_loader, val_loader


@dataclass
class Training:
    """Everything a run holds, for handlers, tools and tests."""

    recipe: dict
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    loss_fn: Any
    trainer: Engine
    evaluator: Engine
    step_cfg: StepConfig
    train_ds: Any
    val_ds: Any
    train_loader: Any
    val_loader: Any
    to_save: dict
    epoch_length: int


def build_model_on(recipe: Mapping[str, Any], device: torch.device, channels_last: bool) -> torch.nn.Module:
    from zoo import build_model

    model = build_model(recipe["model"])
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return idist.auto_model(model) if idist.get_world_size() > 1 else model.to(device)


def maybe_compile(model: torch.nn.Module, on: bool) -> torch.nn.Module:
    if not on:
        return model
    try:
        return torch.compile(model)
    except Exception as e:  # no compiler toolchain, unsupported platform
        log.warning("train.compile: torch.compile is unavailable here (%s); running the model uncompiled", e)
        return model


def build_training(recipe: dict, device: torch.device | None = None) -> Training:
    """Datasets, model, loss, optimizer, schedule, engines and metrics (no file handlers)."""
    tr = recipe["train"]
    device = device or resolve_device(tr["device"])
    amp_dtype = resolve_amp(tr["amp"], device)
    step_cfg = StepConfig(device=device, amp_dtype=amp_dtype, channels_last=tr["channels_last"],
                          accum_steps=tr["accum_steps"], clip_grad_norm=tr["clip_grad_norm"],
                          non_blocking=device.type == "cuda")
    train_ds, val_ds, train_loader, val_loader = build_loaders(recipe, device)
    model = build_model_on(recipe, device, tr["channels_last"])
    run_model = maybe_compile(model, tr["compile"])
    loss_fn = LOSSES.build(recipe["loss"], _path="loss")
    optimizer = OPTIMIZERS.build(recipe["optim"], _path="optim", params=model.parameters())
    if idist.get_world_size() > 1:
        optimizer = idist.auto_optim(optimizer)
    iters = len(train_loader)
    if tr["max_iters_per_epoch"] is not None:
        iters = min(iters, tr["max_iters_per_epoch"])
    scheduler = None
    if recipe["sched"]:
        steps_per_epoch = -(-iters // tr["accum_steps"])  # a short last group steps too
        scheduler = SCHEDULERS.build(recipe["sched"], _path="sched", optimizer=optimizer,
                                     total_iters=steps_per_epoch * tr["epochs"], iters_per_epoch=steps_per_epoch)
    trainer = create_trainer(run_model, optimizer, loss_fn, step_cfg, scheduler)
    num_classes = getattr(val_ds, "num_classes", None) or recipe["model"]["head"].get("num_classes")
    if recipe["task"] == "segmentation":
        classes = recipe["eval"]["miou_classes"]
        if classes is None:
            classes = default_miou_classes(num_classes)
        bad = [c for c in classes if not isinstance(c, int) or not 0 <= c < num_classes]
        if bad:
            raise RecipeError(f"eval.miou_classes: {bad} are not class ids in 0..{num_classes - 1}")
        metrics = segmentation_metrics(num_classes, classes, device=device)
    else:
        metrics = classification_metrics(num_classes, device=device)
    evaluator = create_evaluator(run_model, metrics, step_cfg)
    to_save: dict[str, Any] = {"model": model, "optimizer": optimizer, "trainer": EngineState(trainer),
                               "recipe": RecipeState(recipe)}
    if scheduler is not None:
        to_save["scheduler"] = scheduler
    if trainer.grad_scaler is not None:  # fp16 loss scale, so a resumed fp16 run continues exactly
        to_save["grad_scaler"] = trainer.grad_scaler
    return Training(recipe, model, optimizer, scheduler, loss_fn, trainer, evaluator, step_cfg,
                    train_ds, val_ds, train_loader, val_loader, to_save, iters)


def attach_epoch_row(t: Training) -> None:
    """Epoch loss (ignite ``Average``), learning rate and, on validation epochs, the
    validation scalars, gathered in ``trainer.state.epoch_row`` for the handlers."""
    recipe = t.recipe
    Average(output_transform=lambda loss: loss, device=t.step_cfg.device).attach(t.trainer, "train_loss")
    every = recipe["eval"]["every"]
    class_names = list(getattr(t.val_ds, "classes", []) or [])

    started = {"t": 0.0}

    def on_epoch_start(engine: Engine) -> None:
        started["t"] = time.perf_counter()

    def on_epoch(engine: Engine) -> None:
        epoch, last = engine.state.epoch, engine.state.max_epochs
        row: dict[str, Any] = {"train/loss": float(engine.state.metrics["train_loss"]),
                               "lr": t.optimizer.param_groups[0]["lr"],
                               "train/seconds": time.perf_counter() - started["t"]}
        if epoch % every == 0 or epoch == last:
            start = time.perf_counter()
            t.evaluator.run(t.val_loader)
            row.update(flatten_metrics(t.evaluator.state.metrics, class_names))
            row["val/seconds"] = time.perf_counter() - start
        engine.state.epoch_row = row

    t.trainer.add_event_handler(Events.EPOCH_STARTED, on_epoch_start)
    t.trainer.add_event_handler(Events.EPOCH_COMPLETED, on_epoch)
    # The batch order of an epoch is fixed by DeterministicEngine; fix the rest of the
    # randomness (dropout, augmentation in the main process) per epoch too, so a run
    # resumed from an epoch checkpoint replays it exactly.
    t.trainer.add_event_handler(Events.EPOCH_STARTED,
                                lambda e: manual_seed(e.state.seed + 7919 * e.state.epoch))


def progress_event(seconds: float = 0.1) -> Any:
    """ITERATION_COMPLETED filtered to at most one per ``seconds`` plus each epoch's last
    iteration: ignite's progress bar redraws the whole tqdm line on every call (2% of a
    10 ms iteration), and nobody reads more than ten redraws a second."""
    last = [float("-inf")]

    def due(engine: Engine, iteration: int) -> bool:
        now = time.monotonic()
        length = engine.state.epoch_length
        if now - last[0] >= seconds or (length and iteration % length == 0):
            last[0] = now
            return True
        return False

    return Events.ITERATION_COMPLETED(event_filter=due)


def attach_checkpoints(t: Training, ckpt_dir: Path, metric: str) -> tuple[Checkpoint, Checkpoint | None]:
    cfg = t.recipe["handlers"]["checkpoint"]
    saver = SafeDiskSaver(str(ckpt_dir), require_empty=False)
    last = Checkpoint(t.to_save, saver, filename_prefix=LAST_PREFIX, n_saved=cfg["keep_last"],
                      global_step_transform=lambda e, _: e.state.epoch)
    t.trainer.add_event_handler(Events.EPOCH_COMPLETED(every=cfg["every"]) | Events.COMPLETED, last)
    best = None
    if cfg["keep_best"] > 0:
        best = Checkpoint(t.to_save, saver, filename_prefix=BEST_PREFIX, n_saved=cfg["keep_best"],
                          score_function=score_fn(metric), score_name=metric,
                          global_step_transform=global_step_from_engine(t.trainer))
        t.evaluator.add_event_handler(Events.COMPLETED, best)
    for stray in ckpt_dir.glob("tmp*"):  # a write interrupted by a crash (atomic: never renamed)
        stray.unlink(missing_ok=True)
    # After a resume, hand the files already there to the handlers, so keep_last/keep_best
    # count them and a crash's extra files are pruned now, not kept for good.
    _adopt(last, sorted(((checkpoint_epoch(p), p) for p in ckpt_dir.glob(f"{LAST_PREFIX}_*.pt"))), cfg["keep_last"])
    if best is not None:
        _adopt(best, sorted((checkpoint_score(p), p) for p in ckpt_dir.glob(f"{BEST_PREFIX}_*.pt")), cfg["keep_best"])
    return last, best


def _adopt(handler: Checkpoint, found: list[tuple[float, Path]], keep: int) -> None:
    """``found`` is (priority, path) sorted ascending: the lowest are dropped beyond ``keep``."""
    extra = found[:-keep] if keep > 0 else found
    for _, path in extra:
        path.unlink(missing_ok=True)
    kept = found[len(extra):]
    handler.load_state_dict({"_saved": [(priority, path.name) for priority, path in kept]})


def resume_from(t: Training, ckpt_path: Path) -> None:
    ckpt = read_checkpoint(ckpt_path)
    missing = [k for k in t.to_save if k not in ckpt and k != "recipe"]
    if missing:
        raise RecipeError(f"resume: {ckpt_path} lacks {', '.join(missing)}; was it written by another recipe?")
    # ignite's Checkpoint saves a DDP/DataParallel model's ``module`` (keys without "module.")
    model = t.model.module if isinstance(t.model, (torch.nn.parallel.DistributedDataParallel,
                                                   torch.nn.DataParallel)) else t.model
    load_state_strict(model, ckpt["model"], f"resume checkpoint {ckpt_path}")
    rest = {k: v for k, v in t.to_save.items() if k not in ("model", "recipe")}
    Checkpoint.load_objects(to_load=rest, checkpoint={k: ckpt[k] for k in rest})
    log.info("resumed from %s at epoch %d (iteration %d)", ckpt_path, t.trainer.state.epoch, t.trainer.state.iteration)


def _training_process(local_rank: int, *args: Any, spawned: bool = False) -> None:
    """One rank's run (``_train`` takes the arguments).

    With several processes the process group must be gone before the interpreter exits.
    The DDP model's reducer holds it and the engines' handlers keep the model in reference
    cycles (a failed run's traceback keeps it too): left to the collection at exit, the group
    outlives ``destroy_process_group``, and its gloo worker thread, dropping a finished
    collective's tensors during interpreter teardown, aborts the process (SIGABRT,
    "terminate called without an active exception").
    """
    if idist.get_world_size() == 1:
        _train(local_rank, *args)
        return
    try:
        _train(local_rank, *args)
    except BaseException as e:
        traceback.clear_frames(e.__traceback__)  # the traceback's text stays, its locals go
        gc.collect()
        if spawned:  # ignite's worker finalizes only after a return
            idist.finalize()
        raise
    gc.collect()


def _train(local_rank: int, recipe: dict, run_dir: str | None, resume: str | None,
           search_dir: str | None, chosen: list | None = None) -> None:
    import_modules(recipe["imports"], search_dir)
    if run_dir is None:  # one rank of torchrun: rank 0 picks the run dir for everyone
        if idist.get_rank() == 0:
            path, ckpt = prepare_run_dir(recipe)
            if ckpt is None:  # a resumed run's recipe is written once its checkpoint has loaded
                dump_recipe(recipe, path / "recipe.yaml")
            run_dir, resume = str(path), str(ckpt) if ckpt else ""
        run_dir = idist.broadcast(run_dir or "", src=0, safe_mode=True)
        resume = idist.broadcast(resume or "", src=0, safe_mode=True) or None
        if chosen is not None:
            chosen.append((run_dir, resume))
    tr = recipe["train"]
    set_threads(tr["threads"])
    set_deterministic(tr["deterministic"])
    seed_everything(recipe["seed"] + idist.get_rank())
    device = idist.device() if idist.get_world_size() > 1 else resolve_device(tr["device"])
    if device.type == "cpu":
        keep_freed_memory()  # no page faults on every step's fresh tensors
    t = build_training(recipe, device)
    rank0 = idist.get_rank() == 0
    run_path = Path(run_dir)
    metric = recipe["eval"]["metric"] or best_metric_name(recipe["task"])
    if recipe["handlers"]["nan_guard"]:
        NanGuard().attach(t.trainer)
    attach_epoch_row(t)
    tb = None
    if rank0:
        if recipe["handlers"]["tensorboard"]["enabled"]:
            tb = TensorBoard(run_path / "tb", tr["log_every"])
            tb.attach(t.trainer, t.optimizer)
        History(run_path, best_metric=f"val/{metric}").attach(t.trainer)
        attach_checkpoints(t, run_path / "checkpoints", metric)
        snaps = recipe["handlers"]["mask_snapshots"]
        if recipe["task"] == "segmentation" and snaps["ids"] and snaps["epochs"]:
            MaskSnapshots(t.val_ds, snaps["ids"], snaps["epochs"], t.model, t.step_cfg, run_path / "masks",
                          tb if recipe["handlers"]["tensorboard"]["images"] else None).attach(t.trainer)
        if recipe["handlers"]["progress"]:
            from ignite.handlers import ProgressBar

            ProgressBar(persist=True, desc="train").attach(t.trainer, output_transform=lambda loss: {"loss": loss},
                                                           event_name=progress_event())
            ProgressBar(persist=False, desc="validate").attach(t.evaluator, event_name=progress_event())
    patience = recipe["handlers"]["early_stopping"]["patience"]
    if patience is not None:
        t.evaluator.add_event_handler(Events.COMPLETED, EarlyStopping(patience, score_fn(metric), t.trainer))
    if resume:
        resume_from(t, Path(resume))
        if rank0:  # only now: a checkpoint that does not fit leaves the run's recipe.yaml as it was
            dump_recipe(recipe, run_path / "recipe.yaml")
    t.trainer.run(t.train_loader, max_epochs=tr["epochs"], epoch_length=t.epoch_length)
    if rank0 and tb is not None:
        tb.logger.close()


def _backend(recipe: Mapping[str, Any]) -> str:
    """NCCL when the run trains on GPUs, gloo on CPU."""
    return "nccl" if torch.cuda.is_available() and recipe["train"]["device"] != "cpu" else "gloo"


def _master_port() -> int:
    """``MASTER_PORT`` if set, else a free port: ignite's fixed default (2222) would make a
    second multi-process run on the same machine fail with "address already in use"."""
    if os.environ.get("MASTER_PORT"):
        return int(os.environ["MASTER_PORT"])
    with socket.socket() as s:
        s.bind(("", 0))  # the address the rendezvous store listens on
        return s.getsockname()[1]


def _user_error_from_child(e: BaseException) -> BaseException:
    """A user error raised in a spawned rank comes back as its text with the child's
    traceback; rebuild it as the one-line error it was (anything else stays as it is)."""
    import registry.errors as errors

    last = next((line for line in reversed(str(e).splitlines()) if line.strip()), "")
    name, sep, message = last.partition(": ")
    cls = getattr(errors, name.rpartition(".")[2], None) if name.startswith("registry.errors.") else None
    if sep and isinstance(cls, type) and issubclass(cls, errors.UserError):
        return cls(f"{message} (in training process {getattr(e, 'error_index', '?')})")
    return e


def run_experiment(recipe: dict, search_dir: str | Path | None = None) -> Path:
    """Run a resolved recipe (see ``registry.load_recipe``); returns the run directory.

    Runs in this process, or in ``train.nproc_per_node`` processes (gloo on CPU, NCCL on
    GPU), or as one rank of ``torchrun``; only rank 0 writes files.
    """
    import_modules(recipe["imports"], search_dir)  # fail on a bad plugin before any work
    nproc = recipe["train"]["nproc_per_node"]
    under_launcher = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if under_launcher:
        chosen: list[tuple[str, str | None]] = []  # (run dir, checkpoint resumed from), as rank 0 chose
        try:
            with idist.Parallel(backend=_backend(recipe)) as parallel:  # this process is one rank: runs in place
                parallel.run(_training_process, recipe, None, None, str(search_dir) if search_dir else None, chosen)
        except BaseException:
            if chosen and os.environ.get("RANK") == "0":
                _remove_if_empty(Path(chosen[0][0]), resumed=chosen[0][1] is not None)
            raise
        return Path(chosen[0][0])
    run_dir, resume = prepare_run_dir(recipe)
    if resume is None:  # a resumed run's recipe is written once its checkpoint has loaded
        dump_recipe(recipe, run_dir / "recipe.yaml")
    args = (recipe, str(run_dir), str(resume) if resume else None, str(search_dir) if search_dir else None)
    try:
        if nproc > 1:
            with idist.Parallel(backend=_backend(recipe), nproc_per_node=nproc, master_port=_master_port()) as parallel:
                try:
                    parallel.run(_training_process, *args, spawned=True)
                except torch.multiprocessing.ProcessRaisedException as e:
                    raise _user_error_from_child(e) from e
        else:
            threads = torch.get_num_threads()
            try:
                _training_process(0, *args)
            finally:
                torch.set_num_threads(threads)  # train.threads is this run's, not the caller's
    except BaseException:
        _remove_if_empty(run_dir, resumed=resume is not None)
        raise
    return run_dir


def _remove_if_empty(run_dir: Path, resumed: bool) -> None:
    """A new run that failed before its first checkpoint left nothing worth keeping: remove
    it so resume=auto and tools never pick up an empty run."""
    if not resumed and not any((run_dir / "checkpoints").glob("*.pt")):
        shutil.rmtree(run_dir, ignore_errors=True)
