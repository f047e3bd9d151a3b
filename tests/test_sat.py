"""The dlcv_sat dataset: contract, real data, and every way a folder can be broken."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.registry import DATASETS
from ignite_zoo.zoo.data import build_dataset
from ignite_zoo.zoo.data.masks import PALETTE, encode_mask, write_mask
from ignite_zoo.zoo.data.sat import DlcvSat


def make_pair(folder: Path, id_: str, size: tuple[int, int] = (24, 32), mask_size: tuple[int, int] | None = None,
              image_ext: str = "jpg", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Write ``<id>_sat.<ext>`` (left third pure red, for channel-order checks) and its mask."""
    folder.mkdir(parents=True, exist_ok=True)
    h, w = size
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    img[:, : w // 3] = (255, 0, 0)
    cv2.imwrite(str(folder / f"{id_}_sat.{image_ext}"), img[..., ::-1])
    mh, mw = mask_size or size
    ids = rng.integers(0, 7, (mh, mw))
    write_mask(folder / f"{id_}_mask.png", ids)
    return img, ids


@pytest.fixture()
def sat_root(tmp_path: Path) -> Path:
    for k, id_ in enumerate(["0002", "0000", "0010"]):
        make_pair(tmp_path / "validation", id_, seed=k)
    make_pair(tmp_path / "train", "0001")
    return tmp_path


def test_contract_on_a_small_folder(sat_root: Path) -> None:
    ds = DATASETS.build({"type": "dlcv_sat", "root": str(sat_root), "split": "validation"})
    assert isinstance(ds, DlcvSat) and len(ds) == 3
    assert ds.ids == ["0000", "0002", "0010"]
    assert ds.task == "segmentation" and ds.num_classes == 7 and ds.classes[0] == "Urban"
    img = ds.read_image(0)
    assert img.dtype == np.uint8 and img.shape == (24, 32, 3)
    r, g, b = img[:, :8].mean(axis=(0, 1))
    assert r > 240 and g < 15 and b < 15  # RGB order, not BGR
    mask = ds.read_mask(ds.index_of("0010"))
    assert mask.dtype == np.int64 and mask.shape == (24, 32) and mask.max() <= 6
    x, y = ds[2]
    assert x.dtype == torch.uint8 and x.shape == (3, 24, 32)  # raw pixels: the model normalises
    assert y.dtype == torch.int64 and y.shape == (24, 32)
    np.testing.assert_array_equal(y.numpy(), mask)
    assert x[:, 0, 0].tolist() == ds.read_image(2)[0, 0].tolist()  # the pixels as read, unnormalised
    with pytest.raises(DataError, match="'0099'"):
        ds.index_of("0099")


def test_split_none_reads_root_and_errors_hint_at_it(sat_root: Path) -> None:
    folder = sat_root / "validation"
    assert DlcvSat(folder, None).ids == DlcvSat(folder, "").ids == ["0000", "0002", "0010"]
    with pytest.raises(DataError, match=r"itself holds 3 images: set the split to ''"):
        DlcvSat(folder, "validation")
    with pytest.raises(DataError, match=r"split folder .*test not found.*folders: train, validation"):
        DlcvSat(sat_root, "test")
    with pytest.raises(DataError, match=r"sub-folders train, validation hold pairs"):
        DlcvSat(sat_root, "")


def test_real_validation_split(shared_data: Path) -> None:
    ds = DlcvSat(shared_data / "sat512", "")  # header check of all 514 files
    assert len(ds) == 257 and ds.ids[0] == "0000" and ds.ids[-1] == "0256"
    for id_ in ("0010", "0097", "0107"):
        assert id_ in ds.ids
    x, y = ds[ds.index_of("0010")]
    assert x.shape == (3, 512, 512) and y.shape == (512, 512) and int(y.max()) <= 6
    with pytest.raises(DataError, match="sat512"):
        DlcvSat(shared_data, "validation")


def test_build_dataset_from_recipe_section(sat_root: Path) -> None:
    data = {"type": "dlcv_sat", "root": str(sat_root), "args": {"check": "full"},
            "train": {"split": "train", "transforms": [{"type": "HorizontalFlip", "p": 1.0}]},
            "val": {"split": "validation", "transforms": []}}
    train, val = build_dataset(data, "train"), build_dataset(data, "val")
    assert train.ids == ["0001"] and len(val) == 3
    x, y = train[0]
    np.testing.assert_array_equal(y.numpy(), train.read_mask(0)[:, ::-1])
    bad = dict(data, train={"split": "train", "transforms": [{"type": "HorizontalFlip"}, {"type": "VerticalFlp"}]})
    with pytest.raises(RecipeError, match=r"data\.train\.transforms\[1\]\.type: unknown transform 'VerticalFlp'"):
        build_dataset(bad, "train")
    with pytest.raises(RecipeError, match=r"data: dataset 'dlcv_sat'.*'chek'"):
        build_dataset(dict(data, args={"chek": "full"}), "val")
    with pytest.raises(RecipeError, match=r"data\.args\.check"):
        build_dataset(dict(data, args={"check": "deep"}), "val")


# -- broken folders: each names the file and the problem --------------------------------------
def test_image_without_mask_and_mask_without_image(tmp_path: Path) -> None:
    make_pair(tmp_path, "0000")
    make_pair(tmp_path, "0001")
    (tmp_path / "0001_mask.png").unlink()
    with pytest.raises(DataError, match=r"1 image\(s\) without a mask.*0001_sat\.jpg"):
        DlcvSat(tmp_path, "")
    make_pair(tmp_path, "0001")
    (tmp_path / "0000_sat.jpg").unlink()
    with pytest.raises(DataError, match=r"1 mask\(s\) without an image.*0000_mask\.png"):
        DlcvSat(tmp_path, "")


def test_duplicate_ids_from_two_image_formats(tmp_path: Path) -> None:
    make_pair(tmp_path, "0001")
    make_pair(tmp_path, "0001", image_ext="png")  # e.g. a converted copy left beside the original
    with pytest.raises(DataError, match=r"more than one file.*0001_sat\.jpg and 0001_sat\.png"):
        DlcvSat(tmp_path, "")


def test_corrupt_image_fails_at_build(tmp_path: Path) -> None:
    make_pair(tmp_path, "0000")
    make_pair(tmp_path, "0001")
    (tmp_path / "0001_sat.jpg").write_bytes(b"this is not a jpeg" * 10)
    with pytest.raises(DataError, match=r"0001_sat\.jpg: not a readable image"):
        DlcvSat(tmp_path, "")
    with pytest.raises(DataError, match=r"0001_sat\.jpg: cannot decode"):
        DlcvSat(tmp_path, "", check="none")[1]


def test_truncated_jpeg_caught_by_full_check_and_at_load(tmp_path: Path) -> None:
    make_pair(tmp_path, "0000", size=(64, 64))
    path = tmp_path / "0000_sat.jpg"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    ds = DlcvSat(tmp_path, "")  # the header is intact, so the quick check passes
    with pytest.raises(DataError, match=r"0000_sat\.jpg: (truncated|cannot decode)"):
        ds[0]
    with pytest.raises(DataError, match=r"0000_sat\.jpg: (truncated|cannot decode)"):
        DlcvSat(tmp_path, "", check="full")


def test_image_and_mask_of_different_sizes(tmp_path: Path) -> None:
    make_pair(tmp_path, "0000")
    make_pair(tmp_path, "0003", size=(24, 32), mask_size=(32, 24))
    with pytest.raises(DataError, match=r"0003_sat\.jpg is 32x24 but 0003_mask\.png is 24x32"):
        DlcvSat(tmp_path, "")
    with pytest.raises(DataError, match=r"0003_sat\.jpg: image is 32x24 but its mask 0003_mask\.png is 24x32"):
        DlcvSat(tmp_path, "", check="none")[1]


def test_empty_folder_and_missing_root(tmp_path: Path) -> None:
    (tmp_path / "validation").mkdir()
    (tmp_path / "validation" / "notes.txt").write_text("nothing here")
    with pytest.raises(DataError, match=r"validation: no image/mask pairs found \(expected files named NNNN_sat\.jpg"):
        DlcvSat(tmp_path, "validation")
    with pytest.raises(DataError, match=r"dataset root .*nowhere is not found"):
        DlcvSat(tmp_path / "nowhere", "validation")
    with pytest.raises(DataError, match="no root folder"):
        DlcvSat(None, "validation")


def test_red_pixel_under_strict(tmp_path: Path) -> None:
    make_pair(tmp_path, "0000")
    rgb = encode_mask(np.zeros((24, 32), np.int64))
    rgb[5, 7] = (255, 0, 0)
    cv2.imwrite(str(tmp_path / "0000_mask.png"), rgb[..., ::-1])
    with pytest.raises(DataError, match=r"0000_mask\.png: 1 red \(255, 0, 0\) pixel of a colour that is no class"):
        DlcvSat(tmp_path, "", strict=True, check="full")
    with pytest.raises(DataError, match=r"0000_mask\.png: 1 red"):  # the default header check too
        DlcvSat(tmp_path, "", strict=True)
    ds = DlcvSat(tmp_path, "", foreign="ignore", check="none")
    assert ds.read_mask(0)[5, 7] == 255 and (ds.read_mask(0) == 0).sum() == 24 * 32 - 1
    assert PALETTE[0] == (0, 255, 255)


def test_foreign_option_is_checked(tmp_path: Path) -> None:
    make_pair(tmp_path, "0000")
    with pytest.raises(RecipeError, match=r"data\.args\.foreign"):
        DlcvSat(tmp_path, "", foreign="drop")


def test_missing_file_after_build_names_it(tmp_path: Path) -> None:
    make_pair(tmp_path, "0000")
    ds = DlcvSat(tmp_path, "")
    shutil.move(tmp_path / "0000_mask.png", tmp_path / "elsewhere.png")
    with pytest.raises(DataError, match=r"0000_mask\.png: mask file not found"):
        ds[0]


def test_images_of_different_sizes_in_one_split_name_two_files(tmp_path: Path) -> None:
    make_pair(tmp_path, "0000", size=(24, 32))
    make_pair(tmp_path, "0001", size=(24, 32))
    assert DlcvSat(tmp_path).check_same_size() == (32, 24)
    make_pair(tmp_path, "0002", size=(20, 32))
    with pytest.raises(DataError, match=r"images differ in size.*0000_sat\.jpg is 32x24 but 0002_sat\.jpg is 32x20"):
        DlcvSat(tmp_path).check_same_size()


def test_a_crop_larger_than_the_images_names_file_transform_and_sizes(tmp_path: Path) -> None:
    make_pair(tmp_path / "train", "0000", size=(24, 32))
    data = {"type": "dlcv_sat", "root": str(tmp_path), "train": {"transforms": [{"type": "RandomCrop", "height": 30,
                                                                                "width": 30}]}}
    ds = build_dataset(data, "train")
    with pytest.raises(DataError, match=r"0000_sat\.jpg: data\.train\.transforms\[0\] \(RandomCrop\) crops 30x30 "
                                        r"\(HxW\) but the image is 24x32"):
        ds[0]


def test_a_slice_split_takes_those_pairs_of_one_folder(tmp_path):
    """``split: "[:n]"`` / ``"[n:]"``: one folder split by sorted id, without copying files."""
    from ignite_zoo.zoo.data.sat import DlcvSat

    folder = tmp_path / "flat"
    for k in range(6):
        make_pair(folder, f"{k:04d}", seed=k)
    every = DlcvSat(folder, "").ids
    head, tail = DlcvSat(folder, "[:4]").ids, DlcvSat(folder, "[4:]").ids
    assert head == every[:4] and tail == every[4:] and len(every) >= 5
    assert DlcvSat(folder, "[-1:]").ids == every[-1:]
    with pytest.raises(DataError, match=r"split '\[9:\]' selects no pairs"):
        DlcvSat(folder, "[9:]")
