"""Inference at scale: tiled prediction's memory and speed, ONNX Runtime against PyTorch.

* Peak memory: a fresh Python process predicts one 4096x4096 image (1024x1024 with
  ``--quick``) with the full-width VGG16-FCN8s through
  ``engines.inference.sliding_window.sliding_window_logits`` (512-pixel tiles overlapping
  by 128, 4 tiles a batch, the prediction tool's step function) and the argmax to a mask,
  then reports its own peak resident set. That is VmHWM from /proc:
  ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in a child started from a Python process
  starts at the parent's high-water mark on Linux (the kernel carries it across fork and
  exec), so it would measure the bench, not the prediction; ``ru_maxrss`` is the fallback
  where /proc is missing, and the row says which one it is.
* Tiling overhead: a 2048x2048 image (1024x1024 with ``--quick``) in non-overlapping
  512-pixel tiles, batches of 4, against the same pixels as whole 512x512 images in batches
  of 4: equal work through the network, so the megapixels/s ratio is what the tiling
  itself (cropping, stacking, blending, normalising) costs. The same image with the
  default 128-pixel overlap is shown too, as information: overlap recomputes pixels.
* ONNX Runtime: the model exported by ``engines.inference.export.export_onnx`` runs under
  ONNX Runtime (its fp32 CPU provider, as many threads as PyTorch gets) against PyTorch
  fp32 and against the prediction tool's own PyTorch path; information, no target.

When ``engines.inference.sliding_window`` / ``engines.inference.export`` (or onnxruntime)
cannot be imported, each of their rows is a failed row ("FAILED, not measured", met: no)
naming the module: a missing optional module is never a quiet gap in the table.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import interleaved, median, paired_ratio, row, threads as use_threads  # noqa: E402

CLASSES = 7
TILE, OVERLAP, BATCH_TILES = 512, 128, 4
SLIDE = "ignite_zoo.engines.inference.sliding_window"
EXPORT = "ignite_zoo.engines.inference.export"
RSS_NAME = "scale: peak RSS of tiled prediction"
TILED_NAME = "scale: tiled / whole-image prediction, megapixels/s ratio"
ONNX_NAME = "scale: ONNX Runtime / PyTorch fp32 inference, images/s ratio"


def missing(*modules: str) -> str | None:
    """None when every module can be found, else which one cannot (a probe: nothing runs)."""
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent that is a module, not a package
            found = False
        if not found:
            return name
    return None


def not_available(prefix: str, unit: str, module: str) -> dict[str, Any]:
    """A failed row, not a quiet gap: the measurement could not run because ``module``
    cannot be imported (target "the module imports": 0 of 1, not met)."""
    return {"name": f"{prefix}: FAILED, not measured ({module} cannot be imported)", "value": 0.0, "unit": unit,
            "target": "== 1", "met": False}


def fcn8s(width: float = 1.0, hidden: int | None = None) -> Any:
    import torch

    from ignite_zoo import zoo  # noqa: F401
    from ignite_zoo.zoo.model import build_model

    torch.manual_seed(0)
    head: dict[str, Any] = {"type": "fcn8s", "num_classes": CLASSES}
    if hidden is not None:
        head["hidden"] = hidden
    return build_model({"backbone": {"type": "vgg16", "width": width}, "head": head}).eval()


def predict_step(model: Any) -> tuple[Callable[[Any], Any], str]:
    """The step the prediction tool runs on a CPU (bf16, channels_last) and its precision."""
    import torch

    from ignite_zoo.engines.step import StepConfig

    cfg = StepConfig(device=torch.device("cpu"), amp_dtype=torch.bfloat16, channels_last=True)
    model = model.to(memory_format=torch.channels_last)
    from ignite_zoo.engines.inference import hold_in_bf16
    from ignite_zoo.engines.predictor import torch_step

    cast = hold_in_bf16(model, cfg)
    return torch_step(model, cfg), "bf16 weights" if cast else "bf16 autocast"


# --------------------------------------------------------------------------------------
# (a) peak memory, in a child process
# --------------------------------------------------------------------------------------
def _rss_child(size: int, width: float, hidden: int | None, tile: int, overlap: int, n_threads: int) -> None:
    import resource

    import torch

    from ignite_zoo.engines.step import StepConfig

    from ignite_zoo.engines.inference.sliding_window import sliding_window_logits
    from ignite_zoo.engines.predictor import Predictor, activation_bytes_per_pixel

    torch.set_num_threads(n_threads)
    model = fcn8s(width, hidden)
    step, _ = predict_step(model)
    x = torch.randint(0, 256, (1, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    if tile == 0:  # no flag: the predictor's own choice (auto), as predict makes it
        bpp = activation_bytes_per_pixel(model, StepConfig(torch.device("cpu"), torch.bfloat16, True))
        mask = Predictor(step, bytes_per_pixel=bpp)(x).argmax(1)
    else:
        mask = sliding_window_logits(None, x, tile, overlap, batch_tiles=BATCH_TILES, step_fn=step).argmax(1)
    assert tuple(mask.shape) == (1, size, size), mask.shape
    hwm = None
    try:
        with open("/proc/self/status") as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"peak_mib": hwm if hwm is not None else maxrss,
                      "source": "VmHWM" if hwm is not None else "ru_maxrss"}))


def tiled_peak_rss(size: int, n_threads: int, width: float = 1.0, hidden: int | None = None,
                   tile: int = TILE, overlap: int = OVERLAP) -> tuple[float, str]:
    """(peak RSS in MiB, what measured it) of a child predicting one ``size`` x ``size`` image."""
    args = [str(size), str(width), str(hidden or 0), str(tile), str(overlap), str(n_threads)]
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--rss-child", *args],
                         capture_output=True, text=True, cwd=str(ROOT), check=False)
    if out.returncode != 0:
        raise RuntimeError(f"tiled prediction memory child failed ({out.returncode}): {out.stderr[-2000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return float(got["peak_mib"]), str(got["source"])


# --------------------------------------------------------------------------------------
# (b) tiling overhead
# --------------------------------------------------------------------------------------
def tiled_vs_whole(size: int, repeats: int, width: float = 1.0, hidden: int | None = None,
                   tile: int = TILE, overlap: int = OVERLAP) -> dict[str, Any]:
    """Megapixels/s of a ``size`` image in tiles (no overlap; default overlap) and of the
    same pixels as whole ``tile`` images, batches of ``BATCH_TILES`` everywhere."""
    import torch

    from ignite_zoo.engines.inference.sliding_window import sliding_window_logits

    if size % tile:
        raise ValueError(f"size {size} must be a multiple of the tile {tile}")
    step, precision = predict_step(fcn8s(width, hidden))
    g = torch.Generator().manual_seed(0)
    big = torch.randn(1, 3, size, size, generator=g)
    # the same pixels cut into whole tile-sized images
    pieces = big.unfold(2, tile, tile).unfold(3, tile, tile).permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, tile, tile)
    batches = [pieces[i:i + BATCH_TILES].contiguous() for i in range(0, len(pieces), BATCH_TILES)]

    def tiled(lap: int) -> Callable[[], Any]:
        return lambda: sliding_window_logits(None, big, tile, lap, batch_tiles=BATCH_TILES, step_fn=step).argmax(1)

    def whole() -> None:
        for b in batches:
            step(b).argmax(1)

    t = interleaved({"tiled": tiled(0), "whole": whole, "overlap": tiled(overlap)}, repeats=repeats, warmup=1)
    mp = size * size / 1e6
    return {"mps": {k: mp / median(v) for k, v in t.items()}, "ratio": paired_ratio(t["whole"], t["tiled"]),
            "ratio_overlap": paired_ratio(t["whole"], t["overlap"]), "precision": precision,
            "images": len(pieces)}


# --------------------------------------------------------------------------------------
# (c) ONNX Runtime against PyTorch
# --------------------------------------------------------------------------------------
def _checkpoint(tmp: Path, width: float, hidden: int | None) -> Path:
    """A checkpoint in the runs' format (weights + resolved recipe) of a freshly built FCN8s."""
    import torch

    from ignite_zoo.engines.checkpoint import RecipeState
    from ignite_zoo.registry.recipe import load_recipe

    overrides = [f"model.backbone.width={width}"] + ([f"model.head.hidden={hidden}"] if hidden else [])
    recipe = load_recipe(ROOT / "recipes" / "seg_fcn8s_vgg16_sat.yaml", overrides)
    recipe["model"]["backbone"]["weights"] = None
    path = tmp / "fcn8s.pt"
    torch.save({"model": fcn8s(width, hidden).state_dict(), "recipe": RecipeState(recipe).state_dict()}, path)
    return path


