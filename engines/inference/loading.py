"""A trained model and the function that turns a batch into logits, as the run computed them.

Tools reuse what the run itself used, so their numbers are the run's numbers: the recipe's
evaluation pipeline (``data.val.transforms``), its device and precision (``train.amp``) and
``channels_last``. A *step function* ``step(x) -> float32 logits`` hides how a model runs
(PyTorch under autocast, PyTorch with bf16 weights, or an ONNX Runtime session), so tiled
prediction, folder prediction and test-time flipping work the same for all of them.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ignite_zoo.engines.step import StepConfig
from ignite_zoo.registry.errors import CheckpointError, RecipeError

StepFn = Callable[[torch.Tensor], torch.Tensor]


def load_trained(path: str | os.PathLike, device: str | None = None, last: bool = False
                 ) -> tuple[torch.nn.Module, dict[str, Any], StepConfig, Path]:
    """(model, recipe, step config, checkpoint file) for a checkpoint or a run directory.

    A run directory gives its best checkpoint (``last=True``: its latest). ``device``
    overrides the recipe's ``train.device``; autocast and ``channels_last`` follow the
    recipe, exactly as its validation ran.
    """
    from ignite_zoo.engines.checkpoint import load_model, resolve_checkpoint
    from ignite_zoo.engines.run_dir import RunDir
    from ignite_zoo.engines.runtime import resolve_amp, resolve_device

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


def val_transforms(recipe: Mapping[str, Any]) -> list[dict]:
    return copy.deepcopy(recipe.get("data", {}).get("val", {}).get("transforms") or [])


def eval_pipeline(recipe: Mapping[str, Any], normalize: Mapping[str, Any] | None = None) -> Any:
    """The run's evaluation preprocessing: its ``data.val.transforms`` + normalise + to-tensor.

    ``normalize`` (``{"mean", "std"}``) replaces the recipe's normalisation: an exported
    model carries its own.
    """
    from ignite_zoo.zoo.data import build_transforms

    spec = val_transforms(recipe)
    if normalize is not None:
        spec = [t for t in spec if t.get("type") != "Normalize"]
        spec.append({"type": "Normalize", "mean": list(normalize["mean"]), "std": list(normalize["std"]),
                     "max_pixel_value": 255.0})
    return build_transforms(spec, recipe.get("task", "segmentation"), where="data.val.transforms")


def normalization(recipe: Mapping[str, Any]) -> dict[str, list[float]]:
    """Mean and std (of 0-1 pixel values) the run's evaluation pipeline normalises with."""
    from ignite_zoo.zoo.data import IMAGENET_MEAN, IMAGENET_STD

    for t in val_transforms(recipe):
        if t.get("type") == "Normalize":
            scale = 255.0 / float(t.get("max_pixel_value", 255.0))
            mean = [float(v) * scale for v in t.get("mean", IMAGENET_MEAN)]
            std = [float(v) * scale for v in t.get("std", IMAGENET_STD)]
            return {"mean": mean, "std": std}
    return {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}


# --------------------------------------------------------------------------------------
# step functions
# --------------------------------------------------------------------------------------
def weights_dtype(model: torch.nn.Module) -> torch.dtype:
    p = next(model.parameters(), None)
    return p.dtype if p is not None else torch.float32


#: layers whose parameters autocast leaves in fp32 (timm's norm layers subclass these)
NORM_LAYERS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.SyncBatchNorm,
               torch.nn.InstanceNorm1d, torch.nn.InstanceNorm2d, torch.nn.InstanceNorm3d, torch.nn.GroupNorm,
               torch.nn.LayerNorm)


def use_bf16_weights(model: torch.nn.Module, cfg: StepConfig) -> bool:
    """Cast ``model`` to bf16 once when prediction would run under CPU bf16 autocast.

    Autocast re-casts every weight to bf16 at every forward; a bf16 copy held once gives
    the same arithmetic without that per-call cost (and halves the weights' memory).
    Not for a model with normalization layers: autocast runs those on fp32 parameters,
    and bf16 ones round differently (a few pixels change class, so the run's validation
    mIoU would not be reproduced exactly); such a model keeps autocast.
    Returns whether it cast. Only for prediction: the weights can no longer be trained.
    """
    if cfg.device.type != "cpu" or cfg.amp_dtype != torch.bfloat16:
        return False
    if any(isinstance(m, NORM_LAYERS) for m in model.modules()):
        return False
    model.to(torch.bfloat16)
    return True


def make_step_fn(model: torch.nn.Module, cfg: StepConfig) -> StepFn:
    """``step(x) -> float32 logits`` on ``cfg.device`` for a batch on any device.

    A model holding bf16 weights (``use_bf16_weights``) gets bf16 inputs and no autocast;
    any other runs through ``engines.evaluator.predict_logits``, as the run's evaluator.
    """
    from ignite_zoo.engines.evaluator import predict_logits

    dtype = weights_dtype(model)

    @torch.inference_mode()
    def step(x: torch.Tensor) -> torch.Tensor:
        x = x.to(cfg.device, non_blocking=cfg.non_blocking)
        if dtype in (torch.float32, torch.float64):
            return predict_logits(model, x, cfg)
        x = x.to(dtype)
        if cfg.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return model(x).float()

    return step


def with_flip(step: StepFn) -> StepFn:
    """Test-time augmentation: the mean of the logits of the image and its mirror image."""

    def flipped(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (step(x) + step(x.flip(-1)).flip(-1))

    return flipped


@dataclass
class Predictor:
    """Whatever turns images into logits, with what a tool must know about it."""

    step: StepFn                   # float32 logits [N, K, H, W] for normalised images [N, C, H, W]
    recipe: dict[str, Any]         # the run's resolved recipe
    source: Path                   # the checkpoint or .onnx file
    device: str
    precision: str                 # "fp32", "bf16 autocast", "bf16 weights", "onnxruntime fp32", ...
    normalize: dict[str, list[float]] | None = None   # set when the model carries its own
    model: torch.nn.Module | None = field(default=None, repr=False)

    def pipeline(self) -> Any:
        return eval_pipeline(self.recipe, self.normalize)


def load_predictor(path: str | os.PathLike, device: str | None = None, last: bool = False,
                   tta: str | None = None, bf16_weights: bool = True) -> Predictor:
    """A run directory, a checkpoint ``.pt`` or an exported ``.onnx`` file, ready to predict."""
    if tta not in (None, "flip"):
        raise RecipeError(f"--tta {tta!r}: expected 'flip' or none")
    if Path(path).suffix.lower() == ".onnx":
        from ignite_zoo.engines.inference.export import onnx_predictor

        pred = onnx_predictor(path, device)
    else:
        model, recipe, cfg, ckpt = load_trained(path, device, last=last)
        cast = bf16_weights and use_bf16_weights(model, cfg)
        precision = "bf16 weights" if cast else ("fp32" if cfg.amp_dtype is None else
                                                 f"{str(cfg.amp_dtype).replace('torch.', '')} autocast")
        pred = Predictor(make_step_fn(model, cfg), recipe, ckpt, str(cfg.device), precision, model=model)
    if tta == "flip":
        pred.step = with_flip(pred.step)
    return pred
