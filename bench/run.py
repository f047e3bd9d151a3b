"""Run the benchmarks and print one table (or, with --json, a JSON list of rows).

    python bench/run.py [--quick] [--json] [--only NAME[,NAME...]] [--threads N] [--default-malloc]

Groups, in the order they run:
  machine    load and how many cores a 2-thread matmul actually gets (context for the rest)
  trainer    ignite trainer + a run's handlers vs a plain PyTorch loop (target <= 1.02)
  evaluator  evaluator + mIoU + mask snapshots vs a plain inference loop (target <= 1.05)
  compute    VGG16 / FCN8s train steps in fp32, channels_last, bf16, bf16 + channels_last
             against the fp32 / bf16 matmul peaks (FCN8s bf16 >= 1.7x fp32, >= 60 % of peak)
  heads      every segmentation head on timm resnet18 at 512x512, bf16 + channels_last train
             step: images/s, GFLOP/s and share of the bf16 matmul peak (information)
  data       segmentation input pipeline vs PIL + torchvision v2 (>= 2x), vs albumentations'
             RandomScale + RandomCrop chain; which scale + crop step is faster
  peer       FCN32s vs torchfcn's Caffe-faithful FCN32s, inference and train step: GFLOP/s
             and share of the bf16 matmul peak (GFLOP/s ratio >= 1 at 512x512)
  inference  FCN32s/16s/8s images/s at 512x512; peak RSS of FCN8s training, batch 8 (< 8 GiB)
  scale      tiled prediction: peak RSS on a 4096x4096 image (< 3 GiB), megapixels/s against
             whole 512x512 images (>= 0.90); ONNX Runtime vs PyTorch images/s (information)
  geo        GeoTIFF scenes: peak RSS of georeferenced prediction, 20000x20000 against 5000x5000
             (<= 1.10x); windowed reads against whole-scene reads, windows/s
  soak       200 epochs (20 with --quick) through run_experiment: RSS slope <= 0.1 MiB/epoch
             over epochs 10-200, no open file gained (--quick: indicative, no target)
  quality    time to quality on the real tiles (sat512, 200/57): the quarter-width FCN8s
             baseline and recipes/seg_fcn8s_vgg16bn_sat_cpu.yaml, trained one after the other:
             val mIoU (recipe >= 0.55), Rangeland IoU, wall time (recipe <= 600 s); about 20
             minutes (--quick: two steps each, no target; no rows without the real tiles)

--quick runs every group with smaller sizes and fewer repeats (the row names say which).
--threads sets torch's intra-op threads for compute, peer, inference and scale. The default,
auto, uses all cores (as a run does) when a 2-thread matmul runs at least 1.5x faster
than a 1-thread one at the start, and 1 thread otherwise: when other work holds a core,
every OpenMP barrier of a multi-threaded step waits for the descheduled thread and a
small step runs up to 100x slower, which would measure the neighbours, not this code.
The check is repeated before each of those groups; the rows name the thread count used.
trainer and evaluator always use one thread.
Like a CPU training run, the process first makes malloc keep freed memory
(engines.runtime.keep_freed_memory); --default-malloc leaves glibc's default in this process,
for comparison (the soak and the memory measurement run in child processes set up as runs).
Timings on a machine shared with other work move with its load: every comparison is
interleaved and uses medians, but absolute numbers are only as quiet as the machine.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import normalise, row  # noqa: E402

GROUPS = ("machine", "trainer", "evaluator", "compute", "heads", "data", "peer", "inference", "scale", "geo", "soak",
          "quality")


def thread_speedup(quick: bool) -> tuple[int, float]:
    """(all-core thread count, speedup of a bf16 2048x2048 matmul on them over 1 thread)."""
    import torch

    from bench.common import interleaved, matmul_cases, median, threads as use_threads

    run_mm = matmul_cases(2048, times=1)["bf16 torch.matmul"][0]
    n = torch.get_num_threads()

    def at(k: int) -> Callable[[], None]:
        def f() -> None:
            with use_threads(k):
                run_mm()
        return f

    t = interleaved({"1": at(1), "n": at(n)}, repeats=3 if quick else 5, warmup=1)
    return n, median(t["1"]) / median(t["n"])


def machine(quick: bool, probe: tuple[int, float], threads: int) -> list[dict[str, Any]]:
    n, speedup = probe
    return [
        row("machine: load average over the last minute (at start)", os.getloadavg()[0], "", digits=2),
        row("machine: CPU cores (os.cpu_count)", os.cpu_count() or 0, "", digits=0),
        row(f"machine: bf16 matmul speedup, {n} threads over 1 (how many cores this process gets)", speedup, "x",
            digits=2),
        row("machine: intra-op threads picked at start for compute, peer, inference and scale", threads, "", digits=0),
    ]


def _group(name: str) -> Callable[..., list[dict[str, Any]]]:
    if name == "trainer":
        from bench import trainer_overhead
        return lambda quick, threads: trainer_overhead.run(quick)
    if name == "evaluator":
        from bench import evaluator_overhead
        return lambda quick, threads: evaluator_overhead.run(quick)
    if name == "compute":
        from bench import compute_efficiency
        return compute_efficiency.run
    if name == "heads":
        from bench import heads
        return heads.run
    if name == "data":
        from bench import data_pipeline
        return lambda quick, threads: [normalise(r) for r in data_pipeline.run(quick)]
    if name == "peer":
        from bench import peer_torchfcn
        return peer_torchfcn.run
    if name == "inference":
        from bench import inference
        return inference.run
    if name == "scale":
        from bench import scale
        return scale.run
    if name == "geo":
        from bench import geo
        return geo.run
    if name == "soak":
        return _soak
    if name == "quality":
        from bench import quality
        return quality.run
    raise ValueError(name)


def _soak(quick: bool, threads: int) -> list[dict[str, Any]]:
    """bench/soak.py in a fresh process, so its resident set is the run's alone."""
    import subprocess

    cmd = [sys.executable, str(ROOT / "bench" / "soak.py"), "--json"] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench/soak.py failed ({out.returncode}): {out.stderr[-3000:]}")
    return json.loads(out.stdout)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:g}"  # rows are rounded already
    return str(v)


