"""A classifier's features and figures in the run's TensorBoard folder, next to its training logs.

``tensorboard --logdir runs`` then shows the features in the Projector tab (PCA, t-SNE and
UMAP computed in the browser, points coloured by true or predicted class) and the
confusion matrix and t-SNE figures in the Images tab, beside the run's curves.

Writing is additive: a new events file (SummaryWriter never appends to another one), the
embedding in a folder that does not exist yet, and ``projector_config.pbtxt`` keeps the
embeddings written before (SummaryWriter would rewrite it with its own only, so the earlier
entries are merged back in). Nothing already there is replaced or removed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

CONFIG = "projector_config.pbtxt"
TAG = "tsne_features"


@dataclass
class ProjectorOutput:
    tb_dir: Path
    events_file: Path
    embedding_dir: Path     # holds tensors.tsv and metadata.tsv
    tag: str
    step: int


def _read_config(path: Path) -> object:
    from google.protobuf import text_format
    from tensorboard.plugins.projector import ProjectorConfig

    config = ProjectorConfig()
    if path.is_file():
        text_format.Parse(path.read_text(encoding="utf-8"), config)
    return config


def _free_tag(tb_dir: Path, step: int) -> str:
    """``tsne_features``, or ``tsne_features_<n>`` when that step already has one."""
    tag, n = TAG, 1
    while (tb_dir / f"{step:05d}" / tag).exists():
        n += 1
        tag = f"{TAG}_{n}"
    return tag


def write_projector(tb_dir: str | os.PathLike, features: np.ndarray, labels: np.ndarray, predictions: np.ndarray,
                    class_names: Sequence[str], ids: Sequence[str], step: int,
                    images: Mapping[str, str | os.PathLike] | None = None) -> ProjectorOutput:
    """The features ``[N, D]`` as a projector embedding at ``step`` (metadata columns: true
    class name, predicted class name, sample id) and each PNG of ``images`` (tag -> file)
    as an image, in a new events file of ``tb_dir``."""
    from google.protobuf import text_format
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    tb_dir = Path(tb_dir)
    tb_dir.mkdir(parents=True, exist_ok=True)
    step = max(int(step), 0)
    earlier = _read_config(tb_dir / CONFIG)
    tag = _free_tag(tb_dir, step)
    names = [str(c) for c in class_names]
    metadata = [[names[int(y)], names[int(p)], str(i)] for y, p, i in zip(labels, predictions, ids)]
    before = set(tb_dir.glob("events.out.tfevents.*"))
    writer = SummaryWriter(log_dir=str(tb_dir), filename_suffix=".tsne")
    try:
        writer.add_embedding(np.asarray(features, dtype=np.float32), metadata=metadata, global_step=step, tag=tag,
                             metadata_header=["class", "predicted", "id"])
        for image_tag, path in (images or {}).items():
            with Image.open(path) as im:
                writer.add_image(image_tag, np.asarray(im.convert("RGB")), global_step=step, dataformats="HWC")
    finally:
        writer.close()
    (events,) = set(tb_dir.glob("events.out.tfevents.*")) - before
    mine = _read_config(tb_dir / CONFIG)  # SummaryWriter's: this embedding only
    merged = type(earlier)()
    merged.embeddings.extend(earlier.embeddings)
    seen = {e.tensor_name for e in earlier.embeddings}
    merged.embeddings.extend(e for e in mine.embeddings if e.tensor_name not in seen)
    tmp = tb_dir / f".{CONFIG}.tmp{os.getpid()}"
    tmp.write_text(text_format.MessageToString(merged), encoding="utf-8")
    os.replace(tmp, tb_dir / CONFIG)
    return ProjectorOutput(tb_dir, events, tb_dir / f"{step:05d}" / tag, tag, step)
