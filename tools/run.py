#!/usr/bin/env python
"""Train and validate what a recipe describes: ``python tools/run.py RECIPE [key=value ...]``.

Examples:
  python tools/run.py recipes/seg_demo.yaml
  python tools/run.py recipes/seg_fcn8s_vgg16_sat.yaml data.root=/data/p2 train.epochs=3
  python tools/run.py recipes/seg_demo.yaml resume=auto     # continue the latest run
  python tools/run.py --list                                # what each registry holds
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # a script in a checkout: ``ignite_zoo`` names this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _checkout  # noqa: F401

from ignite_zoo.registry.cli import main_guard, tool_parser  # noqa: E402  (light: no torch)


def build_parser() -> argparse.ArgumentParser:
    p = tool_parser("tools/run.py", __doc__)
    p.add_argument("recipe", nargs="?", help="recipe YAML file (see recipes/)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="recipe overrides, values parsed as YAML (train.epochs=3, model.head.type=fcn8s, resume=auto)")
    p.add_argument("--list", action="store_true", help="print the registered backbones, heads, losses, datasets, ...")
    p.add_argument("--list-recipes", action="store_true", help="print the recipes shipped with the package, by name")
    p.add_argument("--print-recipe", action="store_true", help="print the resolved recipe and exit without training")
    p.add_argument("--debug", action="store_true", help="show tracebacks of user errors")
    return p


def list_registries() -> None:
    from ignite_zoo import zoo  # noqa: F401  (fills the registries)
    from ignite_zoo.engines import handlers, optim  # noqa: F401
    from ignite_zoo.registry import REGISTRIES
    from ignite_zoo.registry.plugins import load_entry_point_plugins

    load_entry_point_plugins()
    for name, reg in REGISTRIES.items():
        print(f"{reg.plural} ({len(reg)}): {', '.join(reg.names())}")


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        list_registries()
        return 0
    if args.list_recipes:
        from ignite_zoo.registry.recipe.shipped import recipe_descriptions

        recipes = recipe_descriptions()
        width = max((len(r) for r in recipes), default=0) + 2
        print("\n".join(f"{name:<{width}}{desc}".rstrip() for name, desc in recipes.items()))
        return 0
    if not args.recipe:
        build_parser().error("a recipe file is required (or --list); see --help")
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("ignite.distributed.auto.auto_dataloader", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # the engine logs the exception that ends a run, twice, a DataLoader worker's traceback
    # included; main_guard prints a user error in one line and Python the traceback of others
    logging.getLogger("ignite.engine.engine").setLevel(logging.CRITICAL)
    from ignite_zoo.registry.recipe import load_recipe, resolve_recipe_path

    recipe = load_recipe(args.recipe, args.overrides)
    search_dir = resolve_recipe_path(args.recipe).resolve().parent
    if args.print_recipe:
        from ignite_zoo.engines.launch import check_before_work
        from ignite_zoo.registry.recipe import dump_yaml

        check_before_work(recipe, search_dir, weights=False)  # handler settings checked and filled in
        print(dump_yaml(recipe), end="")
        return 0
    from ignite_zoo.engines.launch import run_experiment

    run_dir = run_experiment(recipe, search_dir=search_dir)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, every rank returns here
        print(f"run directory: {run_dir}")
    return 0


def prepare_process() -> None:
    """Process-wide settings for a training process of its own (the command line's entry
    points call this; a program calling ``main`` keeps its own): on glibc, freed memory is
    kept for reuse instead of being faulted back in on every step
    (``registry.process.keep_freed_memory``)."""
    from ignite_zoo.registry.process import keep_freed_memory

    keep_freed_memory()


if __name__ == "__main__":
    prepare_process()
    sys.exit(main_guard(main))
