"""Pre-flight: one training batch and one validation batch through data -> model -> loss
-> metrics before the first epoch, so a shape or type error stops the run within seconds
with an error naming the component, not after minutes with a traceback.

It leaves no trace: the random states are restored, the model goes back to its mode and
no optimizer step is taken, so a run with pre-flight trains exactly as one without.
"""
from __future__ import annotations

import logging
import random
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from ignite.metrics import MetricsLambda

from ignite_zoo.engines.runtime import autocast
from ignite_zoo.engines.step import StepConfig, to_device
from ignite_zoo.registry.errors import DataError, RecipeError, UserError

log = logging.getLogger("engines")


@contextmanager
def rng_kept() -> Iterator[None]:
    states = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def _first_batch(ds: Any, loader: Any, split: str) -> Any:
    """The split's first batch, built from the dataset in this process (no workers, and no
    draw from the loader's sampler, whose random state belongs to the first epoch)."""
    n = min(len(ds), loader.batch_size or 1)
    samples = [ds[i] for i in range(n)]
    try:
        batch = loader.collate_fn(samples)
    except RuntimeError as e:
        check = getattr(ds, "check_same_size", None)
        if check is not None:
            check()  # names two files of different sizes (from their headers)
        shapes = {}
        for i, (x, _) in enumerate(samples):
            shapes.setdefault(tuple(getattr(x, "shape", ())), i)
        (s1, i1), (s2, i2) = list(shapes.items())[:2] if len(shapes) > 1 else (list(shapes.items()) * 2)[:2]
        ids = getattr(ds, "ids", None) or list(range(len(ds)))
        raise DataError(f"data.{split}: samples of one batch differ in size ({ids[i1]}: {list(s1)}, {ids[i2]}: "
                        f"{list(s2)}); expected one size per split: resize or crop in data.{split}.transforms "
                        f"({e})") from None
    check = getattr(ds, "check_same_size", None)
    if n > 1 and check is not None and tuple(batch[0].shape[-2:]) == ds.read_image(0).shape[:2]:
        check()  # transforms that keep the size: every image of the split must have one size
    return batch


def _forward(model: torch.nn.Module, x: torch.Tensor, cfg: StepConfig) -> Any:
    with torch.inference_mode(), autocast(cfg.device, cfg.amp_dtype):
        return model(x)


def _check_output(out: Any, x: torch.Tensor, y: torch.Tensor, recipe: Mapping[str, Any], num_classes: int) -> None:
    head = recipe["model"]["head"]["type"]
    if not isinstance(out, torch.Tensor):
        raise RecipeError(f"model.head: head {head!r} returned {type(out).__name__}, expected a tensor of logits "
                          f"[N, {num_classes}{', H, W' if recipe['task'] == 'segmentation' else ''}]")
    n = x.shape[0]
    if recipe["task"] == "segmentation":
        expected = (n, num_classes, *y.shape[-2:])
        what = "logits at the input size"
    else:
        expected = (n, num_classes)
        what = "one row of class scores per image"
    if tuple(out.shape) != expected:
        raise RecipeError(f"model.head: head {head!r} returned logits of shape {list(out.shape)} for input "
                          f"{list(x.shape)}, expected {list(expected)} ({what})")


def preflight(recipe: Mapping[str, Any], run_model: torch.nn.Module, model: torch.nn.Module, loss_fn: Any,
              metrics: Mapping[str, Any], train: tuple[Any, Any], val: tuple[Any, Any],
              cfg: StepConfig, predictor_for: Callable[[torch.nn.Module], Any], num_classes: int) -> torch.nn.Module:
    """Check one batch of each split; returns the model to train with (``model`` itself
    when ``train.compile`` was asked for but the compiler fails on this machine).

    The validation batch goes through the run's predictor (``predictor_for(model)``), as
    validation will: whole or tiled, with its test-time augmentation."""
    was_training = model.training
    model.eval()
    try:
        with rng_kept():
            for split, (ds, loader) in (("train", train), ("val", val)):
                x, y = to_device(_first_batch(ds, loader, split), cfg)
                forward = (lambda m, x: predictor_for(m)(x)) if split == "val" else (lambda m, x: _forward(m, x, cfg))
                try:
                    out = forward(run_model, x)
                except UserError:
                    raise
                except Exception as e:
                    if run_model is model:
                        raise
                    log.warning("train.compile: the compiled model failed on its first batch (%s: %s); "
                                "running the model uncompiled", type(e).__name__, str(e).splitlines()[0][:200])
                    run_model = model
                    out = forward(run_model, x)
                _check_output(out, x, y, recipe, num_classes)
                out = out.float()
                with torch.no_grad():
                    loss_fn(out, y)
                if split == "val":
                    for name, metric in metrics.items():
                        if isinstance(metric, MetricsLambda):
                            continue
                        metric.reset()
                        try:
                            metric.update((out, y))
                        except (ValueError, RuntimeError, TypeError) as e:
                            raise RecipeError(f"eval: metric {name!r} cannot score the model's output "
                                              f"{list(out.shape)} against targets {list(y.shape)}: {e}") from None
                        metric.reset()
    finally:
        model.train(was_training)
    return run_model
