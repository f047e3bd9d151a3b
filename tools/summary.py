#!/usr/bin/env python
"""Print a model's architecture table (torchsummary format), and optionally its module tree.

    python tools/summary.py recipes/fcn8s.yaml                 # the recipe's model
    python tools/summary.py recipes/seg_demo.yaml model.head.type=fcn8s
    python tools/summary.py runs/seg_demo/RUN                  # a run's model at its input size
    python tools/summary.py recipes/fcn8s.yaml --input 3,500,375 --tree
    python tools/summary.py torchvision:vgg16 --input 3,224,224
    python tools/summary.py timm:resnet18

Nothing is downloaded and no weights file is read: a table needs shapes only, so
torchvision models are built with ``weights=None``, timm models with ``pretrained=False``
and a recipe's (or run directory's) backbone without its ``weights`` file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # a script in a checkout: ``ignite_zoo`` names this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _checkout  # noqa: F401

from ignite_zoo.registry.cli import main_guard  # noqa: E402  (light: no torch)
from ignite_zoo.registry.errors import UsageError  # noqa: E402


def parse_input(text: str) -> tuple[int, ...]:
    """``"3,512,512"`` (or ``3x512x512``) -> ``(3, 512, 512)``; anything else is a user error."""
    parts = text.replace("x", ",").replace(" ", "").split(",")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) < 1 or any(d < 1 for d in dims):
        raise UsageError(f"--input {text!r}: expected positive integers C,H,W such as 3,512,512")
    return dims


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/summary.py",
        description="Print a model's layer table (torchsummary format): output shapes, parameters, memory.",
    )
    parser.add_argument("model", metavar="MODEL", help="a recipe YAML (its model section), a run directory, "
                        "torchvision:<builder> or timm:<name>")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="recipe overrides after a recipe or run directory, e.g. model.head.type=fcn8s")
    parser.add_argument("--input", metavar="C,H,W", help="input size without batch (default: the recipe's "
                        "model.input_size, else 3,32,32 for classification and 3,512,512 for segmentation; "
                        "3,224,224 or timm's own for torchvision/timm models)")
    parser.add_argument("--batch-size", type=int, default=-1,
                        help="batch size shown in the shapes and used for the memory estimate (default -1: per sample)")
    parser.add_argument("--num-classes", type=int, default=None, help="override the recipe head's num_classes")
    parser.add_argument("--tree", action="store_true", help="also print the module tree (print(model))")
    args = parser.parse_intermixed_args(list(argv))  # overrides may follow --input and the like

    size = parse_input(args.input) if args.input is not None else None
    model_path = Path(args.model)
    if model_path.suffix.lower() in (".pt", ".pth") and model_path.is_file():
        run = model_path.parent.parent if model_path.parent.name == "checkpoints" else None
        hint = f" (here: {run})" if run is not None and (run / "recipe.yaml").is_file() else ""
        raise UsageError(f"MODEL {args.model}: a checkpoint file; summary reads a recipe YAML or a run directory"
                         f"{hint}")
    if args.batch_size == 0 or args.batch_size < -1:
        raise UsageError(f"--batch-size {args.batch_size}: expected a positive integer or -1")

    from ignite_zoo.engines.reports import summary_model, summary_text

    model, default_size = summary_model(args.model, args.overrides, args.num_classes)
    size = size or default_size
    if args.tree:
        print(model)
    print(summary_text(model, size, args.model, batch_size=args.batch_size))
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
