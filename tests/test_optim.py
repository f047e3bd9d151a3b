"""Optimizers and per-iteration LR schedules built from recipe mappings."""
from __future__ import annotations

import math

import pytest
import torch

from ignite_zoo.engines import optim  # noqa: F401  (registers)
from ignite_zoo.registry import OPTIMIZERS, SCHEDULERS
from ignite_zoo.registry.errors import RecipeError


def _opt(lr=0.1, params=None):
    params = params if params is not None else [torch.nn.Parameter(torch.zeros(1))]
    return OPTIMIZERS.build({"type": "sgd", "lr": lr}, params=params)


def _lrs(sched_cfg, total=10, per_epoch=5, lr=0.1):
    opt = _opt(lr)
    sched = SCHEDULERS.build(sched_cfg, optimizer=opt, total_iters=total, iters_per_epoch=per_epoch)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


# -- the schedules as they were written by hand (LambdaLR factors), kept as the reference --
def _reference_factor(kind: str, total_iters: int, iters_per_epoch: int, warmup_epochs: float = 0.0,
                      warmup_factor: float = 0.1, **kw):
    warm = int(warmup_epochs * iters_per_epoch)
    span = max(1, total_iters - warm)
    if kind == "constant":
        def fn(it):
            return 1.0
    elif kind == "step":
        every = max(1, kw.get("step_epochs", 10) * iters_per_epoch)

        def fn(it):
            return kw.get("gamma", 0.1) ** (it // every)
    elif kind == "cosine":
        m = kw.get("min_factor", 0.0)

        def fn(it):
            t = min(1.0, (it - warm) / span)
            return m + (1 - m) * 0.5 * (1 + math.cos(math.pi * t))
    else:
        def fn(it):
            return max(0.0, 1 - (it - warm) / span) ** kw.get("power", 0.9)

    def factor(it):
        if it < warm:
            alpha = it / max(1, warm)
            return warmup_factor * (1 - alpha) + alpha
        return fn(it)

    return factor


def _reference_lrs(cfg, total, per_epoch, lr=0.1):
    cfg = dict(cfg)
    factor = _reference_factor(cfg.pop("type"), total, per_epoch, **cfg)
    return [lr * factor(it) for it in range(total + 1)]


@pytest.mark.parametrize("cfg", [
    {"type": "constant"},
    {"type": "constant", "warmup_epochs": 1, "warmup_factor": 0.25},
    {"type": "step", "step_epochs": 2, "gamma": 0.5},
    {"type": "step", "step_epochs": 3, "gamma": 0.1, "warmup_epochs": 1.5},
    {"type": "cosine"},
    {"type": "cosine", "min_factor": 0.05, "warmup_epochs": 1},
    {"type": "poly", "power": 0.9},
    {"type": "poly", "power": 1.0, "warmup_epochs": 2, "warmup_factor": 0.01},
    {"type": "poly", "power": 0.9, "warmup_epochs": 0.5},
])
def test_schedules_match_the_hand_written_reference(cfg):
    """Every schedule gives the same lr at every iteration as the former LambdaLR factors,
    including the lr after the very last step."""
    total, per_epoch = 37, 5
    opt = _opt(0.1)
    sched = SCHEDULERS.build(cfg, optimizer=opt, total_iters=total, iters_per_epoch=per_epoch)
    got = [opt.param_groups[0]["lr"]]
    for _ in range(total):
        opt.step()
        sched.step()
        got.append(opt.param_groups[0]["lr"])
    assert got == pytest.approx(_reference_lrs(cfg, total, per_epoch), rel=1e-9, abs=1e-12)


def test_optimizers_by_name():
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert isinstance(OPTIMIZERS.build({"type": "adamw", "lr": 1e-3}, params=p), torch.optim.AdamW)
    sgd = OPTIMIZERS.build({"type": "sgd", "lr": 0.05, "momentum": 0.8}, params=p)
    assert sgd.param_groups[0]["momentum"] == 0.8 and sgd.param_groups[0]["lr"] == 0.05
    with pytest.raises(RecipeError, match="did you mean 'adam"):
        OPTIMIZERS.build({"type": "adma"}, params=p)


def test_poly_schedule_decays_to_zero():
    lrs = _lrs({"type": "poly", "power": 1.0})
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[5] == pytest.approx(0.05)
    assert lrs[-1] == pytest.approx(0.01)


def test_warmup_ramps_linearly_then_follows_the_schedule():
    lrs = _lrs({"type": "cosine", "warmup_epochs": 1, "warmup_factor": 0.2}, total=15, per_epoch=5)
    assert lrs[:5] == pytest.approx([0.02, 0.036, 0.052, 0.068, 0.084])
    assert lrs[5] == pytest.approx(0.1)
    assert lrs[5:] == sorted(lrs[5:], reverse=True)


def test_step_schedule():
    lrs = _lrs({"type": "step", "step_epochs": 1, "gamma": 0.5}, total=10, per_epoch=5)
    assert lrs[4] == pytest.approx(0.1) and lrs[5] == pytest.approx(0.05)


def test_scheduler_state_round_trips():
    """With the optimizer's state, as a checkpoint holds both: torch's schedulers update the
    optimizer's lr step by step, so the lr itself lives in the optimizer state."""
    for cfg in ({"type": "poly"}, {"type": "cosine", "warmup_epochs": 1}, {"type": "step", "step_epochs": 1,
                                                                            "warmup_epochs": 0.4}):
        opt = _opt()
        sched = SCHEDULERS.build(cfg, optimizer=opt, total_iters=10, iters_per_epoch=5)
        for _ in range(3):
            opt.step()
            sched.step()
        state = sched.state_dict()
        opt2 = _opt()
        sched2 = SCHEDULERS.build(cfg, optimizer=opt2, total_iters=10, iters_per_epoch=5)
        opt2.load_state_dict(opt.state_dict())
        sched2.load_state_dict(state)
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
        for _ in range(4):
            opt2.step()
            sched2.step()
            opt.step()
            sched.step()
            assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"]), cfg


# -- torch.optim by torch's own names ----------------------------------------------------
def _params():
    return [torch.nn.Parameter(torch.zeros(3, 2)), torch.nn.Parameter(torch.zeros(3))]


def test_torch_optimizers_by_their_own_name():
    opt = OPTIMIZERS.build({"type": "AdamW", "lr": 1e-3, "weight_decay": 0.05, "amsgrad": True}, params=_params())
    assert type(opt) is torch.optim.AdamW
    assert opt.param_groups[0]["weight_decay"] == 0.05 and opt.param_groups[0]["amsgrad"] is True
    assert type(OPTIMIZERS.build({"type": "RMSprop", "lr": 0.01}, params=_params())) is torch.optim.RMSprop
    assert type(OPTIMIZERS.build({"type": "SGD", "lr": 0.1}, params=_params())) is torch.optim.SGD
    assert type(OPTIMIZERS.build({"type": "sgd"}, params=_params())) is torch.optim.SGD  # the preset


def test_torch_optimizer_arguments_are_checked():
    with pytest.raises(RecipeError) as info:
        OPTIMIZERS.build({"type": "AdamW", "lr": 1e-3, "beta": [0.9, 0.99]}, _path="optim", params=_params())
    msg = str(info.value)
    assert msg.startswith("optim: optimizer 'AdamW': unexpected argument 'beta' (did you mean 'betas'?)")
    assert "accepted arguments: params, no_decay_bias_norm, lr, betas" in msg and "weight_decay" in msg
    with pytest.raises(RecipeError, match="optim.params: set by the run, not by the recipe"):
        OPTIMIZERS.build({"type": "AdamW", "params": []}, _path="optim", params=_params())
    with pytest.raises(RecipeError, match="optim.type: unknown optimizer 'AdamWW'; did you mean 'AdamW'"):
        OPTIMIZERS.build({"type": "AdamWW"}, _path="optim", params=_params())
    with pytest.raises(RecipeError, match="or any torch.optim optimizer by its name"):
        OPTIMIZERS.build({"type": "zzzzzz"}, params=_params())
    with pytest.raises(RecipeError, match="optim.type: torch's LBFGS cannot train here"):
        OPTIMIZERS.build({"type": "LBFGS"}, _path="optim", params=_params())
    with pytest.raises(RecipeError, match="refused its arguments: Invalid learning rate"):
        OPTIMIZERS.build({"type": "Adam", "lr": -1.0}, params=_params())


def test_torch_schedulers_by_their_own_name_count_iterations():
    lrs = _lrs({"type": "StepLR", "step_size": 3, "gamma": 0.5}, total=7)
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    lrs = _lrs({"type": "CosineAnnealingLR"}, total=10)  # T_max: the run's length
    assert lrs[5] == pytest.approx(0.05) and lrs[0] == pytest.approx(0.1)
    lrs = _lrs({"type": "PolynomialLR", "power": 1.0}, total=10)  # total_iters: the run's
    assert lrs[5] == pytest.approx(0.05)
    opt = _opt()
    sched = SCHEDULERS.build({"type": "OneCycleLR", "max_lr": 1.0}, optimizer=opt, total_iters=20,
                             iters_per_epoch=5)
    assert sched.total_steps == 20
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert max(lrs) == pytest.approx(1.0, rel=0.05) and lrs[-1] < 0.01


def test_torch_scheduler_arguments_are_checked():
    def build(cfg):
        with pytest.raises(RecipeError) as info:
            SCHEDULERS.build(cfg, _path="sched", optimizer=_opt(), total_iters=10, iters_per_epoch=5)
        return str(info.value)

    msg = build({"type": "StepLR", "step": 3})
    assert "sched: scheduler 'StepLR': unexpected argument 'step'" in msg and "step_size" in msg
    assert "missing required argument 'step_size'" in msg
    assert build({"type": "PolynomialLR", "total_iters": 5}).startswith(
        "sched.total_iters: set by the run, not by the recipe")
    assert "cannot be built from a recipe" in build({"type": "ReduceLROnPlateau"})
    assert "cannot be built from a recipe" in build({"type": "LambdaLR"})
    assert "did you mean 'OneCycleLR'" in build({"type": "OnecycleLR"})


def test_warmup_factor_must_be_positive():
    with pytest.raises(RecipeError, match=r"sched.warmup_factor: expected a number in \(0, 1\]"):
        _lrs({"type": "poly", "warmup_epochs": 1, "warmup_factor": 0.0})
    assert _lrs({"type": "poly", "warmup_factor": 0.0})[0] == pytest.approx(0.1)  # no warm-up: unused


# -- no weight decay on biases and norm layers -------------------------------------------
def _net():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                               torch.nn.Linear(4, 2), torch.nn.LayerNorm(2))