def onnx_vs_torch(size: int, batch: int, repeats: int, n_threads: int, width: float = 1.0,
                  hidden: int | None = None) -> dict[str, Any]:
    """images/s of ONNX Runtime (the exported file), PyTorch fp32 and the prediction tool's PyTorch."""
    import onnxruntime as ort
    import torch

    from ignite_zoo.engines.inference.export import export_onnx
    from ignite_zoo.engines.trainer import StepConfig

    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = _checkpoint(Path(tmp), width, hidden)
        exported = export_onnx(ckpt, Path(tmp) / "fcn8s.onnx")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = n_threads
        session = ort.InferenceSession(str(exported.path), sess_options=opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    xn = x.numpy()
    from ignite_zoo.engines.predictor import forward_logits

    fp32 = fcn8s(width, hidden).to(memory_format=torch.channels_last)
    cfg32 = StepConfig(device=torch.device("cpu"), amp_dtype=None, channels_last=True)
    step, precision = predict_step(fcn8s(width, hidden))
    cases = {"onnx": lambda: session.run(None, {name: xn})[0].argmax(1),
             "fp32": lambda: forward_logits(fp32, x, cfg32).argmax(1),
             "tool": lambda: step(x).argmax(1)}
    t = interleaved(cases, repeats=repeats, warmup=1)
    return {"ips": {k: batch / median(v) for k, v in t.items()}, "vs_fp32": paired_ratio(t["fp32"], t["onnx"]),
            "vs_tool": paired_ratio(t["tool"], t["onnx"]), "precision": precision,
            "max_abs_diff": exported.max_abs_diff}


# --------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------
def run(quick: bool = True, threads: int | None = None) -> list[dict[str, Any]]:
    import torch

    n_threads = threads or torch.get_num_threads()
    q = " (quick: indicative, no target)" if quick else ""
    rows: list[dict[str, Any]] = []

    gone = missing(SLIDE)
    if gone:
        rows.append(not_available(RSS_NAME, "GiB", gone))
    else:
        size = 1024 if quick else 4096
        peak, source = tiled_peak_rss(size, n_threads)
        rows.append(row(f"{RSS_NAME}: VGG16-FCN8s, one {size}x{size} image, tiles {TILE} overlap {OVERLAP}, "
                        f"{BATCH_TILES} a batch, {n_threads} threads, in a subprocess ({source}){q}",
                        peak / 1024, "GiB", None if quick else "< 3", digits=2))
        peak, source = tiled_peak_rss(size, n_threads, tile=0)
        rows.append(row(f"scale: peak RSS of prediction with no tiling flag (the predictor's auto mode): "
                        f"VGG16-FCN8s, one {size}x{size} image, {n_threads} threads, in a subprocess ({source}){q}",
                        peak / 1024, "GiB", None if quick else "< 3", digits=2))

    if gone:
        rows.append(not_available(TILED_NAME, "x", gone))
    else:
        size, repeats = (1024, 2) if quick else (2048, 3)
        with use_threads(n_threads):
            r = tiled_vs_whole(size, repeats)
        what = (f"VGG16-FCN8s {r['precision']}, {size}x{size} in {TILE}-pixel tiles vs the same pixels as "
                f"{r['images']} whole {TILE}x{TILE} images, batches of {BATCH_TILES}, {n_threads} threads"
                f"{' (quick)' if quick else ''}")
        rows += [
            row(f"scale: tiled prediction, no overlap, megapixels/s ({what})", r["mps"]["tiled"], "MP/s", digits=3),
            row(f"scale: whole-image prediction, megapixels/s ({what})", r["mps"]["whole"], "MP/s", digits=3),
            row(f"{TILED_NAME}, no overlap: equal work ({what}){q}", r["ratio"], "x", None if quick else ">= 0.90",
                digits=3),
            row(f"scale: tiled / whole-image megapixels/s with overlap {OVERLAP} (information: overlap "
                f"recomputes pixels; {what})", r["ratio_overlap"], "x", digits=3),
        ]

    gone = missing(EXPORT, "onnxruntime", "onnxscript")
    if gone:
        rows.append(not_available(ONNX_NAME, "x", gone))
    else:
        width, hidden, size = (0.25, 512, 256) if quick else (1.0, None, 512)
        with use_threads(n_threads):
            r = onnx_vs_torch(size, 1, 2 if quick else 5, n_threads, width, hidden)
        what = (f"VGG16-FCN8s{'' if width == 1 else f' width {width}'}, {size}x{size} batch 1, {n_threads} threads"
                f"{' (quick)' if quick else ''}")
        rows += [
            row(f"scale: ONNX Runtime fp32 images/s ({what})", r["ips"]["onnx"], "images/s", digits=2),
            row(f"scale: PyTorch fp32 images/s ({what})", r["ips"]["fp32"], "images/s", digits=2),
            row(f"scale: PyTorch as tools/predict.py runs it ({r['precision']}) images/s ({what})",
                r["ips"]["tool"], "images/s", digits=2),
            row(f"{ONNX_NAME} (information; {what})", r["vs_fp32"], "x", digits=2),
            row(f"scale: ONNX Runtime / PyTorch {r['precision']} images/s ratio (information; {what})",
                r["vs_tool"], "x", digits=2),
        ]
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--rss-child":
        a = sys.argv[2:8]
        _rss_child(int(a[0]), float(a[1]), int(a[2]) or None, int(a[3]), int(a[4]), int(a[5]))
    else:
        for r in run(quick="--quick" in sys.argv):
            print(f"{r['name']}: {r['value']} {r['unit']}" + (f"  [{r['target']}: {r['met']}]" if r["target"] else ""))
