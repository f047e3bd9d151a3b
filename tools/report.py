#!/usr/bin/env python
"""Write the report of the whole homework: report.md and a self-contained report.html.

Examples:
  python tools/report.py runs/cls_vgg16_dlcv/RUN runs/seg_fcn32s_vgg16_sat/RUN runs/seg_fcn8s_vgg16_sat/RUN --out report/
  python tools/report.py runs/cls_vgg16_dlcv/RUN --out report_p1/      # after tools/tsne.py RUN
  python tools/report.py RUN_A RUN_B --labels baseline,improved --no-architecture

Classification and segmentation runs go in one document, a section per task in the
course's order: classification first, then segmentation. For each run: its main
settings (what the backbone started from among them), the architecture table
(torchsummary format, at the recipe's model.input_size), training curves, final and best
metrics (each run's own metric: eval.metric, else accuracy / mIoU), per-class IoU and the
mask grid at the chosen epochs (segmentation), the t-SNE and confusion matrix when
tools/tsne.py has written them (classification); then, for a task with several runs, the
comparison plot and the per-epoch table. Figures are copied into --out/figures/ and
linked from report.md; report.html embeds them, so it is one file to open, print or hand
in. --out must be new, empty or hold only an earlier report (--overwrite: write there
anyway), and never a run directory. Rerun this after more training.
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
    p = tool_parser("tools/report.py", __doc__)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by tools/run.py")
    p.add_argument("--out", default="report", help="folder for report.md, report.html, figures/ (default: report)")
    p.add_argument("--labels", default=None, help="comma-separated names of the runs (default: VGG16, FCN32s, ...)")
    p.add_argument("--metric", default=None,
                   help="metric of the comparisons (default: the runs' own, e.g. mIoU for segmentation)")
    p.add_argument("--title", default=None, help="report title")
    p.add_argument("--no-architecture", action="store_true", help="leave out the architecture tables")
    p.add_argument("--overwrite", action="store_true", help="write into --out even if it holds other files")
    return p.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    from ignite_zoo.engines.reports import write_report

    md_path, html_path = write_report(args.runs, args.out, args.labels, args.metric, args.title,
                                      architecture=not args.no_architecture, overwrite=args.overwrite)
    print(f"wrote {md_path} and {html_path} ({len(args.runs)} run(s), figures in {md_path.parent / 'figures'})")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
