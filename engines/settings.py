"""The run's settings: small typed objects built once from the validated recipe.

A run reads its recipe here and nowhere else below: ``build`` and ``experiment`` take
these objects, so a key's meaning and default live in one place (the schema fills the
defaults, these objects name them), and a misspelt attribute fails in a test rather
than a ``KeyError`` deep in a run. Components (dataset, model, loss, optimizer, schedule,
handlers) keep their own sections as mappings: each checks its own arguments when it is
built from the registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ignite_zoo.engines.predictor import PredictSettings


@dataclass(frozen=True)
class LoaderSettings:
    """``data.loader``: how batches are made."""

    batch_size: int
    val_batch_size: int
    num_workers: int
    pin_memory: bool | str
    persistent_workers: bool
    prefetch_factor: int | None
    drop_last: bool


@dataclass(frozen=True)
class TrainSettings:
    """``train``: the loop, the machine and the precision."""

    epochs: int
    device: str
    threads: int | None
    deterministic: bool
    nproc_per_node: int
    compile: bool
    accum_steps: int
    max_iters_per_epoch: int | None
    log_every: int


@dataclass(frozen=True)
class EvalSettings:
    """``eval``: when to validate, what is scored, and how images become logits."""

    every: int
    miou_classes: list[int] | None
    metric: str | None
    predict: PredictSettings


@dataclass(frozen=True)
class RunSettings:
    """Everything a run reads from its recipe, once."""

    recipe: dict = field(repr=False)  # the resolved recipe: written to the run directory as it is
    task: str
    seed: int
    imports: list[str]
    data: Mapping[str, Any]
    model: Mapping[str, Any]
    loss: Mapping[str, Any]
    optim: Mapping[str, Any]
    sched: Mapping[str, Any] | None
    handlers: Mapping[str, Any]
    loader: LoaderSettings
    train: TrainSettings
    eval: EvalSettings

    @classmethod
    def from_recipe(cls, recipe: dict) -> "RunSettings":
        """From a recipe validated by ``registry.recipe.validate`` (every key present)."""
        ld, tr, ev = recipe["data"]["loader"], recipe["train"], recipe["eval"]
        return cls(
            recipe=recipe, task=recipe["task"], seed=recipe["seed"], imports=list(recipe["imports"]),
            data=recipe["data"], model=recipe["model"], loss=recipe["loss"], optim=recipe["optim"],
            sched=recipe["sched"] or None, handlers=recipe["handlers"],
            loader=LoaderSettings(ld["batch_size"], ld["val_batch_size"] or ld["batch_size"], ld["num_workers"],
                                  ld["pin_memory"], ld["persistent_workers"], ld["prefetch_factor"], ld["drop_last"]),
            train=TrainSettings(tr["epochs"], tr["device"], tr["threads"], tr["deterministic"], tr["nproc_per_node"],
                                tr["compile"], tr["accum_steps"], tr["max_iters_per_epoch"], tr["log_every"]),
            eval=EvalSettings(ev["every"], ev["miou_classes"], ev["metric"], PredictSettings.from_recipe(recipe)),
        )
