#!/usr/bin/env python
"""t-SNE of a trained classifier's second-last-layer features, and its confusion matrix.

Examples:
  python tools/tsne.py runs/cls_vgg16_dlcv/20240101-120000
  python tools/tsne.py runs/cls_vgg16_digits/RUN --perplexity 50 --out figures/
  python tools/tsne.py --recipe recipes/cls_vgg16_dlcv.yaml --checkpoint best.pt data.root=/data/p1

The features (the input of the classifier's last Linear, model(x, return_features=True))
of every validation image are extracted in batches with the run's own preprocessing and
precision, reduced with PCA to --pca dimensions and embedded in 2-D with scikit-learn's
TSNE (init="pca", fixed random_state). Writes into the run directory (or --out):
  tsne.png              one colour/marker per class, class names at the class centroids
  confusion_matrix.png  row-normalised, class names on both axes
  tsne.npz              features, embedding, labels, predictions, class_names, ids, confusion
and prints the validation accuracy of the same predictions. When the checkpoint belongs
to a run directory, the features also go to the run's TensorBoard folder (tb/) as a
Projector embedding, points labelled with their true and predicted class and id, and
the two figures as images (in a new events file; nothing there is replaced):
tensorboard --logdir runs. --no-tensorboard leaves tb/ alone.
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


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = tool_parser("tools/tsne.py", __doc__)
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR",
                   help="a classification run directory (its best checkpoint, --last for its latest)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="overrides of the data section, e.g. data.root=/data/p1 (with --recipe or a run)")
    p.add_argument("--recipe", help="a recipe YAML whose data section gives the validation set (with --checkpoint)")
    p.add_argument("--checkpoint", help="a checkpoint .pt (default: the run directory's best)")
    p.add_argument("--last", action="store_true", help="with RUN_DIR: its latest checkpoint instead of its best")
    p.add_argument("--out", help="folder for tsne.png, confusion_matrix.png, tsne.npz (default: the run directory)")
    p.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity (default 30; capped below N)")
    p.add_argument("--pca", type=int, default=50, help="PCA dimensions before t-SNE (0: none; default 50)")
    p.add_argument("--seed", type=int, default=0, help="t-SNE random_state (default 0)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the run's validation batch size")
    p.add_argument("--device", default=None, help="'cpu', 'cuda', ... (default: the recipe's train.device)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for features and t-SNE (default: all cores; 1 is faster when the cores are busy)")
    p.add_argument("--no-tensorboard", action="store_true",
                   help="do not add the embedding and figures to the run's TensorBoard folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(list(argv))
    # a run dir given as key=value is impossible; a first positional with '=' is an override
    if args.run_dir and "=" in args.run_dir and not Path(args.run_dir).exists():
        args.overrides.insert(0, args.run_dir)
        args.run_dir = None
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if not args.run_dir and not args.checkpoint:
        raise UsageError("expected RUN_DIR, or --checkpoint C (with --recipe R for the data); see --help")
    if not 0 < args.perplexity < float("inf"):  # NaN and inf fail this too
        raise UsageError(f"--perplexity {args.perplexity}: expected a positive number")
    if not 0 <= args.seed < 2 ** 32:  # t-SNE's random_state range
        raise UsageError(f"--seed {args.seed}: expected an integer from 0 to {2 ** 32 - 1}")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: is a file; expected a folder for tsne.png, confusion_matrix.png "
                         "and tsne.npz")
    if args.pca < 0:
        raise UsageError(f"--pca {args.pca}: expected 0 (none) or a positive number of dimensions")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size}: expected a positive integer")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads {args.threads}: expected a positive integer")
    bad = [o for o in args.overrides if not o.startswith("data.")]
    if bad:
        raise UsageError(f"override(s) {', '.join(bad)}: only data.* keys can be overridden here (e.g. data.root=...)")

    import numpy as np
    import torch

    from ignite_zoo.engines.inference import extract_features, load_trained, val_batch_size
    from ignite_zoo.engines.reports import plot_confusion, plot_tsne
    from ignite_zoo.engines.reports.figures import confusion_counts
    from ignite_zoo.registry.errors import RunError
    from ignite_zoo.registry.recipe import apply_overrides, load_recipe
    from ignite_zoo.zoo.data import build_dataset

    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir = Path(args.run_dir) if args.run_dir else None
    if run_dir is not None and not run_dir.is_dir():
        raise RunError(f"{run_dir}: run directory {'is a file' if run_dir.exists() else 'not found'}; "
                       "expected a folder written by tools/run.py (or use --checkpoint)")
    model, recipe, step_cfg, ckpt = load_trained(args.checkpoint or run_dir, args.device, last=args.last)
    if args.recipe:
        given = load_recipe(args.recipe)
        if given["task"] != recipe["task"]:
            raise UsageError(f"--recipe {args.recipe}: a {given['task']} recipe, but {ckpt} is a {recipe['task']} "
                             "model; give a recipe of the checkpoint's task for its data")
        recipe = {**recipe, "data": given["data"]}
    recipe = apply_overrides(recipe, args.overrides)
    if recipe.get("task") != "classification":
        raise RunError(f"{ckpt}: a {recipe.get('task')!r} run; t-SNE of features needs a classification run")
    out = Path(args.out) if args.out else run_dir or (ckpt.parent.parent if ckpt.parent.name == "checkpoints"
                                                      else ckpt.parent)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"--out {out}: cannot create the folder ({e.strerror or e})") from None
    from ignite_zoo.engines.outputs import check_writable, writing

    check_writable(out, f"--out {out}", need=8 << 20)  # before the features and t-SNE: room for the figures

    dataset = build_dataset(recipe["data"], "val")
    class_names = [str(c) for c in getattr(dataset, "classes", [])]
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size or val_batch_size(recipe),
                                         shuffle=False, num_workers=0)
    print(f"checkpoint: {ckpt}", file=sys.stderr)
    feats = extract_features(model, loader, step_cfg, progress=not args.no_progress)
    k = max(len(class_names), int(feats.logits.shape[1]))
    class_names += [str(c) for c in range(len(class_names), k)]
    n = len(feats.labels)
    if n < 5:
        raise RunError(f"the validation set has {n} images; t-SNE needs at least 5")

    import contextlib

    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = feats.features.astype(np.float64)
    perplexity = min(args.perplexity, (n - 1) / 3.0)
    print(f"t-SNE of {n} x {feats.features.shape[1]} features (perplexity {perplexity:g})...", file=sys.stderr)
    # OpenMP/BLAS pools are loaded by now (sklearn imported), so the limit reaches them
    with threadpool_limits(args.threads) if args.threads else contextlib.nullcontext():
        if args.pca and x.shape[1] > args.pca and n > args.pca:
            x = PCA(n_components=args.pca, random_state=args.seed).fit_transform(x)
        emb = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=args.seed,
                   learning_rate="auto").fit_transform(x).astype(np.float32)

    acc = feats.accuracy
    label = f"{recipe['model']['backbone'].get('type')} {recipe['model']['head'].get('type')}"
    plot_tsne(emb, feats.labels, class_names, out / "tsne.png",
              title=f"t-SNE of {label} features, {n} validation images (accuracy {acc:.4f})")
    plot_confusion(feats.labels, feats.predictions, class_names, out / "confusion_matrix.png",
                   title=f"{label}: confusion matrix (row-normalised), accuracy {acc:.4f}")
    ids = np.array([str(i) for i in getattr(dataset, "ids", range(n))])
    confusion = confusion_counts(feats.labels, feats.predictions, k)
    with writing(out / "tsne.npz"):
        np.savez_compressed(out / "tsne.npz", features=feats.features, embedding=emb, labels=feats.labels,
                            predictions=feats.predictions, class_names=np.array(class_names), ids=ids,
                            confusion=confusion)
    print(f"validation accuracy: {acc:.4f} ({int((feats.predictions == feats.labels).sum())}/{n})")
    print(f"wrote {out / 'tsne.png'}, {out / 'confusion_matrix.png'}, {out / 'tsne.npz'}")
    owner = run_dir or (ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None)
    if not args.no_tensorboard and owner is not None and (owner / "recipe.yaml").is_file():
        from ignite_zoo.engines.inference.projector import write_projector
        from ignite_zoo.engines.run_dir import RunDir, checkpoint_epoch

        figures = {"tsne/confusion_matrix": out / "confusion_matrix.png", "tsne/tsne": out / "tsne.png"}
        tb = write_projector(RunDir(owner).tb_dir, feats.features, feats.labels, feats.predictions, class_names, ids,
                             step=checkpoint_epoch(ckpt), images=figures)
        print(f"wrote the projector embedding {tb.tag} (step {tb.step}) and the figures to {tb.tb_dir} "
              f"(tensorboard --logdir {tb.tb_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