HEADER = f"{'value':>9} {'unit':<9} {'target':<9} {'met':<4}  name\n" + "-" * 100


def table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        lines.append(f"{_fmt(r['value']):>9} {r['unit']:<9} {r['target'] or '':<9} {met:<4}  {r['name']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[2:]))
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (about 3 minutes)")
    p.add_argument("--json", action="store_true", help="print the rows as a JSON list instead of a table")
    p.add_argument("--only", default=None, help=f"comma-separated groups: {', '.join(GROUPS)}")
    p.add_argument("--threads", default="auto", help="intra-op threads for compute/peer/inference/scale (default: auto)")
    p.add_argument("--default-malloc", action="store_true", help="leave glibc malloc's defaults (no keep_freed_memory)")
    args = p.parse_args(argv)
    groups = GROUPS
    if args.only:
        groups = tuple(g.strip() for g in args.only.split(",") if g.strip())
        unknown = [g for g in groups if g not in GROUPS]
        if unknown:
            p.error(f"--only: unknown group(s) {', '.join(unknown)}; expected some of {', '.join(GROUPS)}")
    if args.threads != "auto" and (not args.threads.isdigit() or int(args.threads) < 1):
        p.error(f"--threads {args.threads}: expected a positive integer or 'auto'")

    import logging

    logging.basicConfig(level=logging.ERROR)
    for name in ("engines", "zoo", "ignite"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    from ignite_zoo.engines.runtime import keep_freed_memory

    if not args.default_malloc:
        keep_freed_memory()

    def pick(probe: tuple[int, float]) -> int:
        return int(args.threads) if args.threads != "auto" else (probe[0] if probe[1] >= 1.5 else 1)

    probe = thread_speedup(args.quick)
    threads = pick(probe)
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    if not args.json:
        print(HEADER, flush=True)
    for g in groups:
        t0 = time.perf_counter()
        print(f"[bench] {g} ...", file=sys.stderr, flush=True)
        if args.threads == "auto" and g in ("compute", "peer", "inference", "scale") and rows:
            threads = pick(thread_speedup(args.quick))  # the load may have changed since the start
        got = machine(args.quick, probe, threads) if g == "machine" else _group(g)(args.quick, threads)
        rows.extend(got)
        print(f"[bench] {g}: {len(got)} rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        if not args.json:
            print(table(got), flush=True)
    print(f"[bench] total {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
