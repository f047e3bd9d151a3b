"""Bad recipe input through the command line, as a user types it: recipe names, ``_base_``,
list-index overrides, torch optimizers and schedulers by name, and tool flags. Each exits
with code 2 and one ``error:`` line naming the override, key or name, with no traceback.
The tools run in this process through the CLI guard, as their ``__main__`` does, from the
repository's root (where no seg_demo.yaml lies: a bare name is a shipped recipe)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_check import user_error
from tests.helpers import DEMO, REPO, call_tool, tiny_seg

#: a run that fails while building the optimizer / scheduler, before any training
TINY = ["train.epochs=1", "train.max_iters_per_epoch=1", "handlers.tensorboard.enabled=false",
        "handlers.mask_snapshots.epochs=[]", "train.threads=1"]


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("args, fragments", [
    (["seg_dem"], ["recipe file not found: seg_dem", "did you mean 'seg_demo'"]),
    (["no_such_recipe_at_all.yaml"], ["recipe file not found", "shipped recipes: ", "seg_demo"]),
    (["seg_demo", "data.train.transforms.9.p=1"],
     ["override 'data.train.transforms.9.p=1'", "data.train.transforms has 3 items", "index 9 is out of range"]),
    (["seg_demo", "data.train.transforms.flip.p=1"], ["data.train.transforms is a list", "'flip'"]),
    (["seg_demo", "model.head.0=1"], ["override 'model.head.0=1'", "model.head is a mapping, not a list"]),
    (["seg_demo", "data.val.transforms.0.p=1"], ["data.val.transforms has 0 items", "the list is empty"]),
])
def test_recipe_names_and_overrides(args, fragments, capsys):
    user_error(capsys, "run", *args, "--print-recipe", expect=fragments)


def test_missing_base_names_the_file_and_the_shipped_lookup(tmp_path, capsys):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("_base_: seg_dmo\n")
    user_error(capsys, "run", recipe, "--print-recipe",
               expect=["mine.yaml: _base_ file not found", "nor a shipped recipe 'seg_dmo'"])


def test_a_shipped_name_resolves(capsys):
    """In the repository root, where no seg_demo.yaml lies, the name is the shipped recipe."""
    assert not (REPO / "seg_demo.yaml").exists()
    code, out, err = call_tool("run", "seg_demo.yaml", "model.head.type=fcn8s", "--print-recipe", capsys=capsys)
    assert code == 0, err
    assert "name: seg_demo" in out and "type: fcn8s" in out


@pytest.mark.parametrize("override, fragments", [
    ("optim={_delete_: true, type: AdamW, beta: [0.9, 0.99]}",
     ["optim: optimizer 'AdamW': unexpected argument 'beta'", "did you mean 'betas'?", "accepted arguments: "]),
    ("sched={_delete_: true, type: PolynomialLR, total_iters: 5}",
     ["sched.total_iters: set by the run, not by the recipe"]),
    ("sched.warmup_factor=0", ["sched.warmup_factor: expected a number in (0, 1]"]),
])
def test_optimizers_and_schedulers_by_torch_name(tmp_path, override, fragments, capsys):
    """A few through the command line; test_optim has the rest, calling the builders."""
    extra = ["sched.warmup_epochs=1"] if "warmup" in override else []
    user_error(capsys, "run", "seg_demo", *tiny_seg(tmp_path, *TINY, f"out.root={tmp_path / 'runs'}", *extra),
               override, expect=fragments)
    assert not list((tmp_path / "runs").rglob("*.pt"))


def test_tool_flags_are_usage_errors(tmp_path, capsys):
    user_error(capsys, "evaluate", tmp_path, tmp_path, "--batch-size", "0",
               expect=["--batch-size 0: expected a positive integer"])


def test_home_in_an_override_is_expanded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = call_tool("run", "seg_demo", "data.root=~/somewhere", "--print-recipe", capsys=capsys)
    assert code == 0, err
    assert f"root: {Path(tmp_path) / 'somewhere'}" in out


def test_a_value_of_the_wrong_type_for_a_component_is_one_line(tmp_path, capsys):
    """``optim.lr=fast``: torch's TypeError becomes a recipe error naming the component."""
    line = user_error(capsys, "run", DEMO, *tiny_seg(tmp_path, "optim.lr=fast", f"out.root={tmp_path / 'runs'}"))
    assert line.startswith("error: optim: optimizer 'adam' refused its arguments:")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.pt"))


def test_a_handler_switched_off_with_false():
    from ignite_zoo.registry.recipe import load_recipe

    r = load_recipe(DEMO, ["handlers.tensorboard=false", "handlers.early_stopping=false", "handlers.checkpoint=true"])
    assert r["handlers"]["tensorboard"] is False and r["handlers"]["early_stopping"] is False
    assert r["handlers"]["checkpoint"] is True
    from ignite_zoo.engines.handlers import check_handlers

    section = check_handlers(r["handlers"])
    assert section["checkpoint"] == {"keep_last": 1, "keep_best": 1, "every": 1}
    assert section["tensorboard"] is False and section["early_stopping"] is False
