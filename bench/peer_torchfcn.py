"""This project's FCN32s against torchfcn's (wkentaro/pytorch-fcn), the Caffe-faithful design.

torchfcn pads the input by 100 pixels on conv1_1, runs fc6 as an unpadded 7x7 convolution,
upsamples with a 64x64 stride-32 transposed convolution and crops at offset 19; this
project's head pads fc6 instead ("same") and crops at offset 0, so it computes nothing on
the padded border. Both networks get the same weights (this project's, copied layer by
layer: the parameter shapes are identical), the same dtype and memory format (bf16
autocast + channels_last, the CPU fast path), the same step function, optimizer and loss,
and run interleaved with 2048x2048 bf16 matmuls that give the machine's bf16 peak.

torchfcn's 100-pixel padding makes it compute on a larger image (at 512x512 about 1.7x
the FLOPs of this project's FCN32s), so images/s do not compare equal work. The target
is on the arithmetic rate instead: GFLOP/s, each model's own FLOPs counted with
``torch.utils.flop_counter.FlopCounterMode``, and each side's share of the bf16 matmul
peak. The wall-time ratio stays as information, with the FLOP ratio beside it.

torchfcn's own ``FCN32s`` is used when the package is installed (``pip install --no-deps
torchfcn``); otherwise the same geometry is rebuilt here and the row names say so.
"""
from __future__ import annotations

import importlib.util
import math
import sys
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    interleaved, matmul_cases, median, paired_ratio, peak_source, row, threads as use_threads,
)  # noqa: E402

CLASSES = 7


def _torchfcn_fcn32s() -> tuple[type | None, str]:
    """torchfcn's FCN32s class and its version, or (None, reason)."""
    spec = importlib.util.find_spec("torchfcn")
    if spec is None or not spec.submodule_search_locations:
        return None, "not installed"
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "fcn32s.py"
    # torchfcn/__init__.py imports its trainer and datasets (pytz, scikit-image, scipy), and
    # models/fcn32s.py imports the `fcn` package only for its pretrained-weights download
    # helper; neither is needed to build the network. So the module file is loaded on its
    # own, with an empty stand-in for `fcn` while it imports.
    added = "fcn" not in sys.modules
    if added:
        sys.modules["fcn"] = types.ModuleType("fcn")
    try:
        mspec = importlib.util.spec_from_file_location("_bench_torchfcn_fcn32s", path)
        module = importlib.util.module_from_spec(mspec)
        mspec.loader.exec_module(module)
    except Exception as e:  # a different torchfcn layout
        return None, f"unusable ({type(e).__name__}: {e})"
    finally:
        if added:
            del sys.modules["fcn"]
    try:
        from importlib.metadata import version

        ver = version("torchfcn")
    except Exception:
        ver = "?"
    return module.FCN32s, f"torchfcn {ver}"


