#!/usr/bin/env python
"""Search a recipe's hyper-parameters with optuna: ``ignite-zoo tune RECIPE --space SPACE.yaml --n-trials N``.

Examples:
  ignite-zoo tune recipes/seg_demo.yaml --space space.yaml --n-trials 20
  ignite-zoo tune seg_demo --space space.yaml --n-trials 20 --timeout 3600 train.epochs=5
  ignite-zoo tune seg_demo --space space.yaml --n-trials 40 --study demo_lr   # a second process joins

SPACE.yaml maps recipe keys to distributions:
  optim.lr: {loguniform: [1.0e-4, 1.0e-2]}
  optim.weight_decay: {uniform: [0.0, 1.0e-3]}
  data.loader.batch_size: {int: [4, 16]}
  model.head.type: {choice: [fcn8s, fcn32s]}

Each trial is a normal run in OUT_ROOT/STUDY/trial_NNN (out.root, default runs/; STUDY
defaults to the recipe's name), ranked by the recipe's eval.metric and pruned (median rule)
on its value after each epoch. The study is kept in OUT_ROOT/STUDY/study.db: run the same
command again to resume an interrupted search (failed or killed trials are tried again,
continuing from their last checkpoint), or in several processes at once to share it.
--n-trials counts the study's finished trials. The best trial's recipe is written to
OUT_ROOT/STUDY/best_recipe.yaml and the search's figure to OUT_ROOT/STUDY/search.png.
Needs optuna: pip install 'ignite-zoo[tune]'.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # a script in a checkout: ``ignite_zoo`` names this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _checkout  # noqa: F401

from ignite_zoo.registry.cli import main_guard, tool_parser  # noqa: E402  (light: no torch)
from ignite_zoo.registry.errors import UsageError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = tool_parser("tools/tune.py", __doc__)
    p.add_argument("recipe", help="recipe YAML file or shipped recipe name")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides for every trial")
    p.add_argument("--space", required=True, metavar="SPACE.yaml", help="the search space (see above)")
    p.add_argument("--n-trials", type=int, required=True, metavar="N", help="finished trials the study should hold")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="stop starting trials after S seconds")
    p.add_argument("--study", default=None, help="study name and folder under out.root (default: the recipe's name)")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_intermixed_args(argv)  # key=value may follow the options
    if args.n_trials < 1:
        raise UsageError(f"--n-trials {args.n_trials}: expected a positive integer")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout}: expected a positive number of seconds")
    from ignite_zoo.engines.tune import parse_space, require_optuna, tune
    from ignite_zoo.registry.recipe.compose import load_yaml

    require_optuna()  # before any work: the one error that names the extra
    if not Path(args.space).is_file():
        raise UsageError(f"--space {args.space}: file not found; expected a YAML mapping of recipe keys to "
                         "distributions")
    space = parse_space(load_yaml(args.space), f"--space {args.space}")
    tune(args.recipe, space, args.n_trials, args.timeout, args.overrides, args.study)
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
