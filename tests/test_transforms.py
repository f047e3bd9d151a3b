"""Pipelines: joint geometry, lookup and errors, output types, reproducibility with workers."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.zoo.data.masks import decode_mask, encode_mask
from ignite_zoo.zoo.data.transforms import apply_pipeline, build_transforms, seed_worker


def blocky_mask(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """Class ids in 8x8 blocks, so most pixels are far from a class border."""
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, 7, (h // 8, w // 8)), np.ones((8, 8), np.int64)).astype(np.uint8)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return x.round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def test_joint_flip_moves_image_and_mask_together() -> None:
    mask = blocky_mask()
    image = encode_mask(mask)  # the image shows its own mask's colours
    x, y = build_transforms([{"type": "HorizontalFlip", "p": 1.0}])(image, mask)
    np.testing.assert_array_equal(y.numpy(), mask[:, ::-1])
    np.testing.assert_array_equal(decode_mask(to_uint8(x)), y.numpy())


@pytest.mark.parametrize("seed", range(4))
def test_random_scale_crop_keeps_image_and_mask_aligned(seed: int) -> None:
    torch.manual_seed(seed)
    mask = blocky_mask(64, 64, seed)
    image = encode_mask(mask)
    pipe = build_transforms([{"type": "RandomScaleCrop", "size": [48, 40], "scale": [0.5, 2.0], "fill_mask": 255}])
    x, y = pipe(image, mask)
    assert x.shape == (3, 48, 40) and y.shape == (48, 40)
    y = y.numpy()
    inside = y != 255
    assert inside.mean() > 0.3
    decoded = decode_mask(to_uint8(x))
    assert (decoded[inside] == y[inside]).mean() > 0.9  # bilinear image differs only near borders
    assert np.all(to_uint8(x)[~inside] <= 1)  # padding: black image, fill_mask in the mask


@pytest.mark.parametrize("fill", [6, 255])
def test_random_scale_crop_pads_masks_with_the_builders_mask_fill(fill: int) -> None:
    torch.manual_seed(0)
    pipe = build_transforms([{"type": "RandomScaleCrop", "size": 64, "scale": [0.5, 0.5]}], mask_fill=fill)
    _, y = pipe(np.zeros((64, 64, 3), np.uint8), np.ones((64, 64), np.uint8))
    assert (y == 1).sum() == 32 * 32 and set(torch.unique(y).tolist()) == {1, fill}


def test_mask_fill_reaches_albumentations_transforms_but_not_an_explicit_fill_mask() -> None:
    spec = [{"type": "PadIfNeeded", "min_height": 8, "min_width": 8},
            {"type": "OneOf", "transforms": [{"type": "Rotate", "limit": 5, "fill_mask": 3}]}]
    pipe = build_transforms(spec, mask_fill=255)
    pad, one_of = pipe.compose.transforms[:2]
    assert pad.fill_mask == 255 and one_of.transforms[0].fill_mask == 3
    _, y = pipe(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8))
    assert y.shape == (8, 8) and set(torch.unique(y).tolist()) == {0, 255}


def test_land_cover_recipes_pad_with_unknown_and_foreign_ignore_pads_with_ignore() -> None:
    from ignite_zoo.zoo.data import dataset_info

    assert dataset_info({"type": "dlcv_sat", "args": {"ignore_index": 255}}).mask_fill == 6
    assert dataset_info({"type": "dlcv_sat", "args": {"foreign": "ignore", "ignore_index": 250}}).mask_fill == 250


def test_unknown_name_suggests_close_names_from_both_sources() -> None:
    with pytest.raises(RecipeError, match=r"data\.train\.transforms\[1\]\.type: unknown transform 'HorizontalFlp'; "
                                          r"did you mean 'HorizontalFlip' \(albumentations\)"):
        build_transforms([{"type": "VerticalFlip"}, {"type": "HorizontalFlp"}], where="data.train.transforms")
    with pytest.raises(RecipeError, match=r"'RandomScaleCrop' \(project\)"):
        build_transforms([{"type": "RandomScaleCrp", "size": 8}])
    with pytest.raises(RecipeError, match=r"transforms\[0\] \(HorizontalFlip\): .*'prob'.*accepted: p"):
        build_transforms([{"type": "HorizontalFlip", "prob": 0.5}])
    with pytest.raises(RecipeError, match=r"transforms\[2\] \(ColorJitter\): invalid arguments"):
        build_transforms([{"type": "HorizontalFlip"}, {"type": "VerticalFlip"}, {"type": "ColorJitter", "brightness": -1}])
    with pytest.raises(RecipeError, match=r"transforms\[0\]: expected a mapping"):
        build_transforms(["HorizontalFlip"])


def test_output_types_full_resolution_and_raw_pixels() -> None:
    """The pipeline hands raw pixels on (uint8 stays uint8: a quarter of the bytes of floats);
    the model normalises (model.normalize)."""
    image = np.zeros((37, 53, 3), np.uint8)
    image[0, 0] = (10, 200, 255)
    mask = np.full((37, 53), 4, np.uint8)
    x, y = build_transforms([], "segmentation")(image, mask)
    assert x.dtype == torch.uint8 and x.shape == (3, 37, 53)
    assert y.dtype == torch.int64 and y.shape == (37, 53) and int(y[0, 0]) == 4
    assert x[:, 0, 0].tolist() == [10, 200, 255]
    x, y = build_transforms(None, "classification")(image)
    assert y is None and x.shape == (3, 37, 53)
    with pytest.raises(RecipeError, match=r"transforms\[0\] \(Normalize\): normalisation belongs to the model; "
                                          r"set model.normalize"):
        build_transforms([{"type": "Normalize", "mean": 0.5, "std": 0.5}])
    nested = build_transforms([{"type": "OneOf", "p": 1.0, "transforms": [{"type": "HorizontalFlip"}, {"type": "VerticalFlip"}]}])
    assert nested(image, mask)[0].shape == (3, 37, 53)


class Repeated(Dataset):
    """The same image every time, so any difference between samples is augmentation."""

    def __init__(self) -> None:
        self.mask = blocky_mask(32, 32)
        self.image = encode_mask(self.mask)
        self.transforms = build_transforms([{"type": "RandomScaleCrop", "size": 16, "scale": [0.5, 2.0]},
                                            {"type": "HorizontalFlip", "p": 0.5}])

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, float]:
        x, y = self.transforms(self.image, self.mask)
        return x, y, float(np.random.random())


def run_loader(seed: int, workers: int, with_numpy: bool = True) -> list[torch.Tensor]:
    """Each sample's augmented mask, plus (in workers, which seed_worker seeds) a numpy draw."""
    torch.manual_seed(seed)
    loader = DataLoader(Repeated(), batch_size=1, num_workers=workers, worker_init_fn=seed_worker,
                        timeout=60 if workers else 0)  # a deadlocked worker fails instead of hanging
    return [torch.cat([y.flatten().float(), u if with_numpy else u[:0]]) for _, y, u in loader]


