"""Throughput of the segmentation input pipeline against the same work done two other ways.

Every side decodes a 512x512 JPEG and its colour mask, decodes the mask to class ids, then
flips, scales by a random factor in [0.5, 2] and takes a random 512x512 crop (padding
with 0 and, in the mask, Unknown (6) when the scaled image is smaller), colour-jitters,
normalises and converts to tensors, one image at a time on one thread (what each
DataLoader worker does). Resizing is the same everywhere: bilinear for the image, nearest
for the mask, no antialiasing pass (torchvision's default antialias is turned off because
the other two have none).

  * this project: the training recipe's list, whose scale + crop is the project's
    ``RandomScaleCrop`` (one ``cv2.warpAffine`` over the crop window);
  * albumentations' own chain: ``RandomScale`` + ``RandomCrop(pad_if_needed=True)``
    (a full ``cv2.resize``, then a crop), the rest of the list unchanged;
  * PIL + torchvision v2: ``RandomResize`` + ``RandomCrop(pad_if_needed=True)`` on tensors.

The two scale + crop steps are also timed on their own, on decoded arrays, to say which
of them is faster per sample. All cases run interleaved, the order reversing every
repeat (ABBA), and medians are compared, so drifting machine load hits every side alike.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import interleaved, shared_data  # noqa: E402

CROP = 512
SCALE = (0.5, 2.0)
UNKNOWN = 6  # the mask's padding value on every side: RandomScaleCrop's default fill_mask
JITTER = {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.05}
FLIP = {"type": "HorizontalFlip", "p": 0.5}
COLOUR = {"type": "ColorJitter", **JITTER, "p": 1.0}
#: the training recipe's scale + crop, as a recipe lists it
PROJECT_CROP = [{"type": "RandomScaleCrop", "size": CROP, "scale": list(SCALE), "fill": 0, "fill_mask": UNKNOWN}]
#: albumentations' own scale + crop: RandomScale's factor is 1 + U(scale_limit)
CHAIN_CROP = [
    {"type": "RandomScale", "scale_limit": [SCALE[0] - 1, SCALE[1] - 1], "interpolation": 1,  # cv2.INTER_LINEAR
     "mask_interpolation": 0, "p": 1.0},  # cv2.INTER_NEAREST
    {"type": "RandomCrop", "height": CROP, "width": CROP, "pad_if_needed": True, "pad_position": "random",
     "border_mode": 0, "fill": 0, "fill_mask": UNKNOWN},  # cv2.BORDER_CONSTANT
]
SPECS = {"project": [FLIP, *PROJECT_CROP, COLOUR], "chain": [FLIP, *CHAIN_CROP, COLOUR]}


def _folder(tmp: Path, n: int) -> tuple[Path, str]:
    real = shared_data() / "sat512"
    if real.is_dir():
        return real, "real sat512"
    from ignite_zoo.zoo.data.synthetic import generate_landcover

    generate_landcover(tmp, n=n, size=512, seed=0, val_fraction=0.0)
    return tmp / "train", "generated 512x512"


def _albumentations(folder: Path, n: int, spec: list[dict]) -> Callable[[int], Any]:
    from ignite_zoo.zoo.data.sat import DlcvSat
    from ignite_zoo.zoo.data.transforms import build_transforms

    ds = DlcvSat(folder, "", build_transforms(spec, "segmentation"), check="none")
    return lambda i: ds[i % n]


def _torchvision(folder: Path, n: int) -> Callable[[int], Any]:
    """What a user writes with PIL and torchvision.transforms.v2 (tensor ops, per its docs)."""
    import numpy as np
    import torch
    from PIL import Image
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    from ignite_zoo.zoo.normalize import IMAGENET_MEAN, IMAGENET_STD

    images = sorted(folder.glob("*_sat.jpg"))[:n]
    tf = v2.Compose([
        v2.ToImage(),
        v2.RandomHorizontalFlip(0.5),
        # the shorter side to U[256, 1024): a factor in [0.5, 2) on 512x512; bilinear for the
        # image, nearest for the Mask (v2 picks it for masks), no antialias like the others
        v2.RandomResize(int(CROP * SCALE[0]), int(CROP * SCALE[1]), antialias=False),
        v2.RandomCrop(CROP, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: UNKNOWN}),
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


def _crop_only(folder: Path, n: int) -> dict[str, Callable[[], Any]]:
    """The two scale + crop steps alone on decoded uint8 arrays: one pass over n samples each."""
    import albumentations as A

    from ignite_zoo.zoo.data.sat import DlcvSat
    from ignite_zoo.zoo.data.transforms import build_transforms

    ds = DlcvSat(folder, "", None, check="none")
    samples = [(ds.read_image(i), ds.read_mask(i).astype("uint8")) for i in range(min(n, len(ds)))]
    cases = {}
    for name, spec in (("project", PROJECT_CROP), ("chain", CHAIN_CROP)):
        compose = A.Compose(build_transforms(spec, "segmentation").compose.transforms[:len(spec)], seed=0)

        def one_pass(compose=compose) -> None:
            for image, mask in samples:
                compose(image=image, mask=mask)

        cases[name] = one_pass
    return cases


def run(quick: bool = True, n: int | None = None, repeats: int | None = None) -> list[dict[str, Any]]:
    """Rows ``{name, value, unit, target, met}``: the three pipelines' throughputs, the
    project's ratio over torchvision (target >= 2) and the scale + crop steps alone."""
    import cv2
    import torch

    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    n = n or (16 if quick else 64)
    repeats = repeats or (3 if quick else 5)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder, source = _folder(Path(tmp), n)
            torch.manual_seed(0)
            items = {"project": _albumentations(folder, n, SPECS["project"]),
                     "chain": _albumentations(folder, n, SPECS["chain"]), "torchvision": _torchvision(folder, n)}
            passes = {k: (lambda f=f: [f(i) for i in range(n)]) for k, f in items.items()}
            t = interleaved(passes, repeats=repeats, warmup=1)
            t_crop = interleaved(_crop_only(folder, n), repeats=repeats, warmup=1)
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)
    rate = {k: n / statistics.median(v) for k, v in t.items()}
    ms = {k: 1000 * statistics.median(v) / n for k, v in t_crop.items()}
    what = f"{source}, {n} images x {repeats} interleaved repeats, 1 thread"
    faster = "albumentations' chain" if ms["chain"] < ms["project"] else "the project's RandomScaleCrop"
    ratio = rate["project"] / rate["torchvision"]
    return [
        {"name": f"seg pipeline: cv2 + albumentations, RandomScaleCrop (the recipe; {what})",
         "value": round(rate["project"], 1), "unit": "images/s", "target": None, "met": None},
        {"name": f"seg pipeline: cv2 + albumentations, RandomScale + RandomCrop chain ({what})",
         "value": round(rate["chain"], 1), "unit": "images/s", "target": None, "met": None},
        {"name": f"seg pipeline: PIL + torchvision v2, RandomResize + RandomCrop, antialias off ({what})",
         "value": round(rate["torchvision"], 1), "unit": "images/s", "target": None, "met": None},
        {"name": "seg pipeline speedup over PIL + torchvision v2 (the recipe's pipeline)", "value": round(ratio, 2),
         "unit": "x", "target": ">= 2", "met": ratio >= 2.0},
        {"name": f"seg scale + crop alone: RandomScaleCrop, ms per sample ({what})",
         "value": round(ms["project"], 3), "unit": "ms", "target": None, "met": None},
        {"name": f"seg scale + crop alone: RandomScale + RandomCrop(pad_if_needed) chain, ms per sample ({what})",
         "value": round(ms["chain"], 3), "unit": "ms", "target": None, "met": None},
        {"name": f"seg scale + crop alone: RandomScaleCrop time / chain time (faster: {faster})",
         "value": round(ms["project"] / ms["chain"], 2), "unit": "x", "target": None, "met": None},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['name']}: {row['value']} {row['unit']}"
              + (f" (target {row['target']}: {'met' if row['met'] else 'NOT met'})" if row["target"] else ""))
