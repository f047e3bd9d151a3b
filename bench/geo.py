"""GeoTIFF scenes: memory of georeferenced prediction against scene size, windowed-read speed.

* Peak RSS: a fresh Python process predicts one 4-band uint16 scene with
  ``engines.inference.georef.predict_scene`` (512-pixel tiles overlapping by 128, 4 a
  batch, 4096-pixel panels) and reports its own peak resident set (VmHWM, as
  bench/scale.py explains). Sizes 5000x5000 and 20000x20000 (1024 and 4096 with
  ``--quick``). The network is a two-layer convolution (4 -> 16 -> 5 channels): the row
  measures what grows with the scene, the reads, blending and writes; a real network adds
  the same activations at every scene size. Target: the large scene within 10 % of the small.
* Windowed reads: random 512x512 windows read from the large scene (tiled, deflate) per
  second, against reading the scene whole to cut one window out of it (what a dataset
  without windowed reads pays for each crop).

Scenes are generated into a temporary folder (smooth fields, a nodata border; deflate
level 1) and deleted afterwards.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import row  # noqa: E402

TILE, OVERLAP, BATCH = 512, 128, 4
RSS_NAME = "geo: peak RSS of georeferenced prediction, small scene"
RSS_LARGE_NAME = "geo: peak RSS of georeferenced prediction, large scene"
RSS_RATIO_NAME = "geo: peak RSS of georeferenced prediction, large / small scene"
READ_NAME = "geo: windowed reads, windows/s"
WHOLE_NAME = "geo: whole-scene reads, windows/s"
READ_RATIO_NAME = "geo: windowed / whole-scene reads, windows/s ratio"


def make_scene(path: Path, size: int, strip: int = 1024) -> Path:
    """A 4-band uint16 scene of ``size`` x ``size`` in EPSG:32633, written strip by strip."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    profile = {"driver": "GTiff", "width": size, "height": size, "count": 4, "dtype": "uint16",
               "crs": "EPSG:32633", "transform": from_origin(500000.0, 5500000.0, 10.0, 10.0), "nodata": 0,
               "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate", "zlevel": 1}
    cols = np.arange(size)
    with rasterio.open(path, "w", **profile) as dst:
        for r in range(0, size, strip):
            h = min(strip, size - r)
            rows = np.arange(r, r + h)[:, None]
            field = ((rows // 700 + cols[None] // 900) % 4).astype(np.uint16)
            data = np.stack([500 + 800 * field + 300 * b for b in range(4)]).astype(np.uint16)
            data[:, :, : size // 20] = 0  # nodata border
            dst.write(data, window=rasterio.windows.Window(0, r, size, h))
    return path


def _child(scene: str, out: str, threads: int) -> None:
    import torch

    from ignite_zoo.engines.inference.georef import predict_scene

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 5, 1)).eval()
    scale = torch.tensor([1e-3] * 4).view(1, 4, 1, 1)

    @torch.inference_mode()
    def step(x: torch.Tensor) -> torch.Tensor:
        return net(x * scale)

    r = predict_scene(step, scene, out, tile=TILE, overlap=OVERLAP, batch_tiles=BATCH, classes=list("abcde"),
                      colours=[(i * 50, 0, 0) for i in range(5)], progress=False)
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    print(json.dumps({"peak_mib": hwm, "windows": r.windows, "seconds": r.seconds}))


def peak_rss(scene: Path, out: Path, threads: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(scene), str(out),
                           str(threads)], capture_output=True, text=True, cwd=str(ROOT), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"georeferenced prediction child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read_speed(scene: Path, reads: int, window: int = TILE) -> tuple[float, float]:
    """(windows/s of windowed reads, windows/s when each window needs a whole-scene read)."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    rng = np.random.default_rng(0)
    with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(scene) as src:
        w = min(window, src.width)
        offsets = [(int(rng.integers(0, src.height - w + 1)), int(rng.integers(0, src.width - w + 1)))
                   for _ in range(reads)]
        t0 = time.perf_counter()
        for y, x in offsets:
            src.read(window=Window(x, y, w, w))
        windowed = reads / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        whole = src.read()
        _ = whole[:, :w, :w].copy()
        per_whole = 1.0 / (time.perf_counter() - t0)
    return windowed, per_whole


def run(quick: bool = True, threads: int | None = None, sizes: tuple[int, int] | None = None,
        read_size: int | None = None, reads: int | None = None) -> list[dict[str, Any]]:
    import torch

    n_threads = threads or torch.get_num_threads()
    small, large = sizes or ((1024, 4096) if quick else (5000, 20000))
    reads = reads or (20 if quick else 100)
    q = " (quick: indicative, no target)" if quick or sizes else ""
    with tempfile.TemporaryDirectory(prefix="ignite-zoo-geo-") as tmp:
        tmp = Path(tmp)
        got = {}
        for size in (small, large):
            scene = make_scene(tmp / f"scene_{size}.tif", size)
            got[size] = peak_rss(scene, tmp / f"pred_{size}.tif", n_threads)
            if size != large:
                scene.unlink()
        what = (f"4-band uint16, tiles {TILE} overlap {OVERLAP}, {BATCH} a batch, a 2-layer conv net, "
                f"{n_threads} threads, in a subprocess (VmHWM)")
        ratio = got[large]["peak_mib"] / got[small]["peak_mib"]
        rows = [
            row(f"{RSS_NAME}: {small}x{small} ({what}; {got[small]['windows']} windows in "
                f"{got[small]['seconds']:.0f} s)", got[small]["peak_mib"] / 1024, "GiB", digits=3),
            row(f"{RSS_LARGE_NAME}: {large}x{large} ({what}; {got[large]['windows']} windows in "
                f"{got[large]['seconds']:.0f} s)", got[large]["peak_mib"] / 1024, "GiB", digits=3),
            row(f"{RSS_RATIO_NAME} ({large}x{large} / {small}x{small}){q}", ratio, "x",
                None if q else "<= 1.10", digits=3),
        ]
        rs = read_size or large
        scene = tmp / f"scene_{large}.tif" if rs == large else make_scene(tmp / f"read_{rs}.tif", rs)
        windowed, whole = read_speed(scene, reads)
    what = f"random {TILE}x{TILE} windows of a {rs}x{rs} 4-band uint16 scene, tiled 512, deflate{q}"
    rows += [
        row(f"{READ_NAME} ({what})", windowed, "windows/s", digits=2),
        row(f"{WHOLE_NAME}, the scene read whole for each window ({what})", whole, "windows/s", digits=4),
        row(f"{READ_RATIO_NAME} ({what})", windowed / whole, "x", digits=1),
    ]
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        for r in run(quick="--quick" in sys.argv):
            print(f"{r['name']}: {r['value']} {r['unit']}" + (f"  [{r['target']}: {r['met']}]" if r["target"] else ""))