@pytest.mark.parametrize("type_", ["sgd", "adamw", "AdamW", "SGD"])
def test_no_decay_bias_norm(type_):
    net = _net()
    opt = OPTIMIZERS.build({"type": type_, "lr": 0.1, "weight_decay": 0.01, "no_decay_bias_norm": True},
                           params=net.parameters())
    decay, plain = opt.param_groups
    names = {id(p): n for n, p in net.named_parameters()}
    assert sorted(names[id(p)] for p in decay["params"]) == ["0.weight", "3.weight"]
    assert sorted(names[id(p)] for p in plain["params"]) == ["0.bias", "1.bias", "1.weight", "3.bias",
                                                             "4.bias", "4.weight"]
    assert decay["weight_decay"] == 0.01 and plain["weight_decay"] == 0.0
    assert decay["lr"] == plain["lr"] == 0.1
    off = OPTIMIZERS.build({"type": type_, "lr": 0.1, "weight_decay": 0.01}, params=net.parameters())
    assert len(off.param_groups) == 1 and off.param_groups[0]["weight_decay"] == 0.01


def test_no_decay_bias_norm_leaves_those_parameters_undecayed():
    torch.manual_seed(0)
    net = _net()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = OPTIMIZERS.build({"type": "sgd", "lr": 0.5, "momentum": 0.0, "weight_decay": 0.1,
                            "no_decay_bias_norm": True}, params=net.parameters())
    opt.step()  # no gradients: only weight decay could move anything, and SGD skips grad-less params
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = dict(net.named_parameters())
    assert torch.equal(after["1.weight"], before["1.weight"]) and torch.equal(after["0.bias"], before["0.bias"])
    assert torch.allclose(after["0.weight"], before["0.weight"] * (1 - 0.5 * 0.1))


