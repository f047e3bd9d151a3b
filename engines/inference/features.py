"""Features of a classifier's second-last layer, for t-SNE and confusion matrices."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ignite_zoo.engines.step import StepConfig
from ignite_zoo.registry.errors import DataError, RunError


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
    """``model(x, return_features=True)`` over ``loader``, batched and under the run's autocast,
    so the predictions are the ones its evaluator scored."""
    from tqdm import tqdm

    from ignite_zoo.engines.runtime import autocast
    from ignite_zoo.engines.step import to_device

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
