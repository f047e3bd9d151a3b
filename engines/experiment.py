"""One process's run of a resolved recipe: build, resume, attach handlers, train.

The order is the contract that keeps a user's files safe: everything that can refuse the
run (the recipe, the data, the model, the resume checkpoint) is checked before anything
is written into the run directory; handlers, which write files, are attached last.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint
from ignite.metrics import Average
from ignite.utils import manual_seed

from ignite_zoo.engines.build import Training, build_training
from ignite_zoo.engines.checkpoint import load_state_strict, read_checkpoint, recipe_of
from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.engines.handlers import attach_handlers, close_handlers, prepare_ema
from ignite_zoo.engines.metrics import flatten_metrics, metric_spec, scored_classes
from ignite_zoo.engines.preflight import rng_kept
from ignite_zoo.engines.resume_check import check_resume_settings
from ignite_zoo.engines.run_dir import RunDir, prepare_run_dir
from ignite_zoo.engines.settings import RunSettings
from ignite_zoo.engines.runtime import resolve_device, seed_everything, set_deterministic, set_threads
from ignite_zoo.registry.errors import CheckpointError, RunError
from ignite_zoo.registry.plugins import import_modules
from ignite_zoo.zoo.backbones.weights import describe_weights

log = logging.getLogger("engines")


def attach_epoch_summary(t: Training) -> None:
    """After each epoch (validating when due) set ``trainer.state.epoch_summary`` and fire
    ``RunEvents.EPOCH_SUMMARY`` for the handlers (see ``engines.events``)."""
    trainer, every = t.trainer, t.settings.eval.every
    trainer.register_events(*RunEvents)
    Average(output_transform=lambda loss: loss, device=t.step_cfg.device).attach(trainer, "train_loss")
    class_names = list(getattr(t.val_ds, "classes", []) or [])
    scored = scored_classes(t.recipe, t.val_ds.info) if t.settings.task == "segmentation" else None
    started = {"t": 0.0}

    def on_epoch_start(engine: Engine) -> None:
        started["t"] = time.perf_counter()
        # The batch order of an epoch is fixed by DeterministicEngine; fix the rest of the
        # randomness (dropout, augmentation in the main process) per epoch too, so a run
        # resumed from an epoch checkpoint replays it exactly.
        manual_seed(engine.state.seed + 7919 * engine.state.epoch)

    def on_epoch(engine: Engine) -> None:
        epoch, last = engine.state.epoch, engine.state.max_epochs
        row: dict[str, Any] = {"train/loss": float(engine.state.metrics["train_loss"]),
                               "lr": t.optimizer.param_groups[0]["lr"],
                               "train/seconds": time.perf_counter() - started["t"]}
        if epoch % every == 0 or epoch == last:
            start = time.perf_counter()
            t.evaluator.run(t.val_loader)
            row.update(flatten_metrics(t.evaluator.state.metrics, class_names, scored=scored))
            row["val/seconds"] = time.perf_counter() - start
        engine.state.epoch_summary = row
        engine.fire_event(RunEvents.EPOCH_SUMMARY)

    trainer.add_event_handler(Events.EPOCH_STARTED, on_epoch_start)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, on_epoch)


def resume_from(t: Training, ckpt_path: Path) -> dict:
    """Load every state the checkpoint holds into the run; refuse one from another recipe.
    Reads only: nothing in any run directory changes here. Returns the checkpoint's recipe."""
    ckpt = read_checkpoint(ckpt_path)
    trained_with = recipe_of(ckpt, ckpt_path)
    missing = [k for k in t.to_save if k not in ckpt and k not in ("recipe", "ema_model")]
    if missing:
        raise CheckpointError(f"resume: {ckpt_path} lacks {', '.join(missing)}; was it written by another recipe "
                              "(or is it a best checkpoint, which holds the weights only)?")
    # ignite's Checkpoint saves a DDP/DataParallel model's ``module`` (keys without "module.")
    model = t.model.module if isinstance(t.model, (torch.nn.parallel.DistributedDataParallel,
                                                   torch.nn.DataParallel)) else t.model
    load_state_strict(model, ckpt["model"], f"resume checkpoint {ckpt_path}")
    rest = {k: v for k, v in t.to_save.items() if k not in ("model", "recipe") and k in ckpt}
    if "ema_model" in t.to_save and "ema_model" not in ckpt:  # train.ema switched on: the average starts here
        t.to_save["ema_model"].load_state_dict(model.state_dict())
    Checkpoint.load_objects(to_load=rest, checkpoint={k: ckpt[k] for k in rest})
    log.info("resumed from %s at epoch %d (iteration %d)", ckpt_path, t.trainer.state.epoch, t.trainer.state.iteration)
    return trained_with