def test_schedules_drive_every_param_group():
    net = _net()
    opt = OPTIMIZERS.build({"type": "sgd", "lr": 0.1, "no_decay_bias_norm": True}, params=net.parameters())
    sched = SCHEDULERS.build({"type": "cosine", "warmup_epochs": 1}, optimizer=opt, total_iters=10,
                             iters_per_epoch=2)
    for _ in range(4):
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] == opt.param_groups[1]["lr"]


# -- seeding (engines/runtime.py; its training randomness starts here) ---------------------
def _draws():
    import random

    import numpy as np

    return random.random(), float(np.random.rand()), torch.rand(3).tolist(), torch.randint(0, 10**6, (2,)).tolist()


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 - 1])
def test_seed_everything_draws_as_before(seed):
    """ignite's manual_seed gives the same numbers as the former random/numpy/torch seeding."""
    import random

    import numpy as np

    from ignite_zoo.engines.runtime import seed_everything

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    before = _draws()
    seed_everything(seed)
    assert _draws() == before
    seed_everything(seed + 1)
    assert _draws() != before


def test_seed_everything_takes_seeds_numpy_refuses():
    from ignite_zoo.engines.runtime import seed_everything

    seed_everything(2**40 + 5)
    a = _draws()
    seed_everything(5)
    assert _draws() == a  # wrapped below 2**32 for every generator alike
