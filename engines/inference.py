"""Inference outside training: a trained model's masks for a folder, classifier features.

Both reuse what the run itself used, so a tool's numbers are the run's numbers:
the recipe's evaluation pipeline (``data.val.transforms``), its device/autocast resolution
(``train.amp``), ``channels_last`` and ``engines.evaluator.predict_logits``; images are
batched in file-id order with the run's validation batch size, as its evaluator did.
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from engines.trainer import StepConfig
from registry.errors import CheckpointError, DataError, RunError

IMAGE_RE = re.compile(r"(?P<id>.+)_sat\.(?:jpg|jpeg|png)", re.IGNORECASE)
MASK_RE = re.compile(r"(?P<id>.+)_mask\.png", re.IGNORECASE)


# --------------------------------------------------------------------------------------
# models and their runtime
# --------------------------------------------------------------------------------------
def load_trained(path: str | os.PathLike, device: str | None = None, last: bool = False
                 ) -> tuple[torch.nn.Module, dict[str, Any], StepConfig, Path]:
    """(model, recipe, step config, checkpoint file) for a checkpoint or a run directory.

    A run directory gives its best checkpoint (``last=True``: its latest). ``device``
    overrides the recipe's ``train.device``; autocast and ``channels_last`` follow the
    recipe, exactly as its validation ran.
    """
    from engines.checkpoint import latest_checkpoint, load_model, resolve_checkpoint
    from engines.runtime import resolve_amp, resolve_device

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: not found; expected a run directory (holding checkpoints/*.pt) "
                              "or a checkpoint .pt file")
    if path.is_dir() and last:
        ckpt = latest_checkpoint(path)
        if ckpt is None:
            raise CheckpointError(f"{path}: no checkpoints/last_checkpoint_*.pt; expected a run directory")
    else:
        ckpt = resolve_checkpoint(path)
    model, recipe = load_model(ckpt)
    tr = recipe.get("train", {})
    dev = resolve_device(device or tr.get("device", "auto"))
    step_cfg = StepConfig(device=dev, amp_dtype=resolve_amp(tr.get("amp", "auto"), dev),
                          channels_last=bool(tr.get("channels_last", False)),
                          non_blocking=dev.type == "cuda")
    if step_cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # as training held it
    return model.to(dev).eval(), recipe, step_cfg, ckpt


def val_batch_size(recipe: Mapping[str, Any]) -> int:
    loader = recipe.get("data", {}).get("loader", {})
    return int(loader.get("val_batch_size") or loader.get("batch_size") or 1)


# --------------------------------------------------------------------------------------
# segmentation: masks for a folder of images
# --------------------------------------------------------------------------------------
def scan_images(folder: str | os.PathLike) -> list[tuple[str, Path]]:
    """``(id, path)`` of every ``<id>_sat.jpg`` (or .jpeg/.png) in ``folder``, sorted by id."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "a file" if folder.exists() else "not found"
        raise DataError(f"{folder}: input folder is {what}; expected a folder of <id>_sat.jpg images")
    found: dict[str, Path] = {}
    for entry in os.scandir(folder):
        m = IMAGE_RE.fullmatch(entry.name)
        if m and entry.is_file():
            if m["id"] in found:
                raise DataError(f"{folder}: id {m['id']!r} has two images ({found[m['id']].name} and {entry.name})")
            found[m["id"]] = Path(entry.path)
    if not found:
        raise DataError(f"{folder}: no images named <id>_sat.jpg (e.g. 0010_sat.jpg) found; "
                        "expected the course's layout")
    return [(i, found[i]) for i in sorted(found)]


