"""What each imbalance remedy buys on the real tiles: one table, the same budget for every row.

Every row is a whole training run of the same recipe (default: the shipped real-tile CPU
recipe) on the same data (``sat512``: the first 200 pairs train, the last 57 validate),
started as a user starts one (``tools/run.py RECIPE data.root=... <overrides>``), with the
same epochs and schedule; only the row's overrides differ. The baseline runs with two seeds
or more, so the spread that seeds alone give is in the table beside the differences the
remedies make. Test-time augmentation changes no training: its rows score the first
baseline's final weights on the validation tiles again with flip and D4 TTA, through the
project's predictor, and time that prediction against the same prediction without TTA.

Prints a Markdown table (mIoU, Rangeland IoU, wall time; the command of each row) and,
with ``--json``, the rows as JSON. Each run takes minutes: this is not part of
``bench/run.py``.

    python bench/remedies.py [--root DIR] [--recipe FILE] [--rows baseline,sampler,...]
                             [--seeds 0,1] [--out DIR] [--json] [key=value ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import shared_data  # noqa: E402

RECIPE = ROOT / "recipes" / "seg_unet_vgg16bn_sat_halfres.yaml"
RARE = "Rangeland"
#: the recipe with no remedy: plain cross-entropy, no sampler, no EMA, no TTA
BASELINE = ["loss={_replace_: true, type: cross_entropy, ignore_index: 6}", "data.sampler=null", "train.ema=null",
            "eval.tta=null"]
QUIET = ["handlers.progress=false", "handlers.mask_snapshots=false", "handlers.tensorboard=false"]

#: row name -> (what it changes, the overrides on top of the baseline). The baseline is the
#: recipe with plain cross-entropy and no remedy (``BASELINE``); each row adds one remedy.
ROWS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("plain cross-entropy, no remedy", []),
    **{f"weights_{rule}": (f"cross-entropy class weights, rule {rule}", [f"loss.class_weights={{rule: {rule}}}"])
       for rule in ("inverse_frequency", "sqrt_inverse_frequency", "median_frequency", "enet")},
    "sampler": ("class-balanced sampler (sqrt inverse frequency)",
                ["data.sampler={type: class_balanced, rule: sqrt_inverse_frequency}"]),
    "dice_ce": ("cross-entropy + 0.5 Dice",
                ["loss={type: sum, ignore_index: 6, terms: [{type: cross_entropy, weight: 1.0}, {type: dice, weight: 0.5}]}"]),
    "lovasz_ce": ("cross-entropy + 0.5 Lovasz",
                  ["loss={type: sum, ignore_index: 6, terms: [{type: cross_entropy, weight: 1.0}, {type: lovasz, weight: 0.5}]}"]),
    "ema": ("EMA of the weights (momentum 0.99), validated and kept", ["train.ema={momentum: 0.99}"]),
}


def command(recipe: Path, root: Path, out: Path, name: str, seed: int, overrides: list[str]) -> list[str]:
    return [sys.executable, str(ROOT / "tools" / "run.py"), str(recipe), f"data.root={root}", f"seed={seed}",
            f"out.root={out}", f"out.name={name}", *QUIET, *BASELINE, *overrides]


def shown(cmd: list[str]) -> str:
    """The command as a reader types it (relative recipe, data root left to the reader)."""
    parts = ["python tools/run.py", os.path.relpath(cmd[2], ROOT), "data.root=/path/to/sat512"]
    extra = [c for c in cmd[4:] if not c.startswith(("out.", "handlers.", "seed=0"))]
    return " ".join(parts + [f"'{c}'" if " " in c or "{" in c else c for c in extra])


def scores(run_dir: Path) -> dict[str, Any]:
    """The final epoch's scores from the run's metrics.json."""
    final = json.loads((run_dir / "metrics.json").read_text())["final"]
    return {"epoch": final["epoch"], "miou": final["val/mIoU"], "rare_iou": final.get(f"val/IoU/{RARE}")}


def train_row(name: str, what: str, cmd: list[str], out: Path) -> dict[str, Any]:
    print(f"-- {name}: {shown(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    run_dir = max((out / cmd[6].split("=", 1)[1]).iterdir(), key=lambda p: p.stat().st_mtime)
    row = {"row": name, "what": what, "wall_s": wall, "command": shown(cmd), "run_dir": str(run_dir),
           **scores(run_dir)}
    print(f"   mIoU {row['miou']:.4f}  {RARE} {row['rare_iou']:.4f}  {wall:.0f} s", file=sys.stderr, flush=True)
    return row


def tta_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The run's final weights on its validation tiles: no TTA, flip, D4 (scores and time)."""
    import torch

    from ignite_zoo.engines.inference.loading import load_predictor
    from ignite_zoo.engines.metrics import confusion_from_ids, iou_from_confusion, miou_from_confusion, scored_classes
    from ignite_zoo.engines.settings import RunSettings
    from ignite_zoo.zoo.data import build_dataset

    rows = []
    for tta in (None, "flip", "d4"):
        trained = load_predictor(run_dir, last=True, tta=tta)
        recipe = trained.recipe
        ds = build_dataset(RunSettings.from_recipe(recipe).data, "val")
        classes = scored_classes(recipe)
        names = list(ds.info.classes)
        cm = None
        start = time.perf_counter()
        with torch.inference_mode():
            for i in range(len(ds)):
                x, y = ds[i]
                pred = trained.predictor(x.unsqueeze(0)).argmax(1)[0]
                c = confusion_from_ids(pred, y, len(names))
                cm = c if cm is None else cm + c
        wall = time.perf_counter() - start
        iou = iou_from_confusion(cm)
        rows.append({"row": f"tta_{tta or 'none'}", "what": f"final weights, TTA {tta or 'none'}",
                     "miou": miou_from_confusion(cm, classes), "rare_iou": float(iou[names.index(RARE)]),
                     "wall_s": wall, "images": len(ds),
                     "command": f"ignite-zoo predict RUN VAL_IMAGES OUT --last{' --tta ' + tta if tta else ''}"})
        print(f"-- {rows[-1]['row']}: mIoU {rows[-1]['miou']:.4f}  {wall:.1f} s for {len(ds)} tiles",
              file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"| row | what it changes | mIoU | {RARE} IoU | wall time |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        wall = f"{r['wall_s']:.0f} s" if not r["row"].startswith("tta") else f"{r['wall_s']:.1f} s ({r['images']} tiles)"
        lines.append(f"| {r['row']} | {r['what']} | {r['miou']:.3f} | {r['rare_iou']:.3f} | {wall} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=shared_data() / "sat512", help="folder of the 257 course pairs")
    p.add_argument("--recipe", type=Path, default=RECIPE)
    p.add_argument("--rows", default=",".join(ROWS) + ",tta", help=f"comma-separated: {', '.join(ROWS)}, tta")
    p.add_argument("--seeds", default="0,1", help="the baseline's seeds (the others run with the first)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "remedies", help="where the runs go")
    p.add_argument("--json", action="store_true")
    p.add_argument("overrides", nargs="*", help="key=value for every row (e.g. train.epochs=10)")
    args = p.parse_args(argv)
    if not args.root.is_dir():
        p.error(f"--root {args.root}: no such folder (the 257 course pairs, NNNN_sat.jpg + NNNN_mask.png)")
    wanted = [r for r in args.rows.split(",") if r]
    unknown = sorted(set(wanted) - set(ROWS) - {"tta"})
    if unknown:
        p.error(f"--rows: unknown {', '.join(unknown)}; known: {', '.join(ROWS)}, tta")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: list[dict[str, Any]] = []
    for name in [r for r in wanted if r != "tta"]:
        what, overrides = ROWS[name]
        for seed in (seeds if name == "baseline" else seeds[:1]):
            label = f"{name}_seed{seed}" if name == "baseline" else name
            cmd = command(args.recipe, args.root, args.out, label, seed, [*overrides, *args.overrides])
            rows.append(train_row(label, what + (f", seed {seed}" if name == "baseline" else ""), cmd, args.out))
    if "tta" in wanted:
        base = next((r for r in rows if r["row"].startswith("baseline")), None)
        if base is None:
            p.error("--rows tta needs a baseline row (its final weights are scored with TTA)")
        rows += tta_rows(Path(base["run_dir"]))
    print(json.dumps(rows, indent=1) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
