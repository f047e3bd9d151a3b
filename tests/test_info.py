"""DatasetInfo: each dataset's facts without reading images, and mask files of every kind."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.zoo.data import DatasetInfo, check_same_size, dataset_info, warn_if_mostly_unknown
from ignite_zoo.zoo.data import masks as codec
from ignite_zoo.zoo.data.info import unknown_fraction
from ignite_zoo.zoo.data.sat import DlcvSat


def ids_4x6() -> np.ndarray:
    return np.array([[0, 1, 2, 3, 4, 5], [6, 5, 4, 3, 2, 1], [0, 0, 1, 1, 2, 2], [3, 3, 4, 4, 5, 5]], dtype=np.int64)


@pytest.fixture
def land() -> DatasetInfo:
    return dataset_info({"type": "dlcv_sat", "args": {"ignore_index": 255}})


def test_land_cover_facts_come_from_the_dataset_without_any_folder(land: DatasetInfo) -> None:
    assert land.task == "segmentation" and land.classes == codec.CLASSES and land.palette == codec.PALETTE
    assert land.unknown_index == 6 and land.ignore_index is None and land.eval_classes == (0, 1, 2, 3, 4, 5)
    assert land.snapshot_ids == ("0010", "0097", "0107") and land.layout.mask_name("0010") == "0010_mask.png"
    synth = dataset_info({"type": "synthetic_landcover", "root": "never/created", "args": {"n": 3}})
    assert synth == land
    assert dataset_info({"type": "dlcv_sat", "args": {"foreign": "ignore"}}).ignore_index == 255
    with pytest.raises(RecipeError, match="data.args.foreign"):
        dataset_info({"type": "dlcv_sat", "args": {"foreign": "drop"}})


def test_classification_classes_without_decoding_images(tmp_path: Path) -> None:
    digits = dataset_info({"type": "digits"})
    assert digits.classes == tuple("0123456789") and digits.palette is None and digits.layout is None
    assert dataset_info({"type": "dlcv_cls", "args": {"num_classes": 3}}).classes == ("0", "1", "2")
    flat = tmp_path / "cls" / "train"
    flat.mkdir(parents=True)
    for name in ("0_1.png", "4_2.png"):
        (flat / name).write_bytes(b"not decoded")  # names are enough
    assert dataset_info({"type": "dlcv_cls", "root": str(tmp_path / "cls")}).classes == ("0", "1", "2", "3", "4")
    folders = tmp_path / "folders" / "train"
    for c in ("cat", "dog"):
        (folders / c).mkdir(parents=True)
    info = dataset_info({"type": "image_folder", "root": str(tmp_path / "folders")})
    assert info.classes == ("cat", "dog") and info.eval_classes == (0, 1)


def test_a_built_dataset_exposes_its_info(tmp_path: Path) -> None:
    from ignite_zoo.zoo.data.synthetic import generate_landcover

    generate_landcover(tmp_path, n=4, size=32)
    ds = DlcvSat(tmp_path, "train")
    assert ds.info == dataset_info({"type": "dlcv_sat"})
    img, mask = ds[0]
    assert img.shape == (3, 32, 32) and mask.shape == (32, 32)


def test_read_mask_reads_colour_palette_and_class_index_pngs_alike(tmp_path: Path, land: DatasetInfo) -> None:
    ids = ids_4x6()
    Image.fromarray(codec.encode_mask(ids)).save(tmp_path / "rgb.png")
    land.write_mask(tmp_path / "own_palette.png", ids)
    Image.fromarray(ids.astype(np.uint8), mode="L").save(tmp_path / "grey.png")
    grey_palette = Image.fromarray(ids.astype(np.uint8), mode="P")
    grey_palette.putpalette([v for i in range(256) for v in (i, i, i)])
    grey_palette.save(tmp_path / "grey_palette.png")
    # a palette in another order: the colours, not the indices, say the class
    order = [3, 0, 6, 1, 5, 2, 4]
    shuffled = Image.fromarray(np.argsort(order)[ids].astype(np.uint8), mode="P")
    shuffled.putpalette([v for c in order for v in codec.PALETTE[c]])
    shuffled.save(tmp_path / "shuffled_palette.png")
    for name in ("rgb", "own_palette", "grey", "grey_palette", "shuffled_palette"):
        got = land.read_mask(tmp_path / f"{name}.png")
        assert got.dtype == np.int64 and np.array_equal(got, ids), name
    assert Image.open(tmp_path / "own_palette.png").mode == "P"
    assert np.array_equal(codec.read_mask(tmp_path / "own_palette.png"), ids)  # the course's colour reading agrees


def test_land_cover_written_masks_match_the_codec_byte_for_byte(tmp_path: Path, land: DatasetInfo) -> None:
    ids = ids_4x6()
    ids[0, 0] = 200  # out of range: Unknown in both
    land.write_mask(tmp_path / "a.png", ids)
    codec.write_mask(tmp_path / "b.png", ids)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert np.array_equal(land.colorize(ids), codec.colorize(ids))


def test_class_index_values_out_of_range_name_file_and_value(tmp_path: Path, land: DatasetInfo) -> None:
    ids = ids_4x6().astype(np.uint8)
    ids[1, 1] = 9
    Image.fromarray(ids, mode="L").save(tmp_path / "0003_mask.png")
    with pytest.raises(DataError, match=r"0003_mask\.png: mask value 9 \(1 pixels\) is no class id \(expected 0\.\.6"):
        land.read_mask(tmp_path / "0003_mask.png")
    with pytest.raises(DataError, match="mask file not found"):
        land.read_mask(tmp_path / "missing.png")


def test_foreign_colours_follow_the_datasets_choice(tmp_path: Path) -> None:
    rgb = codec.encode_mask(ids_4x6())
    rgb[0, 0] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "red.png")
    with pytest.warns(codec.ForeignColourWarning):
        assert dataset_info({"type": "dlcv_sat"}).read_mask(tmp_path / "red.png")[0, 0] == 6
    ignore = dataset_info({"type": "dlcv_sat", "args": {"foreign": "ignore"}})
    assert ignore.read_mask(tmp_path / "red.png")[0, 0] == 255
    with pytest.raises(DataError, match="red"):
        dataset_info({"type": "dlcv_sat", "args": {"strict": True}}).read_mask(tmp_path / "red.png")


def test_mostly_unknown_masks_warn_naming_the_folder(land: DatasetInfo, caplog: pytest.LogCaptureFixture) -> None:
    unknown = np.full((10, 10), 6)
    with caplog.at_level(logging.WARNING, logger="zoo.data"):
        assert warn_if_mostly_unknown([unknown, unknown], land, "preds/") == 1.0
    assert "preds/: 100.0% of the mask pixels are Unknown (6)" in caplog.text
    caplog.clear()
    fine = ids_4x6()
    with caplog.at_level(logging.WARNING, logger="zoo.data"):
        assert warn_if_mostly_unknown(fine, land, "ok/") == pytest.approx(1 / 24)
    assert caplog.text == ""
    counts = np.zeros(256, dtype=np.int64)
    counts[[0, 6, 255]] = (1, 2, 1)  # 255 is no land-cover class
    assert unknown_fraction(counts, land) == pytest.approx(0.75)


def test_layout_pairs_images_and_masks_by_id(tmp_path: Path, land: DatasetInfo) -> None:
    for name in ("0002_sat.jpg", "0001_sat.jpg", "0001_mask.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert land.layout.images(tmp_path) == [("0001", tmp_path / "0001_sat.jpg"), ("0002", tmp_path / "0002_sat.jpg")]
    assert land.layout.masks(tmp_path) == {"0001": tmp_path / "0001_mask.png"}
    with pytest.raises(DataError, match="folder not found"):
        land.layout.images(tmp_path / "nope")


def test_check_same_size_names_two_files_from_headers(tmp_path: Path) -> None:
    Image.new("RGB", (32, 24)).save(tmp_path / "a.png")
    Image.new("RGB", (32, 24)).save(tmp_path / "b.png")
    Image.new("RGB", (40, 24)).save(tmp_path / "c.png")
    assert check_same_size([tmp_path / "a.png", tmp_path / "b.png"], "x") == (32, 24)
    with pytest.raises(DataError, match=r"^train: images differ in size.*a\.png is 32x24 but c\.png is 40x24"):
        check_same_size([tmp_path / n for n in ("a.png", "b.png", "c.png")], "train")


def test_ignored_pixels_without_an_ignore_colour_are_written_as_unknown(tmp_path: Path) -> None:
    info = dataset_info({"type": "dlcv_sat", "args": {"foreign": "ignore", "ignore_index": 255}})
    ids = ids_4x6()
    ids[0, :2] = 255
    info.write_mask(tmp_path / "m.png", ids)
    back = info.read_mask(tmp_path / "m.png")
    assert np.array_equal(back[0, :2], [6, 6]) and np.array_equal(back[1:], ids[1:])


def test_real_masks_read_as_the_course_codec_reads_them(shared_data: Path, land: DatasetInfo) -> None:
    for folder, name in (("sat512", "0177_mask.png"), ("sat512", "0010_mask.png"), ("sat512_pred_fcn32s", "0010_mask.png")):
        path = shared_data / folder / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", codec.ForeignColourWarning)  # 0177's red pixels, in both readers
            np.testing.assert_array_equal(land.read_mask(path), codec.read_mask(path))
