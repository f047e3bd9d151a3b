"""ONNX export of a trained model, and prediction from the exported file.

The exported file is the whole deployable model: the graph with dynamic batch, height and
width, taking raw pixels (the model's normalisation buffers are part of the graph, so no
metadata copy of them can disagree with the run), plus ``metadata_props`` holding what
prediction needs besides the weights (class names, palette, input bands, task, the
smallest tile and the activation memory per pixel for tiling) and the resolved recipe YAML, so ``tools/predict.py model.onnx ...`` runs it with ONNX Runtime without the
checkpoint or the model's code.

The exporter is PyTorch's ``torch.export``-based one (``dynamo=True``, which needs
``onnxscript``). The older TorchScript exporter (``dynamo=False``) traces sizes into
constants: an FCN's crop to the input size became a fixed number and the graph failed on
any other size, and ``adaptive_avg_pool2d`` (the classifier) refuses dynamic sizes.
``torch.export`` keeps sizes symbolic; a model it still fixes to the example's size is
caught by running the graph at a second size, and exported for a fixed size with a warning.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ignite_zoo.engines.inference.loading import load_trained
from ignite_zoo.engines.inference.onnx_model import PREFIX
from ignite_zoo.engines.predictor import Predictor, activation_bytes_per_pixel
from ignite_zoo.engines.step import StepConfig
from ignite_zoo.registry.errors import CheckpointError, RunError

log = logging.getLogger("engines")
INPUT, OUTPUT = "image", "logits"


@dataclass
class ExportResult:
    path: Path
    dynamic: list[str]           # the input axes left dynamic ("batch", "height", "width")
    max_abs_diff: float          # ONNX Runtime vs PyTorch logits on the example input
    max_abs_logit: float         # the scale of those logits
    metadata: dict[str, str]


def _class_facts(recipe: dict[str, Any], num_classes: int) -> tuple[list[str], list | None]:
    from ignite_zoo.engines.inference.layout import dataset_info
    from ignite_zoo.registry.errors import UserError

    try:  # a classification dataset may need its folder for the class names
        info = dataset_info(recipe.get("data"))
        if info.num_classes == num_classes:
            return list(info.classes), [list(c) for c in info.palette] if info.palette else None
    except UserError:
        pass
    names = (recipe.get("data", {}).get("args") or {}).get("classes")
    if isinstance(names, list) and len(names) == num_classes:
        return [str(n) for n in names], None
    return [str(i) for i in range(num_classes)], None


def export_metadata(recipe: dict[str, Any], num_classes: int, channels: int, source: Path) -> dict[str, str]:
    import yaml

    classes, palette = _class_facts(recipe, num_classes)
    return {PREFIX + "task": str(recipe.get("task")), PREFIX + "classes": json.dumps(classes),
            PREFIX + "palette": json.dumps(palette), PREFIX + "input_channels": str(channels),
            PREFIX + "checkpoint": source.name, PREFIX + "recipe": yaml.safe_dump(recipe, sort_keys=False)}


def _example(recipe: dict[str, Any]) -> torch.Tensor:
    """A batch of 2 (a batch of 1 would fix the batch size) at the recipe's input size or 64x64."""
    size = (recipe.get("model") or {}).get("input_size") or [3, 64, 64]
    c, h, w = (int(v) for v in size)
    return torch.rand(2, c, max(h, 32), max(w, 32), generator=torch.Generator().manual_seed(0)) * 255


def _export_program(model: torch.nn.Module, x: torch.Tensor, dynamic_hw: bool = True) -> Any:
    from torch.export import Dim

    dims = {0: Dim("batch", min=1, max=4096)}
    if dynamic_hw:
        dims.update({2: Dim("height", min=32, max=16384), 3: Dim("width", min=32, max=16384)})
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracing notes are not the user's
        try:
            return torch.onnx.export(model, (x,), dynamo=True, input_names=[INPUT], output_names=[OUTPUT],
                                     dynamic_shapes=(dims,), external_data=False, verbose=False)
        except Exception as e:  # the exporter raises many types; the user needs the model and the reason
            raise RunError(f"cannot export {type(model).__name__} to ONNX ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''})") from None


