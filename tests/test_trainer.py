"""The train step: gradient accumulation groups and what an epoch leaves behind."""
from __future__ import annotations

import copy

import pytest
import torch

from ignite_zoo.engines.trainer import StepConfig, create_trainer


def _batches(n: int, size: int = 2, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, 5, generator=g), torch.randint(0, 3, (size,), generator=g)) for _ in range(n)]


def _train(model: torch.nn.Module, batches: list, accum: int, epochs: int = 1) -> torch.nn.Module:
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    cfg = StepConfig(device=torch.device("cpu"), accum_steps=accum)
    create_trainer(model, opt, torch.nn.functional.cross_entropy, cfg, deterministic=False).run(batches, max_epochs=epochs)
    return model


def _manual(model: torch.nn.Module, groups: list[list]) -> torch.nn.Module:
    """One plain SGD step per group, on the loss of the group's batches taken together."""
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for group in groups:
        x = torch.cat([b[0] for b in group])
        y = torch.cat([b[1] for b in group])
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


def _close(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)


@pytest.fixture
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(5, 3)


def test_accumulating_two_batches_equals_one_batch_of_both(model):
    batches = _batches(4)
    _close(_train(copy.deepcopy(model), batches, accum=2), _manual(copy.deepcopy(model), [batches[:2], batches[2:]]))


def test_a_short_last_group_steps_on_its_own_mean_and_leaves_no_gradient(model):
    """5 batches, groups of 2: steps on (1,2), (3,4), then (5) alone; nothing is carried
    into the next epoch, where the checkpoint is written."""
    batches = _batches(5)
    trained = _train(copy.deepcopy(model), batches, accum=2)
    _close(trained, _manual(copy.deepcopy(model), [batches[0:2], batches[2:4], batches[4:5]]))
    assert all(p.grad is None for p in trained.parameters())


def test_groups_restart_each_epoch(model):
    batches = _batches(3)
    trained = _train(copy.deepcopy(model), batches, accum=2, epochs=2)
    groups = [batches[0:2], batches[2:3]] * 2
    _close(trained, _manual(copy.deepcopy(model), groups))


def test_accumulation_changes_the_result(model):
    """The comparison above can fail: stepping every batch gives other weights."""
    batches = _batches(4)
    with pytest.raises(AssertionError):
        _close(_train(copy.deepcopy(model), batches, accum=1), _manual(copy.deepcopy(model), [batches[:2], batches[2:]]))
