"""Classification datasets: dlcv_cls flat folders, image_folder, and the bundled digits."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ignite_zoo.registry.errors import DataError
from ignite_zoo.registry.registry import DATASETS
from ignite_zoo.zoo.data import build_dataset
from ignite_zoo.zoo.data.cls import Digits


def write_png(path: Path, value: int, size: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((size, size, 3), value, np.uint8)
    img[0, 0] = (255, 0, 0)
    cv2.imwrite(str(path), img[..., ::-1])


def test_dlcv_cls_parses_labels_and_infers_classes(tmp_path: Path) -> None:
    for name, v in [("12_345.png", 10), ("0_1.png", 20), ("0_10.png", 30), ("3_2.png", 40)]:
        write_png(tmp_path / "train_50" / name, v)
    (tmp_path / "train_50" / "README.txt").write_text("not an image: skipped")
    ds = DATASETS.build({"type": "dlcv_cls", "root": str(tmp_path), "split": "train_50"})
    assert ds.task == "classification"
    assert ds.ids == ["0_1", "0_10", "3_2", "12_345"]  # numeric order, not string order
    assert ds.targets == [0, 0, 3, 12] and ds.num_classes == 13 and len(ds.classes) == 13
    x, y = ds[3]
    assert isinstance(y, int) and y == 12
    assert x.dtype == torch.uint8 and x.shape == (3, 32, 32)  # raw pixels: the model normalises
    img = ds.read_image(0)
    assert img.dtype == np.uint8 and img[0, 0].tolist() == [255, 0, 0] and img[5, 5, 0] == 20
    assert DATASETS.build({"type": "dlcv_cls", "root": str(tmp_path), "split": "train_50", "num_classes": 50}).num_classes == 50


def test_dlcv_cls_errors_name_the_file(tmp_path: Path) -> None:
    write_png(tmp_path / "val_50" / "1_0.png", 1)
    write_png(tmp_path / "val_50" / "cat.png", 1)
    with pytest.raises(DataError, match=r"do not parse as <class>_<index>\.png.*cat\.png"):
        DATASETS.build({"type": "dlcv_cls", "root": str(tmp_path), "split": "val_50"})
    (tmp_path / "val_50" / "cat.png").unlink()
    write_png(tmp_path / "val_50" / "7_3.png", 1)
    with pytest.raises(DataError, match=r"num_classes is 5 but 1 file\(s\) have a larger class: 7_3\.png"):
        DATASETS.build({"type": "dlcv_cls", "root": str(tmp_path), "split": "val_50", "num_classes": 5})
    (tmp_path / "val_50" / "7_3.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"7_3\.png: not a readable image"):
        DATASETS.build({"type": "dlcv_cls", "root": str(tmp_path), "split": "val_50"})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no images found"):
        DATASETS.build({"type": "dlcv_cls", "root": str(tmp_path), "split": "empty"})
    with pytest.raises(DataError, match=r"split folder .*train_50 not found"):
        DATASETS.build({"type": "dlcv_cls", "root": str(tmp_path), "split": "train_50"})


def test_image_folder(tmp_path: Path) -> None:
    write_png(tmp_path / "train" / "dog" / "b.jpg", 50)
    write_png(tmp_path / "train" / "cat" / "a.png", 60)
    write_png(tmp_path / "train" / "cat" / "c.png", 70)
    ds = DATASETS.build({"type": "image_folder", "root": str(tmp_path), "split": "train"})
    assert ds.classes == ["cat", "dog"] and ds.num_classes == 2
    assert ds.ids == ["cat/a", "cat/c", "dog/b"] and ds.targets == [0, 0, 1]
    x, y = ds[2]
    assert y == 1 and x.shape == (3, 32, 32)
    (tmp_path / "train" / "bird").mkdir()
    with pytest.raises(DataError, match=r"class folder\(s\) with no images.*bird"):
        DATASETS.build({"type": "image_folder", "root": str(tmp_path), "split": "train"})


def test_digits_split_is_stratified_and_deterministic() -> None:
    train, val = Digits(None, "train"), Digits(None, "validation")
    assert len(train) + len(val) == 1797 and len(val) == 360
    assert not set(train.ids) & set(val.ids)
    assert set(train.ids) | set(val.ids) == {f"{i:04d}" for i in range(1797)}
    ct, cv = Counter(train.targets), Counter(val.targets)
    for c in range(10):  # stratified: every class keeps about 20% in validation
        assert abs(cv[c] / (ct[c] + cv[c]) - 0.2) < 0.02
    img = train.read_image(0)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and img.max() > 200
    assert np.array_equal(img[..., 0], img[..., 2])
    assert Digits(None, "val").ids == val.ids == Digits(None, "validation", seed=0).ids
    assert Digits(None, "validation", seed=1).ids != val.ids
    x, y = train[0]
    assert x.shape == (3, 32, 32) and isinstance(y, int) and 0 <= y < 10 and train.num_classes == 10
    with pytest.raises(DataError, match="unknown split 'test'"):
        Digits(None, "test")


def test_digits_through_build_dataset() -> None:
    data = {"type": "digits", "root": None,
            "train": {"split": "train", "transforms": [{"type": "PadIfNeeded", "min_height": 36, "min_width": 36,
                                                        "border_mode": 4}, {"type": "RandomCrop", "height": 32,
                                                                            "width": 32}]},
            "val": {"split": "validation", "transforms": []}}
    train = build_dataset(data, "train")
    assert train[0][0].shape == (3, 32, 32) and len(build_dataset(data, "val")) == 360


def test_classification_info_and_same_size_check(tmp_path: Path) -> None:
    for name, size in [("0_1.png", 32), ("1_1.png", 32), ("2_1.png", 28)]:
        write_png(tmp_path / "train" / name, 5, size)
    ds = DATASETS.build({"type": "dlcv_cls", "root": str(tmp_path), "split": "train"})
    assert ds.info.task == "classification" and ds.info.classes == ("0", "1", "2") and ds.info.palette is None
    with pytest.raises(DataError, match=r"0_1\.png is 32x32 but 2_1\.png is 28x28"):
        ds.check_same_size()
    data = {"type": "dlcv_cls", "root": str(tmp_path),
            "train": {"split": "train", "transforms": [{"type": "RandomCrop", "height": 30, "width": 30}]}}
    with pytest.raises(DataError, match=r"2_1\.png: data\.train\.transforms\[0\] \(RandomCrop\) crops 30x30"):
        build_dataset(data, "train")[2]