def _session(proto: Any) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _max_diff(session: Any, model: torch.nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """(largest |ONNX Runtime - PyTorch| logit, largest |logit|) on ``x``; inf if it fails."""
    with torch.inference_mode():
        ref = model(x).float().numpy()
    try:
        got = session.run(None, {INPUT: x.numpy()})[0]
    except Exception:  # noqa: BLE001  (a graph that only takes the example's size)
        return float("inf"), float(np.abs(ref).max())
    if got.shape != ref.shape:
        return float("inf"), float(np.abs(ref).max())
    return float(np.abs(got - ref).max()), float(np.abs(ref).max())


def export_onnx(path: str | os.PathLike, out: str | os.PathLike, last: bool = False,
                overwrite: bool = False) -> ExportResult:
    """Export the model of a run directory or checkpoint to ``out`` (``.onnx``), checked.

    The graph is run by ONNX Runtime at the example size and at another one and compared
    with PyTorch: a model whose sizes ``torch.export`` fixed without saying so (the
    classifier's adaptive pooling to 7x7) is exported again for the example's height and
    width only, with a warning. The file is written whole or not at all (temporary file +
    rename); an existing file is kept unless ``overwrite``.
    """
    import onnx

    from ignite_zoo.engines.outputs import check_output_file, check_writable, writing

    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise CheckpointError(f"{out}: expected a file name ending in .onnx")
    out = check_output_file(out, [Path(path)], overwrite, flag="--onnx")  # a folder it can write in
    model, recipe, _, ckpt = load_trained(path, "cpu", last=last)
    # the file holds the weights in float32: about that much room, before the export's work
    weights = sum(t.numel() * 4 for t in model.state_dict().values() if t.is_floating_point())
    check_writable(out.parent, f"--onnx {out}", need=int(weights * 1.1) + (1 << 20))
    model = model.float().to(memory_format=torch.contiguous_format).eval()
    x = _example(recipe)
    other = torch.rand(1, x.shape[1], x.shape[2] + 32, x.shape[3] + 64, generator=torch.Generator().manual_seed(1)) * 255
    proto = _export_program(model, x).model_proto
    session = _session(proto)
    diff, scale = _max_diff(session, model, x)
    diff_other, scale_other = _max_diff(session, model, other)
    dynamic = ["batch", "height", "width"]
    if not diff_other <= 1e-4 * max(scale_other, 1.0):
        warnings.warn(f"{type(getattr(model, 'head', model)).__name__} gives other logits in ONNX at sizes other than the example's "
                      f"{x.shape[2]}x{x.shape[3]}; exported for {x.shape[2]}x{x.shape[3]} inputs only", stacklevel=2)
        proto = _export_program(model, x, dynamic_hw=False).model_proto
        diff, scale = _max_diff(_session(proto), model, x)
        dynamic = ["batch"]
    with torch.inference_mode():
        num_classes = int(model(x[:1]).shape[1])
    meta = export_metadata(recipe, num_classes, int(x.shape[1]), ckpt)
    meta[PREFIX + "dynamic_axes"] = json.dumps(dynamic)
    meta[PREFIX + "input_size"] = json.dumps([int(v) for v in x.shape[1:]])
    fp32 = StepConfig(torch.device("cpu"))
    meta[PREFIX + "min_tile"] = json.dumps(Predictor.for_model(model, fp32).min_tile)
    meta[PREFIX + "activation_bytes_per_pixel"] = json.dumps(activation_bytes_per_pixel(model, fp32, int(x.shape[1])))
    onnx.helper.set_model_props(proto, meta)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        with writing(out):
            onnx.save(proto, str(tmp))
            os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(out, dynamic, diff, scale, meta)
