#!/usr/bin/env python
"""Measure a GeoTIFF scene set's band statistics: mean/std per band, class shares, nodata share.

Examples:
  ignite-zoo stats seg_geotiff_demo data.root=data/geo_demo
  ignite-zoo stats recipes/my_scenes.yaml --windows 256 --window 512
  ignite-zoo stats --root data/geo_demo

The statistics come from a sample of random windows of the recipe's training split
(windowed reads: a scene is never read whole), nodata pixels left out, and are written
beside the data as DATA_ROOT/band_stats.json, for every band of the scenes. A recipe
then uses them with model.normalize: {mean: auto, std: auto}. The file is replaced when
this tool wrote it; a file of that name from elsewhere needs --overwrite.
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
from ignite_zoo.registry.errors import RecipeError, UsageError  # noqa: E402


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = tool_parser("tools/stats.py", __doc__)
    p.add_argument("recipe", nargs="?", help="a recipe file or shipped recipe name whose data.type is geotiff")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides (data.root=DIR, ...)")
    p.add_argument("--root", default=None, help="a scene folder (images/ + masks/ per split, classes file) "
                                                "instead of a recipe")
    p.add_argument("--split", default=None, help="the split sampled (default: the recipe's data.train.split, or train)")
    p.add_argument("--windows", type=int, default=64, help="random windows sampled (default 64)")
    p.add_argument("--window", type=int, default=512, help="window side in pixels (default 512)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sample (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace a band_stats.json this tool did not write")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if (args.recipe is None) == (args.root is None):
        raise UsageError("give a recipe (with data.type geotiff) or --root DIR, not both and not neither")
    for flag, value in (("--windows", args.windows), ("--window", args.window)):
        if value < 1:
            raise UsageError(f"{flag} {value}: expected a positive integer")
    classes = nodata = None
    split = args.split
    if args.recipe is not None:
        from ignite_zoo.registry.recipe import load_recipe

        data = load_recipe(args.recipe, args.overrides)["data"]
        if data.get("type") != "geotiff":
            raise RecipeError(f"data.type: {data.get('type')!r}; band statistics are for geotiff datasets")
        if not data.get("root"):
            raise RecipeError("data.root: not set; give data.root=DIR")
        root, dargs = data["root"], data.get("args") or {}
        classes, nodata = dargs.get("classes"), dargs.get("nodata")
        split = split if split is not None else (data.get("train") or {}).get("split", "train")
    else:
        root = args.root
        split = split if split is not None else "train"
    from tqdm import tqdm

    from ignite_zoo.zoo.data.stats import compute_stats, write_stats

    with tqdm(total=args.windows, unit="win", desc="sampling", disable=args.no_progress or None) as bar:
        stats = compute_stats(root, split, classes=classes, nodata=nodata, windows=args.windows,
                              window=args.window, seed=args.seed, progress=bar.update)
    path = write_stats(root, stats, overwrite=args.overwrite)
    print(f"{'band':>6} {'mean':>12} {'std':>12}")
    for b, (m, s) in enumerate(zip(stats["mean"], stats["std"]), 1):
        print(f"{b:>6} {m:>12.3f} {s:>12.3f}")
    print("class shares of labelled pixels: " + ", ".join(f"{n} {f:.3f}" for n, f in stats["class_frequency"].items()))
    print(f"nodata share: {stats['nodata_share']:.3f} of {stats['pixels_sampled']} pixels in {args.windows} windows")
    print(f"wrote {path} (model.normalize: {{mean: auto, std: auto}} reads it)")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
