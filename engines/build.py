"""The run's settings (``engines.settings.RunSettings``) turned into the parts of a run:
loaders, model, loss, optimizer, schedule, trainer, evaluator and predictor. Nothing here
writes a file; each component is built from its own section of the settings."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator

import ignite.distributed as idist
import torch
from ignite.engine import Engine
from ignite.metrics import Loss

from ignite_zoo.engines import optim as _optim  # noqa: F401  (registers optimizers and schedulers)
from ignite_zoo.engines.checkpoint import EngineState, RecipeState
from ignite_zoo.engines.evaluator import create_evaluator
from ignite_zoo.engines.imbalance import loader_order, loss_config
from ignite_zoo.engines.metrics import classification_metrics, segmentation_metrics
from ignite_zoo.engines.preflight import preflight
from ignite_zoo.engines.predictor import Predictor
from ignite_zoo.engines.settings import RunSettings
from ignite_zoo.engines.step import StepConfig
from ignite_zoo.engines.trainer import create_trainer
from ignite_zoo.registry import LOSSES, OPTIMIZERS, SCHEDULERS
from ignite_zoo.registry.errors import RecipeError

log = logging.getLogger("engines")


class ShardSampler(torch.utils.data.Sampler):
    """Every ``world``-th index from ``rank``, without padding: with several processes each
    validation image is scored exactly once (``DistributedSampler`` repeats images to
    even out the shards, which counts them twice in the metrics)."""

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.indices = list(range(rank, n, world))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def build_loaders(s: RunSettings, device: torch.device) -> tuple[Any, Any, Any, Any]:
    """(train dataset, val dataset, train loader, val loader) from ``data`` and ``data.loader``."""
    from ignite_zoo.zoo.data import build_dataset, seed_worker

    train_ds = build_dataset(s.data, "train")
    val_ds = build_dataset(s.data, "val")
    ld = s.loader
    pin = ld.pin_memory if isinstance(ld.pin_memory, bool) else device.type == "cuda"
    common: dict[str, Any] = {"num_workers": ld.num_workers, "pin_memory": pin, "worker_init_fn": seed_worker}
    if ld.num_workers > 0:
        common["persistent_workers"] = ld.persistent_workers
        if ld.prefetch_factor is not None:
            common["prefetch_factor"] = ld.prefetch_factor
    bs, world = ld.batch_size, idist.get_world_size()
    drop_last = ld.drop_last and len(train_ds) >= bs * world
    train_loader = idist.auto_dataloader(train_ds, batch_size=bs, drop_last=drop_last,
                                          **loader_order(s.recipe, train_ds), **common)
    val_bs = ld.val_batch_size
    if world > 1:
        val_loader = torch.utils.data.DataLoader(val_ds, batch_size=max(1, val_bs // world),
                                                 sampler=ShardSampler(len(val_ds), idist.get_rank(), world), **common)
    else:
        val_loader = torch.utils.data.DataLoader(val_ds, batch_size=val_bs, shuffle=False, **common)
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
    predictor: Any = None  # engines.predictor.Predictor: validation's, snapshots' and tools' logits
    settings: Any = None  # engines.settings.RunSettings the parts were built from


def build_model_on(s: RunSettings, device: torch.device, channels_last: bool) -> torch.nn.Module:
    """The model of ``model``; ``normalize: {mean: auto, std: auto}`` takes the data's measured
    statistics (``ignite-zoo stats``), and the values used are written into the recipe the
    run records."""
    from ignite_zoo.zoo import build_model
    from ignite_zoo.zoo.data.stats import resolve_normalize

    norm = s.model.get("normalize")
    resolved = resolve_normalize(norm, s.data)
    if resolved != norm:
        s.recipe["model"]["normalize"] = resolved
        log.info("model.normalize: the data's statistics: mean %s, std %s", resolved["mean"], resolved["std"])
    model = build_model({**s.model, "normalize": resolved})
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.to(device)


def maybe_compile(model: torch.nn.Module, on: bool) -> torch.nn.Module:
    if not on:
        return model
    try:
        return torch.compile(model)
    except Exception as e:  # no compiler toolchain, unsupported platform
        log.warning("train.compile: torch.compile is unavailable here (%s); running the model uncompiled", e)
        return model


def num_classes_of(s: RunSettings, val_ds: Any) -> int:
    return getattr(val_ds, "num_classes", None) or s.model["head"].get("num_classes")


def build_metrics(s: RunSettings, val_ds: Any, loss_fn: Any, device: torch.device) -> dict:
    """The evaluator's metrics: the task's own (mIoU over ``eval.miou_classes`` or the
    dataset's default classes; accuracy) and the validation loss."""
    num_classes = num_classes_of(s, val_ds)
    val_loss = {"loss": Loss(loss_fn, device=device)}
    if s.task != "segmentation":
        return {**classification_metrics(num_classes, device=device), **val_loss}
    classes = s.eval.miou_classes
    if classes is None:
        classes = list(val_ds.info.eval_classes)
    bad = [c for c in classes if not isinstance(c, int) or not 0 <= c < num_classes]
    if bad:
        raise RecipeError(f"eval.miou_classes: {bad} are not class ids in 0..{num_classes - 1}")
    return {**segmentation_metrics(num_classes, classes, device=device), **val_loss}


def build_training(s: RunSettings, device: torch.device | None = None) -> Training:
    """Datasets, model, loss, optimizer, schedule, engines and metrics (no file handlers),
    after one batch of each split has gone through all of them (``preflight``)."""
    tr = s.train
    step_cfg = StepConfig.from_recipe(s.recipe, device)
    device = step_cfg.device
    train_ds, val_ds, train_loader, val_loader = build_loaders(s, device)
    model = build_model_on(s, device, step_cfg.channels_last)
    loss_fn = LOSSES.build(loss_config(s.recipe, train_ds), _path="loss")
    metrics = build_metrics(s, val_ds, loss_fn, device)
    run_model = preflight(s.recipe, maybe_compile(model, tr.compile), model, loss_fn, metrics,
                          (train_ds, train_loader), (val_ds, val_loader), step_cfg,
                          lambda m: Predictor.for_model(m, step_cfg, s.eval.predict), num_classes_of(s, val_ds))
    if idist.get_world_size() > 1:
        run_model = model = idist.auto_model(model)
    predictor = Predictor.for_model(run_model, step_cfg, s.eval.predict)
    optimizer = OPTIMIZERS.build(s.optim, _path="optim", params=model.parameters())
    if idist.get_world_size() > 1:
        optimizer = idist.auto_optim(optimizer)
    iters = len(train_loader)
    if tr.max_iters_per_epoch is not None:
        iters = min(iters, tr.max_iters_per_epoch)
    scheduler = None
    if s.sched:
        steps_per_epoch = -(-iters // tr.accum_steps)  # a short last group steps too
        scheduler = SCHEDULERS.build(s.sched, _path="sched", optimizer=optimizer,
                                     total_iters=steps_per_epoch * tr.epochs, iters_per_epoch=steps_per_epoch)
    trainer = create_trainer(run_model, optimizer, loss_fn, step_cfg, scheduler)
    evaluator = create_evaluator(predictor, metrics, step_cfg)
    to_save: dict[str, Any] = {"model": model, "optimizer": optimizer, "trainer": EngineState(trainer),
                               "recipe": RecipeState(s.recipe)}
    if scheduler is not None:
        to_save["scheduler"] = scheduler
    if trainer.grad_scaler is not None:  # fp16 loss scale, so a resumed fp16 run continues exactly
        to_save["grad_scaler"] = trainer.grad_scaler
    return Training(s.recipe, model, optimizer, scheduler, loss_fn, trainer, evaluator, step_cfg,
                    train_ds, val_ds, train_loader, val_loader, to_save, iters, predictor, s)
