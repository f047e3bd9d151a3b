"""Timing and memory helpers shared by the benchmarks.

Every comparison runs its cases interleaved (A, B, B, A, A, B, ...) with a garbage
collection before each timed run, and compares medians, so a load spike or a slow drift
on a shared machine hits every case alike instead of deciding the result.
"""
from __future__ import annotations

import gc
import os
import re
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MIB = 1024 * 1024


# --------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------
def check(value: float, target: str | None) -> bool | None:
    """Whether ``value`` meets ``target`` (``"<= 1.02"``, ``">= 60"``, ``"< 8192"``; None: no target)."""
    if target is None:
        return None
    m = re.fullmatch(r"\s*(<=|>=|<|>|==)\s*([-+0-9.eE]+)\s*", target)
    if not m:
        raise ValueError(f"target {target!r}: expected '<= x', '>= x', '< x', '> x' or '== x'")
    op, bound = m.group(1), float(m.group(2))
    if value != value:  # NaN never meets a target
        return False
    return {"<=": value <= bound, ">=": value >= bound, "<": value < bound,
            ">": value > bound, "==": value == bound}[op]


def row(name: str, value: float, unit: str, target: str | None = None, digits: int = 3) -> dict[str, Any]:
    """One result row ``{name, value, unit, target, met}``."""
    value = float(value)
    shown = (int(round(value)) if digits == 0 else round(value, digits)) if value == value else value
    return {"name": name, "value": shown, "unit": unit, "target": target, "met": check(value, target)}


def normalise(r: Mapping[str, Any]) -> dict[str, Any]:
    """A row from another module with a numeric target (``2.0``: at least 2) as a target string."""
    out = dict(r)
    t = out.get("target")
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        out["target"] = f">= {t:g}"
    return out


# --------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------
def interleaved(cases: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per run of each case, ``repeats`` runs each after ``warmup`` untimed runs.

    Each repeat runs every case once; the order reverses every other repeat (ABBA), so a
    case never always runs right after the same neighbour.
    """
    names = list(cases)
    for _ in range(warmup):
        for n in names:
            cases[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in (names if r % 2 == 0 else names[::-1]):
            gc.collect()
            t0 = time.perf_counter()
            cases[n]()
            times[n].append(time.perf_counter() - t0)
    return times


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median over repeats of ``a[i] / b[i]`` (each pair ran back to back)."""
    return median([x / y for x, y in zip(a, b)])


# --------------------------------------------------------------------------------------
# machine
# --------------------------------------------------------------------------------------
def _status_kib(key: str, pid: str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return float("nan")


def rss_mib() -> float:
    """Resident set size of this process now."""
    return _status_kib("VmRSS") / 1024


def peak_rss_mib() -> float:
    """The largest resident set size this process has had (VmHWM)."""
    return _status_kib("VmHWM") / 1024


def fd_count() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """torch intra-op threads set to ``n`` inside the block (None: unchanged)."""
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def matmul_cases(n: int, times: int = 2) -> dict[str, tuple[Callable[[], Any], float]]:
    """``{label: (run, flops)}``: ``times`` n x n matmuls per run in fp32 and bf16, each
    through ``torch.matmul`` and through oneDNN directly.

    On CPUs where MKL's sgemm does not take its fastest path (AMD), ``torch.matmul`` in fp32
    reaches a fraction of what oneDNN (the library behind CPU convolutions) does, so the
    machine's fp32 peak is the better of the two; bf16 ``torch.matmul`` already runs on
    oneDNN.
    """
    import torch

    g = torch.Generator().manual_seed(0)
    out: dict[str, tuple[Callable[[], Any], float]] = {}
    flops = 2.0 * n ** 3 * times
    for dtype, tag in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        a = torch.randn(n, n, generator=g).to(dtype)
        b = torch.randn(n, n, generator=g).to(dtype)
        c = torch.empty(n, n, dtype=dtype)

        def mm(a=a, b=b, c=c) -> None:
            for _ in range(times):
                torch.matmul(a, b, out=c)

        out[f"{tag} torch.matmul"] = (mm, flops)
        try:
            am, bm = a.to_mkldnn(), b.to_mkldnn()
            torch._C._nn.mkldnn_linear(am, bm, None)

            def dnn(am=am, bm=bm) -> None:
                with torch.no_grad():
                    for _ in range(times):
                        torch._C._nn.mkldnn_linear(am, bm, None)

            out[f"{tag} oneDNN"] = (dnn, flops)
        except (RuntimeError, AttributeError):  # a build without oneDNN (or without its bf16)
            pass
    return out
