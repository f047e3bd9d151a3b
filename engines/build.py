"""A resolved recipe turned into the parts of a run: loaders, model, loss, optimizer,
schedule, trainer and evaluator. Nothing here writes a file."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

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
from ignite_zoo.engines.predictor import PredictSettings, Predictor
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


def build_loaders(recipe: Mapping[str, Any], device: torch.device) -> tuple[Any, Any, Any, Any]:
    """(train dataset, val dataset, train loader, val loader) from the recipe's ``data``."""
    from ignite_zoo.zoo.data import build_dataset, seed_worker

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
    bs, world = ld["batch_size"], idist.get_world_size()
    drop_last = ld["drop_last"] and len(train_ds) >= bs * world
    train_loader = idist.auto_dataloader(train_ds, batch_size=bs, drop_last=drop_last,
                                          **loader_order(recipe, train_ds), **common)
    val_bs = ld["val_batch_size"] or bs
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


def build_model_on(recipe: Mapping[str, Any], device: torch.device, channels_last: bool) -> torch.nn.Module:
    from ignite_zoo.zoo import build_model

    model = build_model(recipe["model"])
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


def num_classes_of(recipe: Mapping[str, Any], val_ds: Any) -> int:
    return getattr(val_ds, "num_classes", None) or recipe["model"]["head"].get("num_classes")


def build_metrics(recipe: Mapping[str, Any], val_ds: Any, loss_fn: Any, device: torch.device) -> dict:
    """The evaluator's metrics: the task's own (mIoU over ``eval.miou_classes`` or the
    dataset's default classes; accuracy) and the validation loss."""
    num_classes = num_classes_of(recipe, val_ds)
    val_loss = {"loss": Loss(loss_fn, device=device)}
    if recipe["task"] != "segmentation":
        return {**classification_metrics(num_classes, device=device), **val_loss}
    classes = recipe["eval"]["miou_classes"]
    if classes is None:
        classes = list(val_ds.info.eval_classes)
    bad = [c for c in classes if not isinstance(c, int) or not 0 <= c < num_classes]
    if bad:
        raise RecipeError(f"eval.miou_classes: {bad} are not class ids in 0..{num_classes - 1}")
    return {**segmentation_metrics(num_classes, classes, device=device), **val_loss}


def build_training(recipe: dict, device: torch.device | None = None) -> Training:
    """Datasets, model, loss, optimizer, schedule, engines and metrics (no file handlers),
    after one batch of each split has gone through all of them (``preflight``)."""
    tr = recipe["train"]
    step_cfg = StepConfig.from_recipe(recipe, device)
    device = step_cfg.device
    train_ds, val_ds, train_loader, val_loader = build_loaders(recipe, device)
    model = build_model_on(recipe, device, tr["channels_last"])
    loss_fn = LOSSES.build(loss_config(recipe, train_ds), _path="loss")
    metrics = build_metrics(recipe, val_ds, loss_fn, device)
    settings = PredictSettings.from_recipe(recipe)
    run_model = preflight(recipe, maybe_compile(model, tr["compile"]), model, loss_fn, metrics,
                          (train_ds, train_loader), (val_ds, val_loader), step_cfg,
                          lambda m: Predictor.for_model(m, step_cfg, settings), num_classes_of(recipe, val_ds))
    if idist.get_world_size() > 1:
        run_model = model = idist.auto_model(model)
    predictor = Predictor.for_model(run_model, step_cfg, settings)
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
    evaluator = create_evaluator(predictor, metrics, step_cfg)
    to_save: dict[str, Any] = {"model": model, "optimizer": optimizer, "trainer": EngineState(trainer),
                               "recipe": RecipeState(recipe)}
    if scheduler is not None:
        to_save["scheduler"] = scheduler
    if trainer.grad_scaler is not None:  # fp16 loss scale, so a resumed fp16 run continues exactly
        to_save["grad_scaler"] = trainer.grad_scaler
    return Training(recipe, model, optimizer, scheduler, loss_fn, trainer, evaluator, step_cfg,
                    train_ds, val_ds, train_loader, val_loader, to_save, iters, predictor)
