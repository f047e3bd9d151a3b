"""Write a generated demo set: satellite land cover in the course layout, or shapes in VOC's.

    python tools/make_demo_data.py data/landcover --n 40 --size 256 --seed 0
    python tools/make_demo_data.py data/voc_shapes --layout voc --n 40 --size 64 --classes 4
    python tools/make_demo_data.py --geotiff data/geo_demo

With --layout sat (the default) OUT gets train/ and validation/ with NNNN_sat.jpg +
NNNN_mask.png pairs and a manifest; point a recipe's data.root at it with type dlcv_sat
(or use type synthetic_landcover, which generates the same files itself). Running it
again with the same parameters leaves OUT as it is. With --layout voc OUT gets
JPEGImages/, SegmentationClass/ (palette PNGs, 255 around objects) and
ImageSets/Segmentation/{train,val}.txt, for type voc with data.args.classes of that many names.
With --geotiff DIR, DIR gets 4-band uint16 GeoTIFF scenes (EPSG:32633, 10 m pixels, a
nodata border) with class rasters in train/ and validation/ (images/ + masks/) and
classes.yaml, for type geotiff (recipes/seg_geotiff_demo.yaml, data.root=DIR); --n scenes
(default 4, one for validation) of --size pixels (default 768).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # a script in a checkout: ``ignite_zoo`` names this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _checkout  # noqa: F401

from ignite_zoo.registry.cli import main_guard  # noqa: E402


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, nargs="?", help="folder to write (created; an existing generated set is replaced)")
    p.add_argument("--geotiff", type=Path, metavar="DIR", default=None,
                   help="write the GeoTIFF scene demo into DIR instead (4-band uint16, projected CRS, nodata border)")
    p.add_argument("--layout", choices=("sat", "voc"), default="sat",
                   help="sat: the course's land-cover tiles (default); voc: shapes in Pascal VOC's layout")
    p.add_argument("--n", type=int, default=None, help="number of images (default 40; --geotiff: 4 scenes)")
    p.add_argument("--size", type=int, default=None, help="image side in pixels (default 256; --geotiff: 768)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
    p.add_argument("--val-fraction", type=float, default=0.25,
                   help="share of images for validation (default 0.25; sat: id 0010 is always there when it exists)")
    p.add_argument("--classes", type=int, default=4, help="voc: number of classes, background included (default 4)")
    return p.parse_args(argv)


#: the largest --size: one generated image is held in memory whole (8192: 200 MB)
MAX_SIZE = 8192


def check_flags(args: argparse.Namespace) -> None:
    """Each flag checked here, so an error names the flag the user typed (not the recipe
    key or the generator function behind it)."""
    from ignite_zoo.registry.errors import UsageError

    if args.n is not None and args.n < (2 if args.layout == "voc" else 1):
        raise UsageError(f"--n {args.n}: expected a positive number of images"
                         f"{' (voc: at least 2, one train and one val)' if args.layout == 'voc' else ''}")
    if args.size is not None and not 16 <= args.size <= MAX_SIZE:
        raise UsageError(f"--size {args.size}: expected an image side of 16 to {MAX_SIZE} pixels")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: expected a non-negative integer")
    if not 0 <= args.val_fraction < 1:
        raise UsageError(f"--val-fraction {args.val_fraction}: expected a number in [0, 1)")
    if args.layout == "voc" and not 2 <= args.classes <= 21:
        raise UsageError(f"--classes {args.classes}: expected 2 to 21 classes, background included")


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    check_flags(args)
    if (args.out is None) == (args.geotiff is None):
        from ignite_zoo.registry.errors import UsageError

        raise UsageError("give a folder to write, OUT or --geotiff DIR (one of them)")
    from ignite_zoo.registry.paths import check_writable

    target = args.out if args.out is not None else args.geotiff
    check_writable(target if target.is_dir() else target.parent, f"{'OUT' if args.out is not None else '--geotiff'} "
                   f"{target}")  # a read-only place fails before any image is drawn
    if args.geotiff is not None:
        from ignite_zoo.zoo.data.synthetic_geotiff import make_geotiff_demo

        n, size = args.n or 4, args.size or 768
        made = make_geotiff_demo(args.geotiff, n_train=max(1, n - 1), n_val=1, size=size, seed=args.seed)
        print(f"{'wrote' if made else 'already up to date:'} {args.geotiff}: {max(1, n - 1)} train + 1 validation "
              f"scenes of {size}x{size}, 4 bands uint16, EPSG:32633, classes.yaml")
        return 0
    args.n, args.size = args.n or 40, args.size or 256
    if args.layout == "voc":
        from ignite_zoo.zoo.data.synthetic_voc import make_voc_like

        n_val = max(1, round(args.n * args.val_fraction))
        make_voc_like(args.out, n_train=args.n - n_val, n_val=n_val, size=args.size, classes=args.classes,
                      seed=args.seed)
        print(f"wrote {args.out} (voc layout): {args.n - n_val} train + {n_val} val images of "
              f"{args.size}x{args.size}, {args.classes} classes")
        return 0
    from tqdm import tqdm

    from ignite_zoo.zoo.data.synthetic import ensure_landcover, validation_ids

    with tqdm(total=args.n, unit="tile", desc="generating", disable=None) as bar:
        made = ensure_landcover(args.out, n=args.n, size=args.size, seed=args.seed,
                                val_fraction=args.val_fraction, progress=bar.update)
    n_val = len(validation_ids(args.n, args.val_fraction))
    state = "wrote" if made else "already up to date:"
    print(f"{state} {args.out}: {args.n - n_val} train + {n_val} validation tiles of {args.size}x{args.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
