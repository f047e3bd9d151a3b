"""bench/run.py --quick --json prints every row, each with a numeric value (no timing asserts)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

#: One prefix per row; every prefix must name exactly one row. Row names go on with the
#: sizes, thread count and, for the peer, whether torchfcn was installed or rebuilt.
CONFIGS = ("fp32", "fp32 + channels_last", "bf16 autocast", "bf16 + channels_last")
EXPECTED = [
    "machine: load average",
    "machine: CPU cores",
    "machine: bf16 matmul speedup",
    "machine: intra-op threads picked",
    "trainer: plain PyTorch loop, CPU ms/iteration",
    "trainer: ignite trainer + run handlers, CPU ms/iteration",
    "trainer overhead: ignite / plain loop, wall time",
    "trainer overhead: ignite / plain loop, CPU time",
    "evaluator: plain inference loop",
    "evaluator: ignite evaluator + mIoU + 3 mask snapshots",
    "evaluator overhead:",
    "compute: matmul peak fp32",
    "compute: matmul peak bf16",
    *[f"compute: {m} train step, {c}: GFLOP/s" for m in ("VGG16 classifier", "FCN8s") for c in CONFIGS],
    *[f"compute: {m} train step, {c}: % of" for m in ("VGG16 classifier", "FCN8s") for c in CONFIGS],
    "compute: FCN8s train step speedup, bf16 + channels_last over fp32",
    "compute: FCN8s train step, best bf16 configuration",
    "seg pipeline: cv2 + albumentations",
    "seg pipeline: PIL + torchvision v2",
    "seg pipeline speedup over PIL + torchvision v2",
    "peer FCN32s inference: this project",
    "peer FCN32s inference: torchfcn",
    "peer FCN32s inference speedup over torchfcn's design",
    "peer FCN32s train step: this project",
    "peer FCN32s train step: torchfcn",
    "peer FCN32s train step speedup over torchfcn's design",
    "inference: FCN32s images/s",
    "inference: FCN16s images/s",
    "inference: FCN8s images/s",
    "memory: peak RSS of FCN8s training",
    "soak: RSS at epoch",
    "soak: RSS growth from epoch",
    "soak: largest RSS after epoch",
    "soak: open file descriptors, epoch",
    "soak: open file descriptors, before -> after",
]


@pytest.fixture(scope="module")
def quick_rows(repo_root):
    env = dict(os.environ, HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, str(repo_root / "bench" / "run.py"), "--quick", "--json"],
                         cwd=str(repo_root), env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout)


@pytest.mark.slow
def test_quick_json_has_every_row_with_numbers(quick_rows):
    names = [r["name"] for r in quick_rows]
    for prefix in EXPECTED:
        hits = [n for n in names if n.startswith(prefix)]
        assert len(hits) == 1, f"{prefix!r}: {len(hits)} rows ({hits})"
    for r in quick_rows:
        assert set(r) == {"name", "value", "unit", "target", "met"}, r
        v = r["value"]
        assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), r
        assert r["target"] is None or isinstance(r["target"], str), r
        assert (r["met"] is None) == (r["target"] is None), r
        assert r["met"] in (None, True, False), r


def test_targets_parse():
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from bench.common import check, row

    assert check(1.01, "<= 1.02") is True
    assert check(1.03, "<= 1.02") is False
    assert check(7.9, "< 8") is True
    assert check(float("nan"), ">= 2") is False
    assert check(5.0, None) is None
    assert row("x", 2.0, "x", ">= 1.5") == {"name": "x", "value": 2.0, "unit": "x", "target": ">= 1.5", "met": True}
    with pytest.raises(ValueError):
        check(1.0, "about 1")