def scan_masks(folder: str | os.PathLike, what: str = "mask folder") -> dict[str, Path]:
    """``{id: path}`` of every ``<id>_mask.png`` in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        state = "a file" if folder.exists() else "not found"
        raise DataError(f"{folder}: {what} is {state}; expected a folder of <id>_mask.png files")
    out = {}
    for entry in os.scandir(folder):
        m = MASK_RE.fullmatch(entry.name)
        if m and entry.is_file():
            out[m["id"]] = Path(entry.path)
    if not out:
        raise DataError(f"{folder}: no masks named <id>_mask.png (e.g. 0010_mask.png) found in this {what}")
    return out


class _ImageFiles(torch.utils.data.Dataset):
    def __init__(self, items: Sequence[tuple[str, Path]], pipeline: Any) -> None:
        self.items = list(items)
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[str, torch.Tensor, tuple[int, int]]:
        from zoo.data import read_image

        id_, path = self.items[i]
        image = read_image(path)
        x, _ = self.pipeline(image)
        return id_, x, image.shape[:2]


def _same_size_runs(batch: list[tuple[str, torch.Tensor, tuple[int, int]]]) -> Iterator[list]:
    """Consecutive items whose tensors share a shape (stackable), in order."""
    run: list = []
    for item in batch:
        if run and item[1].shape != run[0][1].shape:
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def eval_pipeline(recipe: Mapping[str, Any]) -> Any:
    """The run's evaluation preprocessing: its ``data.val.transforms`` + normalise + to-tensor."""
    from zoo.data import build_transforms

    spec = copy.deepcopy(recipe.get("data", {}).get("val", {}).get("transforms") or [])
    return build_transforms(spec, "segmentation", where="data.val.transforms")


@dataclass
class PredictResult:
    ids: list[str]
    out_dir: Path


def predict_folder(
    model: torch.nn.Module,
    recipe: Mapping[str, Any],
    step_cfg: StepConfig,
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    batch_size: int | None = None,
    tta: str | None = None,
    num_workers: int = 0,
    progress: bool = True,
) -> PredictResult:
    """Write ``<id>_mask.png`` (palette PNG, input resolution) for every ``<id>_sat.jpg``.

    Images go through the run's evaluation pipeline in id order, ``batch_size`` at a time
    (default: the run's validation batch size), so logits are those its evaluator computed.
    If the pipeline changes the size, logits are resized (bilinear) back to the image's.
    """
    from tqdm import tqdm

    from engines.evaluator import predict_logits
    from zoo.data import write_mask

    if recipe.get("task") != "segmentation":
        raise RunError(f"the checkpoint's recipe is a {recipe.get('task')!r} model; predicting masks "
                       "needs a segmentation run")
    items = scan_images(input_dir)
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    bs = batch_size or val_batch_size(recipe)
    if bs < 1:
        raise RunError(f"--batch-size {bs}: expected a positive integer")
    loader = torch.utils.data.DataLoader(_ImageFiles(items, eval_pipeline(recipe)), batch_size=bs,
                                         shuffle=False, num_workers=num_workers, collate_fn=list)
    bar = tqdm(total=len(items), desc="predict", unit="img", disable=not progress, dynamic_ncols=True)
    try:
        for batch in loader:
            for run in _same_size_runs(batch):
                x = torch.stack([t for _, t, _ in run]).to(step_cfg.device, non_blocking=step_cfg.non_blocking)
                logits = predict_logits(model, x, step_cfg, tta)
                for (id_, _, hw), lg in zip(run, logits):
                    if tuple(lg.shape[-2:]) != tuple(hw):
                        lg = torch.nn.functional.interpolate(lg[None], size=tuple(hw), mode="bilinear",
                                                             align_corners=False)[0]
                    write_mask(out / f"{id_}_mask.png", lg.argmax(0).cpu().numpy())
                bar.update(len(run))
    finally:
        bar.close()
    return PredictResult([i for i, _ in items], out)


# --------------------------------------------------------------------------------------
# segmentation: scoring two folders of colour masks
# --------------------------------------------------------------------------------------
def match_mask_folders(pred_dir: str | os.PathLike, gt_dir: str | os.PathLike) -> list[tuple[str, Path, Path]]:
    """``(id, pred, truth)`` for every id; ids present on one side only are a DataError naming them."""
    pred = scan_masks(pred_dir, "prediction folder")
    truth = scan_masks(gt_dir, "ground-truth folder")

    def some(ids: Sequence[str]) -> str:
        ids = sorted(ids)
        return ", ".join(ids[:10]) + (f" ... and {len(ids) - 10} more" if len(ids) > 10 else "")

    only_pred, only_truth = sorted(pred.keys() - truth.keys()), sorted(truth.keys() - pred.keys())
    problems = []
    if only_pred:
        problems.append(f"{len(only_pred)} prediction(s) without ground truth in {gt_dir}: {some(only_pred)}")
    if only_truth:
        problems.append(f"{len(only_truth)} ground-truth mask(s) without a prediction in {pred_dir}: "
                        f"{some(only_truth)}")
    if problems:
        raise DataError("ids do not match (expected the same <id>_mask.png names in both folders): "
                        + "; ".join(problems))
    return [(i, pred[i], truth[i]) for i in sorted(pred)]


