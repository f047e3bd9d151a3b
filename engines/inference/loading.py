"""A trained model and its predictor, as the run computed them.

Tools reuse what the run itself used, so their numbers are the run's numbers: the recipe's
evaluation pipeline (``data.val.transforms``), its device and precision (``train.amp``),
``channels_last`` (``StepConfig.from_recipe``, the trainer's own settings) and its
``engines.predictor.Predictor`` settings (``eval``: whole or tiled, TTA), with a tool's
flags on top. An exported ``.onnx`` file gives the same object, run by ONNX Runtime.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from ignite_zoo.engines.predictor import PredictSettings, Predictor, StepFn
from ignite_zoo.engines.step import StepConfig
from ignite_zoo.registry.errors import CheckpointError


def load_trained(path: str | os.PathLike, device: str | None = None, last: bool = False
                 ) -> tuple[torch.nn.Module, dict[str, Any], StepConfig, Path]:
    """(model, recipe, step config, checkpoint file) for a checkpoint or a run directory.

    A run directory gives its best checkpoint (``last=True``: its latest). ``device``
    overrides the recipe's ``train.device``; autocast and ``channels_last`` follow the
    recipe, exactly as its validation ran.
    """
    from ignite_zoo.engines.checkpoint import load_model, resolve_checkpoint
    from ignite_zoo.engines.run_dir import RunDir

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: not found; expected a run directory (holding checkpoints/*.pt) "
                              "or a checkpoint .pt file")
    if path.is_dir() and last:
        ckpt = RunDir.open(path).last_checkpoint()
        if ckpt is None:
            raise CheckpointError(f"{path}: no checkpoints/last_checkpoint_*.pt; expected a run directory")
    else:
        ckpt = resolve_checkpoint(path)
    model, recipe = load_model(ckpt)
    step_cfg = StepConfig.from_recipe(recipe, device)
    if step_cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # as training held it
    return model.to(step_cfg.device).eval(), recipe, step_cfg, ckpt


def val_batch_size(recipe: Mapping[str, Any]) -> int:
    loader = recipe.get("data", {}).get("loader", {})
    return int(loader.get("val_batch_size") or loader.get("batch_size") or 1)


def val_transforms(recipe: Mapping[str, Any]) -> list[dict]:
    return copy.deepcopy(recipe.get("data", {}).get("val", {}).get("transforms") or [])


def eval_pipeline(recipe: Mapping[str, Any]) -> Any:
    """The run's evaluation preprocessing: its ``data.val.transforms`` + to-tensor (raw pixels:
    the model, PyTorch or ONNX, normalises)."""
    from ignite_zoo.zoo.data import build_transforms

    return build_transforms(val_transforms(recipe), recipe.get("task", "segmentation"), where="data.val.transforms")


#: layers whose parameters autocast leaves in fp32 (timm's norm layers subclass these)
NORM_LAYERS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.SyncBatchNorm,
               torch.nn.InstanceNorm1d, torch.nn.InstanceNorm2d, torch.nn.InstanceNorm3d, torch.nn.GroupNorm,
               torch.nn.LayerNorm)


def hold_in_bf16(model: torch.nn.Module, cfg: StepConfig) -> bool:
    """Cast ``model`` to bf16 once when prediction would run under CPU bf16 autocast.

    Autocast re-casts every weight to bf16 at every forward; a bf16 copy held once gives
    the same arithmetic without that per-call cost (and halves the weights' memory). The
    normalisation buffers stay float32 (the input is normalised in float32, as under
    autocast). Not for a model with normalization layers: autocast runs those on fp32
    parameters, and bf16 ones round differently (a few pixels change class, so the run's
    validation mIoU would not be reproduced exactly); such a model keeps autocast.
    Returns whether it cast. Only for prediction: the weights can no longer be trained.
    """
    if cfg.device.type != "cpu" or cfg.amp_dtype != torch.bfloat16:
        return False
    if any(isinstance(m, NORM_LAYERS) for m in model.modules()):
        return False
    from ignite_zoo.zoo.model import held_in

    held_in(model, torch.bfloat16)
    return True


@dataclass
class TrainedModel:
    """A run's model ready to predict, with what a tool must know about it."""

    predictor: Predictor           # raw images [N, C, H, W] -> float32 logits [N, K, H, W]
    recipe: dict[str, Any]         # the run's resolved recipe
    source: Path                   # the checkpoint or .onnx file
    device: str
    precision: str                 # "fp32", "bf16 autocast", "bf16 weights", "onnxruntime fp32", ...
    model: torch.nn.Module | None = field(default=None, repr=False)

    @property
    def step(self) -> StepFn:
        """The model on one batch of windows (with the predictor's TTA), no tiling."""
        return self.predictor.step

    def pipeline(self) -> Any:
        return eval_pipeline(self.recipe)


def load_predictor(path: str | os.PathLike, device: str | None = None, last: bool = False,
                   bf16_weights: bool = True, **given: Any) -> TrainedModel:
    """A run directory, a checkpoint ``.pt`` or an exported ``.onnx`` file, ready to predict.

    ``given``: ``PredictSettings`` fields from a tool's flags (None = the recipe's ``eval``).
    """
    if Path(path).suffix.lower() == ".onnx":
        from ignite_zoo.engines.inference.onnx_model import OnnxModel

        m = OnnxModel(path, device)
        settings = PredictSettings.from_recipe(m.recipe, **given)
        where = "cuda" if m.provider.startswith("CUDA") else "cpu"
        return TrainedModel(Predictor(m.step, settings, min_tile=m.min_tile, bytes_per_pixel=m.bytes_per_pixel),
                            m.recipe, m.path, where, "onnxruntime fp32")
    model, recipe, cfg, ckpt = load_trained(path, device, last=last)
    settings = PredictSettings.from_recipe(recipe, **given)
    cast = bf16_weights and hold_in_bf16(model, cfg)
    precision = "bf16 weights" if cast else ("fp32" if cfg.amp_dtype is None else
                                             f"{str(cfg.amp_dtype).replace('torch.', '')} autocast")
    return TrainedModel(Predictor.for_model(model, cfg, settings), recipe, ckpt, str(cfg.device), precision,
                        model=model)
