"""train.ema: validation runs on the averaged weights and puts the training ones back; the
best checkpoint holds the average; the last one holds both. The tiny run also draws with
the class-balanced sampler and computed class weights."""
from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine

from ignite_zoo.engines.checkpoint import read_checkpoint
from ignite_zoo.engines.events import RunContext
from ignite_zoo.engines.handlers.ema import EMA, prepare_ema
from ignite_zoo.engines.launch import run_experiment
from ignite_zoo.engines.run_dir import RunDir
from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.recipe import load_recipe
from tests.helpers import DEMO, tiny_seg


def test_validation_sees_the_average_and_training_weights_come_back():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    to_save: dict = {"model": model}
    ema = prepare_ema({"train": {"ema": {"momentum": 0.5}}}, model, to_save)
    trainer = Engine(lambda e, b: None)
    seen = []
    evaluator = Engine(lambda e, b: seen.append(model[0].weight.detach().clone()))
    ema.attach(RunContext(recipe={}, trainer=trainer, evaluator=evaluator, model=model, optimizer=None,
                          to_save=to_save, metric=None, val_ds=None, step_cfg=None))
    with torch.no_grad():
        to_save["ema_model"][0].weight.fill_(7.0)  # an average that differs from the weights
    raw = model[0].weight.detach().clone()
    evaluator.run([0, 1], max_epochs=1)
    assert all(torch.equal(w, torch.full_like(w, 7.0)) for w in seen)
    assert torch.equal(model[0].weight, raw)  # training continues from its own weights
    trainer.run([0], max_epochs=1)  # one iteration: ema = 0.5 * 7 + 0.5 * weights
    assert torch.allclose(to_save["ema_model"][0].weight, 0.5 * 7.0 + 0.5 * raw)


def test_ema_settings_are_checked():
    with pytest.raises(RecipeError, match=r"train.ema.momentum: expected a number in \(0, 1\).*got 1.5"):
        prepare_ema({"train": {"ema": {"momentum": 1.5}}}, torch.nn.Linear(1, 1), {})
    with pytest.raises(RecipeError, match="train.ema.*unexpected argument 'decay'"):
        prepare_ema({"train": {"ema": {"decay": 0.9}}}, torch.nn.Linear(1, 1), {})
    assert prepare_ema({"train": {"ema": None}}, torch.nn.Linear(1, 1), {}) is None
    assert isinstance(EMA(), EMA)


def test_run_with_ema_sampler_and_auto_weights(tmp_path, capsys):
    recipe = load_recipe(DEMO, tiny_seg(tmp_path, "train.epochs=1", "data.args.n=8", f"out.dir={tmp_path / 'run'}",
                                        "handlers.mask_snapshots=false", "train.ema={momentum: 0.9}",
                                        "loss.class_weights=auto", "data.sampler={type: class_balanced}"))
    run = RunDir(run_experiment(recipe))
    assert "loss.class_weights: median_frequency from" in capsys.readouterr().out
    last = read_checkpoint(run.last_checkpoint())
    best = read_checkpoint(run.best_checkpoint())
    assert set(best["model"]) == set(last["ema_model"])
    assert all(torch.equal(best["model"][k], last["ema_model"][k]) for k in best["model"])
    assert any(not torch.equal(last["model"][k], last["ema_model"][k]) for k in last["model"]
               if last["model"][k].is_floating_point())