def mask_pair_batches(pairs: Sequence[tuple[str, Path, Path]], batch_size: int = 16, foreign: str = "unknown",
                      progress: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(pred [N,H,W], truth [N,H,W])`` uint8 id batches decoded with the project's codec."""
    from tqdm import tqdm

    from zoo.data import read_mask

    bar = tqdm(total=len(pairs), desc="evaluate", unit="mask", disable=not progress, dynamic_ncols=True)
    preds: list[np.ndarray] = []
    truths: list[np.ndarray] = []
    try:
        for id_, p, t in pairs:
            pm = read_mask(p, foreign=foreign, dtype=np.uint8)
            tm = read_mask(t, foreign=foreign, dtype=np.uint8)
            if pm.shape != tm.shape:
                raise DataError(f"{p}: prediction is {pm.shape[1]}x{pm.shape[0]} but its ground truth {t} is "
                                f"{tm.shape[1]}x{tm.shape[0]} (expected full-resolution masks)")
            if preds and pm.shape != preds[0].shape:
                yield np.stack(preds), np.stack(truths)
                preds, truths = [], []
            preds.append(pm)
            truths.append(tm)
            if len(preds) == batch_size:
                yield np.stack(preds), np.stack(truths)
                preds, truths = [], []
            bar.update(1)
        if preds:
            yield np.stack(preds), np.stack(truths)
    finally:
        bar.close()


def evaluate_folders(pred_dir: str | os.PathLike, gt_dir: str | os.PathLike, classes: Sequence[int],
                     batch_size: int = 16, foreign: str = "unknown", progress: bool = True) -> dict[str, Any]:
    """The course mIoU of two folders of colour masks (``engines.metrics.evaluate_mask_pairs``).

    Returns ``{"miou", "iou" (per class id, all classes), "pixel_acc", "cm", "ids"}``.
    """
    from engines.metrics import evaluate_mask_pairs
    from zoo.data import NUM_CLASSES

    bad = [c for c in classes if not 0 <= c < NUM_CLASSES]
    if bad or not classes:
        raise DataError(f"--classes {list(classes)}: expected class ids in 0..{NUM_CLASSES - 1}")
    pairs = match_mask_folders(pred_dir, gt_dir)
    out = evaluate_mask_pairs(mask_pair_batches(pairs, batch_size, foreign, progress), NUM_CLASSES, classes)
    return {"miou": float(out["mIoU"]), "iou": [float(v) for v in out["IoU"].tolist()],
            "pixel_acc": float(out["pixel_acc"]), "cm": out["cm"], "ids": [i for i, _, _ in pairs]}


# --------------------------------------------------------------------------------------
# classification: features of the second-last layer
# --------------------------------------------------------------------------------------
@dataclass
class Features:
    features: np.ndarray   # [N, D] float32, input of the last Linear
    logits: np.ndarray     # [N, K] float32
    labels: np.ndarray     # [N] int64
    predictions: np.ndarray  # [N] int64

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.labels).mean()) if len(self.labels) else float("nan")


@torch.inference_mode()
def extract_features(model: torch.nn.Module, loader: Any, step_cfg: StepConfig, progress: bool = True) -> Features:
    """``model(x, return_features=True)`` over ``loader`` (batched, autocast as the run)."""
    from tqdm import tqdm

    from engines.runtime import autocast
    from engines.trainer import to_device

    model.eval()
    feats, logits, labels = [], [], []
    for batch in tqdm(loader, desc="features", unit="batch", disable=not progress, dynamic_ncols=True):
        x, y = to_device(batch, step_cfg)
        with autocast(step_cfg.device, step_cfg.amp_dtype):
            try:
                out = model(x, return_features=True)
            except TypeError as e:
                raise RunError(f"the model ({type(model).__name__}) does not return features "
                               f"(forward(x, return_features=True): {e}); t-SNE needs a classifier head") from None
        lg, ft = out
        feats.append(ft.float().cpu())
        logits.append(lg.float().cpu())
        labels.append(y.cpu().long().reshape(-1))
    if not feats:
        raise DataError("the validation set is empty; nothing to extract features from")
    lg = torch.cat(logits)
    return Features(torch.cat(feats).numpy(), lg.numpy(), torch.cat(labels).numpy(), lg.argmax(1).numpy())
