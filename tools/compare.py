#!/usr/bin/env python
"""Compare runs epoch by epoch: a Markdown table and a line plot of one validation metric.

Examples:
  python tools/compare.py runs/seg_fcn32s_vgg16_sat/RUN runs/seg_fcn16s_vgg16_sat/RUN
  python tools/compare.py RUN_A RUN_B --labels FCN32s,FCN16s --metric val/pixel_acc --out figures/
  python tools/compare.py runs/cls_a/RUN runs/cls_b/RUN --metric accuracy

Prints a table with one row per epoch and one column per run
(| epoch | FCN32s mIoU | FCN16s mIoU |), then the final value, the best value and the
epoch of the best, and writes it as compare.md next to compare.png (one line per run,
x = epoch, the best epoch starred) in --out (default: compare/). The runs must be of one
task and pick their best checkpoint by one metric (each recipe's eval.metric; a loss is
better when lower), unless --metric names a column to compare them on. Columns are
labelled by each run's head (FCN32s, FCN16s, ...) unless --labels is given. --out must be
new, empty or hold only an earlier compare.md/compare.png (--overwrite: write there anyway),
and never a run directory.
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


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = tool_parser("tools/compare.py", __doc__)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by tools/run.py")
    p.add_argument("--metric", default=None,
                   help="history column to compare, e.g. val/pixel_acc, train/loss ('mIoU' means val/mIoU); "
                        "default: the runs' own metric")
    p.add_argument("--labels", default=None, help="comma-separated column labels, one per run (e.g. FCN32s,FCN16s)")
    p.add_argument("--out", default="compare", help="folder for compare.md and compare.png (default: compare)")
    p.add_argument("--overwrite", action="store_true", help="write into --out even if it holds other files")
    return p.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    from ignite_zoo.engines.reports import write_comparison

    table, md_path, png_path = write_comparison(args.runs, args.out, args.labels, args.metric, args.overwrite)
    print(table.markdown())
    print(f"\nwrote {md_path} and {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
