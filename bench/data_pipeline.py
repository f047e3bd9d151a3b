"""Throughput of the segmentation input pipeline against the same work in PIL + torchvision v2.

Both sides decode a 512x512 JPEG and its colour mask, decode the mask to class ids, then
flip, random scale-crop, colour-jitter, normalise and convert to tensors, one image at a
time on one thread (what each DataLoader worker does). A and B alternate in repeats and
the medians are compared, so drifting machine load hits both alike.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CROP = 512
SCALE = (0.5, 2.0)
JITTER = {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.05}
#: the training recipe's augmentation, as a recipe lists it
SPEC = [
    {"type": "HorizontalFlip", "p": 0.5},
    {"type": "RandomScaleCrop", "size": CROP, "scale": list(SCALE)},
    {"type": "ColorJitter", **JITTER, "p": 1.0},
]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sat512"


def _folder(tmp: Path, n: int) -> tuple[Path, str]:
    if SHARED.is_dir():
        return SHARED, "real sat512"
    from zoo.data.synthetic import generate_landcover

    generate_landcover(tmp, n=n, size=512, seed=0, val_fraction=0.0)
    return tmp / "train", "generated 512x512"


def _project(folder: Path, n: int) -> Callable[[int], Any]:
    from zoo.data.sat import DlcvSat
    from zoo.data.transforms import build_transforms

    ds = DlcvSat(folder, "", build_transforms(SPEC, "segmentation"), check="none")
    return lambda i: ds[i % n]


def _torchvision(folder: Path, n: int) -> Callable[[int], Any]:
    """What a user writes with PIL and torchvision.transforms.v2 (tensor ops, per its docs)."""
    import numpy as np
    import torch
    from PIL import Image
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    from zoo.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    images = sorted(folder.glob("*_sat.jpg"))[:n]
    tf = v2.Compose([
        v2.ToImage(),
        v2.RandomHorizontalFlip(0.5),
        v2.RandomResize(int(CROP * SCALE[0]), int(CROP * SCALE[1])),
        v2.RandomCrop(CROP, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: 255}),
        v2.ColorJitter(**JITTER),
        v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])

    def read_mask(path: Path) -> np.ndarray:  # the course's reading code
        rgb = (np.array(Image.open(path).convert("RGB")) >= 128).astype(np.uint8)
        code = 4 * rgb[:, :, 0] + 2 * rgb[:, :, 1] + rgb[:, :, 2]
        ids = np.full(code.shape, 6, np.uint8)
        for c, k in ((3, 0), (6, 1), (5, 2), (2, 3), (1, 4), (7, 5), (0, 6)):
            ids[code == c] = k
        return ids

    def item(i: int) -> Any:
        p = images[i % n]
        img = Image.open(p).convert("RGB")
        mask = tv_tensors.Mask(torch.from_numpy(read_mask(p.with_name(p.name.replace("_sat.jpg", "_mask.png")))))
        x, y = tf(img, mask)
        return x, y.long()

    return item


def _rate(fn: Callable[[int], Any], count: int) -> float:
    t0 = time.perf_counter()
    for i in range(count):
        fn(i)
    return count / (time.perf_counter() - t0)


def run(quick: bool = True) -> list[dict[str, Any]]:
    """Rows ``{name, value, unit, target, met}``: both throughputs and their ratio (target >= 2)."""
    import cv2
    import torch

    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    n, repeats = (16, 3) if quick else (64, 5)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder, source = _folder(Path(tmp), n)
            torch.manual_seed(0)
            a, b = _project(folder, n), _torchvision(folder, n)
            a(0), b(0)  # warm-up: imports, first allocations
            rates_a, rates_b = [], []
            for _ in range(repeats):
                rates_a.append(_rate(a, n))
                rates_b.append(_rate(b, n))
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)
    ra, rb = statistics.median(rates_a), statistics.median(rates_b)
    what = f"{source}, {n} images x {repeats} repeats, 1 thread"
    return [
        {"name": f"seg pipeline: cv2 + albumentations ({what})", "value": round(ra, 1),
         "unit": "images/s", "target": None, "met": None},
        {"name": f"seg pipeline: PIL + torchvision v2 ({what})", "value": round(rb, 1),
         "unit": "images/s", "target": None, "met": None},
        {"name": "seg pipeline speedup over PIL + torchvision v2", "value": round(ra / rb, 2),
         "unit": "x", "target": 2.0, "met": ra / rb >= 2.0},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['name']}: {row['value']} {row['unit']}"
              + (f" (target >= {row['target']}: {'met' if row['met'] else 'NOT met'})" if row["target"] else ""))