def _caffe_fcn32s(n_class: int, width: float = 1.0, hidden: int = 4096):
    """torchfcn's FCN32s geometry, rebuilt: conv1_1 padding 100, ceil-mode pools, fc6 7x7
    without padding, score_fr, a 64x64 stride-32 transposed convolution, crop at 19.
    ``width`` and ``hidden`` shrink it as ``model.backbone.width`` and ``model.head.hidden``
    shrink this project's (the tests' tiny sizes)."""
    import torch
    from torch import nn

    class CaffeFCN32s(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            in_ch = 3
            for block, (ch, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
                ch = max(1, int(round(ch * width)))
                for i in range(n):
                    pad = 100 if block == 0 and i == 0 else 1
                    layers += [nn.Conv2d(in_ch, ch, 3, padding=pad), nn.ReLU(inplace=True)]
                    in_ch = ch
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
            self.features = nn.Sequential(*layers)
            self.fc6 = nn.Conv2d(in_ch, hidden, 7)
            self.relu6, self.drop6 = nn.ReLU(inplace=True), nn.Dropout2d()
            self.fc7 = nn.Conv2d(hidden, hidden, 1)
            self.relu7, self.drop7 = nn.ReLU(inplace=True), nn.Dropout2d()
            self.score_fr = nn.Conv2d(hidden, n_class, 1)
            self.upscore = nn.ConvTranspose2d(n_class, n_class, 64, stride=32, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.features(x)
            h = self.drop6(self.relu6(self.fc6(h)))
            h = self.drop7(self.relu7(self.fc7(h)))
            h = self.upscore(self.score_fr(h))
            return h[:, :, 19:19 + x.size(2), 19:19 + x.size(3)].contiguous()

    return CaffeFCN32s()


def _copy_weights(ours: Any, peer: Any) -> None:
    """Copy every parameter in order (13 convs, fc6, fc7, score_fr, upscore): shapes must match."""
    import torch

    src = [p for p in ours.parameters()]
    dst = [p for p in peer.parameters()]
    if [tuple(p.shape) for p in src] != [tuple(p.shape) for p in dst]:
        raise RuntimeError("peer FCN32s: parameter shapes differ from this project's FCN32s")
    with torch.no_grad():
        for a, b in zip(src, dst):
            b.copy_(a)


def _flops(fn: Any) -> float:
    """FLOPs of one call of ``fn``, counted by torch's public ``FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def measure(size: int, batch: int, repeats: int) -> dict[str, Any]:
    """Seconds per call (``inf``, ``train``: {ours, peer} -> list), FLOPs per call of each,
    and the bf16 matmul peak (GFLOP/s) of each repeat, measured interleaved with the models."""
    import torch

    from ignite_zoo import zoo  # noqa: F401
    from ignite_zoo.engines.predictor import forward_logits
    from ignite_zoo.engines.optim import sgd
    from ignite_zoo.engines.trainer import StepConfig, make_train_step
    from ignite_zoo.registry import LOSSES
    from ignite_zoo.zoo.model import build_model

    torch.manual_seed(0)
    ours = build_model({"backbone": {"type": "vgg16"}, "head": {"type": "fcn32s", "num_classes": CLASSES}})
    peer_cls, source = _torchfcn_fcn32s()
    installed = peer_cls is not None
    peer = peer_cls(n_class=CLASSES) if installed else _caffe_fcn32s(CLASSES)
    _copy_weights(ours, peer)
    models = {"ours": ours.to(memory_format=torch.channels_last), "peer": peer.to(memory_format=torch.channels_last)}
    device = torch.device("cpu")
    cfg = StepConfig(device=device, amp_dtype=torch.bfloat16, channels_last=True)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g)
    y = torch.randint(0, CLASSES, (batch, size, size), generator=g)
    loss_fn = LOSSES.build({"type": "cross_entropy"})
    engine = types.SimpleNamespace(state=types.SimpleNamespace(iteration=1))

    masks = {k: forward_logits(m, x, cfg).argmax(1) for k, m in models.items()}
    if masks["ours"].shape != masks["peer"].shape or tuple(masks["ours"].shape[-2:]) != (size, size):
        raise AssertionError(f"peer FCN32s: mask sizes differ: ours {tuple(masks['ours'].shape)}, "
                             f"peer {tuple(masks['peer'].shape)}, input {size}x{size}")

    def infer(m: Any):
        return lambda: forward_logits(m, x, cfg).argmax(1)

    def train(m: Any):
        step = make_train_step(m, sgd(m.parameters(), lr=1e-4), loss_fn, cfg)

        def one() -> None:
            loss = step(engine, (x, y))
            if not math.isfinite(loss):
                raise RuntimeError(f"peer bench: loss became {loss}")

        return one

    peak_cases = matmul_cases(2048, tags=("bf16",))
    peak_runs = {f"peak {k}": v[0] for k, v in peak_cases.items()}
    out: dict[str, Any] = {"source": source, "installed": installed, "mask": tuple(masks["ours"].shape[-2:]),
                           "flops": {}, "peak": {}, "peak_source": ""}
    case_gflops: dict[str, list[float]] = {k: [] for k in peak_cases}
    for kind, make in (("inf", infer), ("train", train)):
        fns = {k: make(m) for k, m in models.items()}
        out["flops"][kind] = {k: _flops(f) for k, f in fns.items()}
        t = interleaved({**fns, **peak_runs}, repeats=repeats, warmup=1)
        out[kind] = {k: t[k] for k in models}
        per_case = {k: [peak_cases[k][1] / s / 1e9 for s in t[f"peak {k}"]] for k in peak_cases}
        out["peak"][kind] = [max(v[r] for v in per_case.values()) for r in range(repeats)]
        for k, v in per_case.items():
            case_gflops[k] += v
    out["peak_source"] = peak_source("bf16", {k: median(v) for k, v in case_gflops.items()})
    return out


def run(quick: bool = True, threads: int | None = None) -> list[dict[str, Any]]:
    """Both sides' images/s, GFLOP/s and share of the bf16 matmul peak; the GFLOP/s ratio
    (target >= 1 at 512x512, full mode) and, as information, the wall-time ratio beside
    the FLOP ratio (torchfcn's padded input costs more FLOPs, so its wall time is not equal work)."""
    import torch

    n_threads = threads or torch.get_num_threads()
    size, batch, repeats = (256, 1, 2) if quick else (512, 1, 5)
    with use_threads(n_threads):
        r = measure(size, batch, repeats)
    peer = r["source"] if r["installed"] else f"torchfcn geometry rebuilt here, torchfcn {r['source']}"
    what = (f"{size}x{size}{' (quick)' if quick else ''} batch {batch}, bf16 + channels_last, {n_threads} threads, "
            f"{repeats} interleaved repeats, masks {r['mask'][0]}x{r['mask'][1]} both")
    target = None if quick else ">= 1.0"
    peaks = r["peak"]["inf"] + r["peak"]["train"]
    rows = [row(f"peer: bf16 matmul peak ({r['peak_source']}; 2048x2048, {n_threads} threads, "
                "interleaved with the models)", median(peaks), "GFLOP/s", digits=1)]
    for kind, label in (("inf", "inference"), ("train", "train step")):
        t, flops, peak = r[kind], r["flops"][kind], r["peak"][kind]
        gflops = {k: [flops[k] / s / 1e9 for s in t[k]] for k in t}
        share = {k: median([g / p for g, p in zip(gflops[k], peak)]) for k in t}
        names = {"ours": "this project", "peer": peer}
        for k in ("ours", "peer"):
            rows.append(row(f"peer FCN32s {label} images/s: {names[k]} ({what})", batch / median(t[k]), "images/s",
                            digits=2))
        for k in ("ours", "peer"):
            rows.append(row(f"peer FCN32s {label} GFLOP/s: {names[k]} ({flops[k] / batch / 1e9:.0f} GFLOP per image; "
                            f"{what})", median(gflops[k]), "GFLOP/s", digits=1))
        for k in ("ours", "peer"):
            rows.append(row(f"peer FCN32s {label} % of the bf16 matmul peak: {names[k]} ({what})",
                            100 * share[k], "%", digits=1))
        rows.append(row(f"peer FCN32s {label} GFLOP/s ratio, this project / torchfcn's design ({peer}, "
                        f"{size}x{size}{'; quick: indicative, the target is for 512x512' if quick else ''})",
                        paired_ratio(gflops["ours"], gflops["peer"]), "x", target, digits=2))
        flop_ratio = flops["peer"] / flops["ours"]
        rows.append(row(f"peer FCN32s {label} wall-time speedup over torchfcn's design (information: torchfcn "
                        f"does {flop_ratio:.2f}x the FLOPs; {peer}, {size}x{size})",
                        paired_ratio(t["peer"], t["ours"]), "x", digits=2))
        rows.append(row(f"peer FCN32s {label} FLOP ratio, torchfcn's design / this project ({size}x{size})",
                        flop_ratio, "x", digits=2))
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(f"{r['name']}: {r['value']} {r['unit']}" + (f"  [{r['target']}: {r['met']}]" if r["target"] else ""))
