"""Class frequencies of a segmentation training split, and class weights from them.

``loss.class_weights: auto`` (or ``{rule: <name>}``) and the class-balanced sampler read the
per-image pixel histograms of the training masks: counted once (untransformed masks, ignored
pixels left out) and cached beside the data in ``class_stats.json``, under a key made of the
split, the classes and the mask files (names, sizes, modification times), so a changed or
added mask is counted again. Weights are cached per rule under the same key.

Rules (``p_c``: class c's share of the counted pixels; classes absent from the split get 0):

- ``inverse_frequency``: ``1 / p_c``
- ``sqrt_inverse_frequency``: ``1 / sqrt(p_c)`` (gentler)
- ``median_frequency``: ``median(f) / f_c`` with ``f_c`` class c's pixels over the pixels of
  the images that contain c (Eigen & Fergus, 2015)
- ``enet``: ``1 / ln(1.02 + p_c)`` (ENet, Paszke et al., 2016)

Weights are scaled to mean 1 over the present classes (cross-entropy's weighted mean does
not depend on the scale; focal's ``alpha`` does).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ignite_zoo.registry.errors import RecipeError

STATS_FILE = "class_stats.json"
DEFAULT_RULE = "median_frequency"


def _inverse(counts: np.ndarray, hist: np.ndarray) -> np.ndarray:
    return 1.0 / (counts / counts.sum())


def _sqrt_inverse(counts: np.ndarray, hist: np.ndarray) -> np.ndarray:
    return 1.0 / np.sqrt(counts / counts.sum())


def _median(counts: np.ndarray, hist: np.ndarray) -> np.ndarray:
    image_pixels = hist.sum(1)
    in_images = np.array([image_pixels[hist[:, c] > 0].sum() for c in range(hist.shape[1])], dtype=np.float64)
    freq = counts / np.maximum(in_images, 1)
    return np.median(freq[counts > 0]) / freq


def _enet(counts: np.ndarray, hist: np.ndarray) -> np.ndarray:
    return 1.0 / np.log(1.02 + counts / counts.sum())


RULES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "inverse_frequency": _inverse, "sqrt_inverse_frequency": _sqrt_inverse,
    "median_frequency": _median, "enet": _enet,
}


def check_rule(rule: Any, where: str) -> str:
    if rule not in RULES:
        raise RecipeError(f"{where}: {rule!r} is not a class-weight rule; expected one of {', '.join(RULES)}")
    return rule


def weights_from_histograms(hist: np.ndarray, rule: str, skip: Sequence[int] = ()) -> np.ndarray:
    """Class weights ``[K]`` of per-image histograms ``[N, K]`` by ``rule``; classes in
    ``skip`` (the loss's ignored class) and classes without pixels get 0."""
    hist = np.asarray(hist, dtype=np.float64).copy()
    hist[:, list(skip)] = 0
    counts = hist.sum(0)
    present = counts > 0
    if not present.any():
        raise RecipeError("class weights: the training masks hold no counted pixel")
    with np.errstate(divide="ignore", invalid="ignore"):
        w = RULES[rule](counts, hist)
    w = np.where(present, w, 0.0)
    return w / w[present].mean()


def _masks_of(ds: Any) -> list[Path]:
    paths = getattr(ds, "mask_paths", None)
    if paths is None or not hasattr(ds, "read_mask"):
        raise RecipeError(f"class weights and class-balanced sampling read the training masks; dataset "
                          f"{type(ds).__name__} has none (a segmentation dataset with mask_paths and read_mask)")
    return [Path(p) for p in paths]


def _key(ds: Any, paths: Sequence[Path], num_classes: int) -> str:
    h = hashlib.sha256(f"{getattr(ds, 'split', None)}|{num_classes}|{getattr(ds, 'ignore_index', None)}".encode())
    for p in paths:
        st = p.stat()
        h.update(f"|{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def stats_file(paths: Sequence[Path]) -> Path:
    """``class_stats.json`` one folder above the masks' folder (the data root for the
    course's ``root/train/*_mask.png`` and VOC's ``SegmentationClass/``)."""
    return paths[0].parent.parent / STATS_FILE


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write(path: Path, data: dict) -> bool:
    """Atomic write; False when the data folder is read-only (the run goes on uncached)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
        return True
    except OSError:
        tmp.unlink(missing_ok=True)
        return False


class ClassStats:
    """The training split's per-image class histograms ``hist [N, K]``, cached on disk."""

    def __init__(self, ds: Any, num_classes: int) -> None:
        self.paths = _masks_of(ds)
        if not self.paths:
            raise RecipeError("class weights: the training split has no mask")
        self.num_classes = num_classes
        self.file = stats_file(self.paths)
        self.key = _key(ds, self.paths, num_classes)
        entry = _read(self.file).get(self.key)
        self.cached = entry is not None
        if entry is None:
            hist = np.zeros((len(self.paths), num_classes), dtype=np.int64)
            for i in range(len(self.paths)):
                ids = np.asarray(ds.read_mask(i)).ravel()
                ids = ids[(ids >= 0) & (ids < num_classes)]
                hist[i] = np.bincount(ids, minlength=num_classes)
            entry = {"split": getattr(ds, "split", None), "files": len(self.paths), "hist": hist.tolist(),
                     "weights": {}}
            self._save(entry)
        self.entry = entry
        self.hist = np.asarray(entry["hist"], dtype=np.int64)

    def _save(self, entry: dict) -> None:
        data = _read(self.file)
        data[self.key] = entry
        self.saved = _write(self.file, data)

    def weights(self, rule: str, skip: Sequence[int] = ()) -> list[float]:
        """Class weights by ``rule`` (cached per rule and skipped classes)."""
        name = f"{rule}|skip={','.join(map(str, sorted(skip)))}"
        if name not in self.entry["weights"]:
            self.entry["weights"][name] = [float(v) for v in weights_from_histograms(self.hist, rule, skip)]
            self._save(self.entry)
        return list(self.entry["weights"][name])