def test_same_torch_seed_same_augmentations_in_process() -> None:
    a, b, c = (run_loader(s, 0, with_numpy=False) for s in (0, 0, 1))
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not all(torch.equal(p, q) for p, q in zip(a, c))
    assert len({p.numpy().tobytes() for p in a}) > 4


def test_workers_reproducible_and_not_copies_of_each_other() -> None:
    # a busy OpenCV thread pool before the fork is what made cv2.setNumThreads in workers deadlock
    for _ in range(3):
        cv2.warpAffine(np.zeros((1024, 1024, 3), np.uint8), np.eye(2, 3), (1024, 1024))
    a, b = run_loader(0, 2), run_loader(0, 2)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    # worker 0 serves items 0, 2, 4.. and worker 1 items 1, 3, 5..: their draws must differ
    assert not torch.equal(a[0], a[1]) and not torch.equal(a[2], a[3])
    assert len({p.numpy().tobytes() for p in a}) > 4


@pytest.mark.parametrize("spec, index, name", [
    ([{"type": "HorizontalFlip"}, {"type": "RandomCrop", "height": 600, "width": 600}], 1, "RandomCrop"),
    ([{"type": "OneOf", "p": 1.0, "transforms": [{"type": "CenterCrop", "height": 40, "width": 600}]}], "0].transforms[0",
     "CenterCrop"),
])
def test_a_crop_larger_than_the_image_is_a_data_error_naming_transform_and_sizes(spec, index, name) -> None:
    pipe = build_transforms(spec, where="data.train.transforms")
    image, mask = np.zeros((512, 512, 3), np.uint8), np.zeros((512, 512), np.uint8)
    with pytest.raises(DataError) as e:
        apply_pipeline(pipe, image, mask, source="x/0001_sat.jpg")
    msg = str(e.value)
    assert msg.startswith(f"x/0001_sat.jpg: data.train.transforms[{index}] ({name}) crops ")
    assert "600" in msg and "the image is 512x512" in msg and "\n" not in msg


def test_apply_pipeline_passes_other_errors_through_unchanged() -> None:
    def broken(image, mask=None):
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError):
        apply_pipeline(broken, np.zeros((4, 4, 3), np.uint8))
    pipe = build_transforms([{"type": "RandomCrop", "height": 600, "width": 600, "pad_if_needed": True}])
    x, y = apply_pipeline(pipe, np.zeros((512, 512, 3), np.uint8), np.zeros((512, 512), np.uint8))
    assert x.shape == (3, 600, 600)