def architecture_of(t: Training) -> str | None:
    """The run's architecture table at the recipe's input size, or one sample's size."""
    from ignite_zoo.engines.reports.architecture import architecture_text

    size = t.settings.model["input_size"] or list(t.val_ds[0][0].shape)
    model = t.model.module if hasattr(t.model, "module") else t.model
    was = model.training
    try:
        with rng_kept():
            return architecture_text(model.eval(), tuple(size), device=t.step_cfg.device)
    except Exception as e:  # a user model the table cannot walk: the run goes on without it
        log.info("architecture table unavailable: %s", e)
        return None
    finally:
        model.train(was)


def run_rank(local_rank: int, recipe: dict, run_path: str | None, resume: str | None,
             search_dir: str | None, chosen: list | None = None) -> None:
    """One rank's run. ``run_path`` None: a rank of torchrun, where rank 0 picks the run
    directory (``prepare_run_dir``) and tells the others.

    The straight line: recipe -> ``RunSettings`` (read once) -> ``build_training`` (datasets,
    model, engines, predictor) -> resume -> handlers by name -> the run directory."""
    s = RunSettings.from_recipe(recipe)
    import_modules(s.imports, search_dir)
    rank0 = idist.get_rank() == 0
    if run_path is None:
        if rank0:
            run, ckpt = prepare_run_dir(recipe)
            run.lock()
            run_path, resume = str(run.path), str(ckpt) if ckpt else ""
        run_path = idist.broadcast(run_path or "", src=0, safe_mode=True)
        resume = idist.broadcast(resume or "", src=0, safe_mode=True) or None
        if chosen is not None:
            chosen.append((run_path, resume))
    tr = s.train
    set_threads(tr.threads)
    set_deterministic(tr.deterministic)
    seed_everything(s.seed + idist.get_rank())
    device = idist.device() if idist.get_world_size() > 1 else resolve_device(tr.device)
    t = build_training(s, device)
    ema = prepare_ema(recipe, t.model, t.to_save)  # before resume: the average is resumed too
    if resume:
        trained_with = resume_from(t, Path(resume))
        saved = t.trainer.state.epoch_length
        if saved is not None and saved != t.epoch_length:
            raise RunError(f"resume: {resume} was trained with {saved} iterations per epoch and this recipe gives "
                           f"{t.epoch_length} (train.max_iters_per_epoch, data.loader.batch_size or the data changed); "
                           "resume with that run's settings")
        done = t.trainer.state.epoch
        if done > tr.epochs:
            raise RunError(f"resume: {resume} has finished {done} epochs and train.epochs={tr.epochs} asks for "
                           f"fewer; pass train.epochs >= {done} to continue it")
        if done == tr.epochs:
            log.warning("resume: %s has finished all %d epochs of train.epochs; nothing to do (pass a larger "
                        "train.epochs to continue it)", resume, done)
            return
        check_resume_settings(trained_with, recipe, resume)
    run = RunDir(run_path) if rank0 else None
    ctx = RunContext(recipe=recipe, trainer=t.trainer, evaluator=t.evaluator, model=t.model, optimizer=t.optimizer,
                     to_save=t.to_save, metric=metric_spec(recipe), val_ds=t.val_ds, step_cfg=t.step_cfg,
                     predictor=t.predictor, run_dir=run, dataset_info=getattr(t.val_ds, "info", None))
    if rank0:
        backbone = s.model["backbone"]
        ctx.provenance = {"init": describe_weights(backbone.get("weights"), str(backbone["type"])),
                          "architecture": architecture_of(t)}
    attach_epoch_summary(t)
    handlers = ([ema] if ema is not None else []) + attach_handlers(ctx, s.handlers)
    if ema is not None:
        ema.attach(ctx)
    error: BaseException | None = None
    try:
        if rank0:  # only now: a run that was refused leaves its directory as it was
            run.write_recipe(recipe)
        t.trainer.run(t.train_loader, max_epochs=tr.epochs, epoch_length=t.epoch_length)
    except BaseException as e:
        error = e
        raise
    finally:
        close_handlers(handlers, error)
