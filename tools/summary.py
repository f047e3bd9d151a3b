#!/usr/bin/env python
"""Print a model's architecture table (torchsummary format), and optionally its module tree.

    python tools/summary.py recipes/fcn8s.yaml                 # the recipe's model
    python tools/summary.py recipes/fcn8s.yaml --input 3,500,375 --tree
    python tools/summary.py torchvision:vgg16 --input 3,224,224
    python tools/summary.py timm:resnet18

Nothing is downloaded: torchvision models are built with ``weights=None``, timm models with
``pretrained=False``; a recipe's backbone loads only the local ``weights`` file it names.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.cli import main_guard  # noqa: E402  (light: no torch)
from registry.errors import RecipeError, RunError, UsageError  # noqa: E402

DEFAULT_INPUT = {"classification": (3, 32, 32), "segmentation": (3, 512, 512)}
PRETRAINED_INPUT = (3, 224, 224)


def parse_input(text: str) -> tuple[int, ...]:
    """``"3,512,512"`` (or ``3x512x512``) -> ``(3, 512, 512)``; anything else is a user error."""
    parts = text.replace("x", ",").replace(" ", "").split(",")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) < 1 or any(d < 1 for d in dims):
        raise RecipeError(f"--input {text!r}: expected positive integers C,H,W such as 3,512,512")
    return dims


def _torchvision_model(name: str) -> tuple[Any, tuple[int, ...]]:
    import inspect

    import torchvision.models as tvm

    names = tvm.list_models()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join('torchvision:' + c for c in close)}?" if close else ""
        raise RecipeError(f"unknown torchvision model builder {name!r}{hint}")
    builder = tvm.get_model_builder(name)
    kwargs: dict[str, Any] = {"weights": None}
    if "weights_backbone" in inspect.signature(builder).parameters:
        kwargs["weights_backbone"] = None  # segmentation/detection builders would fetch one
    return builder(**kwargs), PRETRAINED_INPUT


def _timm_model(name: str) -> tuple[Any, tuple[int, ...]]:
    from zoo.backbones.timm_adapter import create_timm_model

    model = create_timm_model(name, "MODEL")
    size = tuple(getattr(model, "pretrained_cfg", {}).get("input_size") or PRETRAINED_INPUT)
    return model, size


def _recipe_model(path: str, num_classes: int | None) -> tuple[Any, tuple[int, ...]]:
    from registry.plugins import import_modules
    from registry.recipe import load_recipe

    recipe = load_recipe(path)
    import_modules(recipe["imports"], search_dir=Path(path).resolve().parent)
    import zoo  # noqa: F401  (fills every registry)
    from zoo.model import build_model

    extra = {} if num_classes is None else {"num_classes": num_classes}
    model = build_model(recipe["model"], **extra)
    size = recipe["model"].get("input_size")
    if size is not None:
        if not (isinstance(size, list) and size and all(isinstance(d, int) and d > 0 for d in size)):
            raise RecipeError(f"{path}: model.input_size: expected a list of positive integers [C, H, W], got {size!r}")
        return model, tuple(size)
    return model, DEFAULT_INPUT[recipe["task"]]


def build(spec: str, num_classes: int | None = None) -> tuple[Any, tuple[int, ...]]:
    """The model ``spec`` names and its default input size."""
    prefix, sep, rest = spec.partition(":")
    if sep and prefix == "torchvision" and rest:
        return _torchvision_model(rest)
    if sep and prefix == "timm" and rest:
        return _timm_model(rest)
    if Path(spec).suffix in (".yaml", ".yml") or Path(spec).is_file():
        return _recipe_model(spec, num_classes)
    raise RecipeError(
        f"MODEL {spec!r}: expected a recipe file (.yaml), torchvision:<builder> (e.g. torchvision:vgg16) "
        "or timm:<name> (e.g. timm:resnet18)"
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/summary.py",
        description="Print a model's layer table (torchsummary format): output shapes, parameters, memory.",
    )
    parser.add_argument("model", metavar="MODEL",
                        help="a recipe YAML (its model section), torchvision:<builder> or timm:<name>")
    parser.add_argument("--input", metavar="C,H,W", help="input size without batch (default: the recipe's "
                        "model.input_size, else 3,32,32 for classification and 3,512,512 for segmentation; "
                        "3,224,224 or timm's own for torchvision/timm models)")
    parser.add_argument("--batch-size", type=int, default=-1,
                        help="batch size shown in the shapes and used for the memory estimate (default -1: per sample)")
    parser.add_argument("--num-classes", type=int, default=None, help="override the recipe head's num_classes")
    parser.add_argument("--tree", action="store_true", help="also print the module tree (print(model))")
    args = parser.parse_args(list(argv))

    size = parse_input(args.input) if args.input is not None else None
    if args.batch_size == 0 or args.batch_size < -1:
        raise UsageError(f"--batch-size {args.batch_size}: expected a positive integer or -1")

    from zoo.summary import summarize

    model, default_size = build(args.model, args.num_classes)
    size = size or default_size
    if args.tree:
        print(model)
    try:
        table = summarize(model, size, batch_size=args.batch_size)
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunError(f"{args.model} cannot run on an input of size {','.join(map(str, size))}: {first}") from e
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
