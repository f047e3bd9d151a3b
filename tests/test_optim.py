"""Optimizers and per-iteration LR schedules built from recipe mappings."""
from __future__ import annotations

import pytest
import torch

import engines.optim  # noqa: F401  (registers)
from registry import OPTIMIZERS, SCHEDULERS
from registry.errors import RecipeError


def _opt(lr=0.1):
    return OPTIMIZERS.build({"type": "sgd", "lr": lr}, params=[torch.nn.Parameter(torch.zeros(1))])


def _lrs(sched_cfg, total=10, per_epoch=5, lr=0.1):
    opt = _opt(lr)
    sched = SCHEDULERS.build(sched_cfg, optimizer=opt, total_iters=total, iters_per_epoch=per_epoch)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


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
    lrs = _lrs({"type": "cosine", "warmup_epochs": 1, "warmup_factor": 0.0}, total=15, per_epoch=5)
    assert lrs[:5] == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08])
    assert lrs[5] == pytest.approx(0.1)
    assert lrs[5:] == sorted(lrs[5:], reverse=True)


def test_step_schedule():
    lrs = _lrs({"type": "step", "step_epochs": 1, "gamma": 0.5}, total=10, per_epoch=5)
    assert lrs[4] == pytest.approx(0.1) and lrs[5] == pytest.approx(0.05)


def test_scheduler_state_round_trips():
    opt = _opt()
    sched = SCHEDULERS.build({"type": "poly"}, optimizer=opt, total_iters=10, iters_per_epoch=5)
    for _ in range(3):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = _opt()
    sched2 = SCHEDULERS.build({"type": "poly"}, optimizer=opt2, total_iters=10, iters_per_epoch=5)
    sched2.load_state_dict(state)
    opt2.step()
    sched2.step()
    opt.step()
    sched.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
