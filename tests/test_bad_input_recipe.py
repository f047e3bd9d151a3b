"""Bad recipe input through the command line, as a user types it: recipe names, ``_base_``,
list-index overrides, torch optimizers and schedulers by name, and tool flags. Each exits
with code 2 and one ``error:`` line naming the override, key or name, with no traceback."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_tool, tiny_seg

#: a run that fails while building the optimizer / scheduler, before any training
TINY = ["train.epochs=1", "train.max_iters_per_epoch=1", "handlers.tensorboard.enabled=false",
        "handlers.mask_snapshots.epochs=[]", "train.threads=1"]


def one_line_error(proc, *fragments: str) -> str:
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


@pytest.mark.parametrize("args, fragments", [
    (["seg_dem"], ["recipe file not found: seg_dem", "did you mean 'seg_demo'"]),
    (["no_such_recipe_at_all.yaml"], ["recipe file not found", "shipped recipes: ", "seg_demo"]),
    (["seg_demo", "data.train.transforms.9.p=1"],
     ["override 'data.train.transforms.9.p=1'", "data.train.transforms has 3 items", "index 9 is out of range"]),
    (["seg_demo", "data.train.transforms.flip.p=1"], ["data.train.transforms is a list", "'flip'"]),
    (["seg_demo", "model.head.0=1"], ["override 'model.head.0=1'", "model.head is a mapping, not a list"]),
    (["seg_demo", "data.val.transforms.0.p=1"], ["data.val.transforms has 0 items", "the list is empty"]),
])
def test_recipe_names_and_overrides(args, fragments):
    one_line_error(run_tool("run", *args, "--print-recipe", check=False, timeout=120), *fragments)


def test_missing_base_names_the_file_and_the_shipped_lookup(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("_base_: seg_dmo\n")
    one_line_error(run_tool("run", recipe, "--print-recipe", check=False, timeout=120),
                   "mine.yaml: _base_ file not found", "nor a shipped recipe 'seg_dmo'")


def test_a_shipped_name_resolves():
    """run_tool runs in the repository root, where no seg_demo.yaml lies: it is the shipped one."""
    proc = run_tool("run", "seg_demo.yaml", "model.head.type=fcn8s", "--print-recipe", timeout=120)
    assert "name: seg_demo" in proc.stdout and "type: fcn8s" in proc.stdout


@pytest.mark.parametrize("override, fragments", [
    ("optim={_delete_: true, type: AdamW, beta: [0.9, 0.99]}",
     ["optim: optimizer 'AdamW': unexpected argument 'beta'", "did you mean 'betas'?", "accepted arguments: "]),
    ("sched={_delete_: true, type: PolynomialLR, total_iters: 5}",
     ["sched.total_iters: set by the run, not by the recipe"]),
    ("sched.warmup_factor=0", ["sched.warmup_factor: expected a number in (0, 1]"]),
])
def test_optimizers_and_schedulers_by_torch_name(tmp_path, override, fragments):
    """A few end to end (each a whole process); test_optim has the rest in-process."""
    extra = ["sched.warmup_epochs=1"] if "warmup" in override else []
    proc = run_tool("run", "seg_demo", *tiny_seg(tmp_path, *TINY, f"out.root={tmp_path / 'runs'}", *extra),
                    override, check=False, timeout=300)
    one_line_error(proc, *fragments)
    assert not list((tmp_path / "runs").rglob("*.pt"))


def test_tool_flags_are_usage_errors(tmp_path):
    proc = run_tool("evaluate", tmp_path, tmp_path, "--batch-size", "0", check=False, timeout=120)
    one_line_error(proc, "--batch-size 0: expected a positive integer")


def test_home_in_an_override_is_expanded(tmp_path):
    proc = run_tool("run", "seg_demo", "data.root=~/somewhere", "--print-recipe", timeout=120,
                    env={"HOME": str(tmp_path)})
    assert f"root: {Path(tmp_path) / 'somewhere'}" in proc.stdout


def test_a_value_of_the_wrong_type_for_a_component_is_one_line(tmp_path):
    """``optim.lr=fast``: torch's TypeError becomes a recipe error naming the component."""
    from tests.helpers import DEMO, run_tool, tiny_seg

    proc = run_tool("run", DEMO, *tiny_seg(tmp_path, "optim.lr=fast", f"out.root={tmp_path / 'runs'}"), check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: optim: optimizer 'adam' refused its arguments:")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.pt"))


def test_a_handler_switched_off_with_false():
    from ignite_zoo.registry.recipe import load_recipe
    from tests.helpers import DEMO

    r = load_recipe(DEMO, ["handlers.tensorboard=false", "handlers.early_stopping=false", "handlers.checkpoint=true"])
    assert r["handlers"]["tensorboard"] is False and r["handlers"]["early_stopping"] is False
    assert r["handlers"]["checkpoint"] == {"keep_last": 1, "keep_best": 1, "every": 1}
