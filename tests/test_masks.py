"""The mask codec against the real course masks and an independent decode."""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ignite_zoo.registry.errors import DataError
from ignite_zoo.zoo.data import masks as codec
from ignite_zoo.zoo.data.sat import DlcvSat

#: SOURCES.md's class histogram of the 257 real validation masks
HISTOGRAM = {0: 6_026_117, 1: 41_454_783, 2: 5_085_855, 3: 5_858_956, 4: 2_181_373, 5: 6_762_985, 6: 932}
MASKS_CONTAINING = {0: 150, 1: 210, 2: 133, 3: 45, 4: 94, 5: 106, 6: 11}
RED_PIXELS_0177 = 7


def independent_decode(path: Path) -> tuple[np.ndarray, int]:
    """Plain threshold arithmetic, written without the codec: ids (red -> -1) and red count."""
    rgb = np.array(Image.open(path).convert("RGB")).astype(np.int32)
    r, g, b = (rgb[..., k] >= 128 for k in range(3))
    ids = np.full(r.shape, -1, np.int64)
    ids[~r & g & b] = 0      # cyan: Urban
    ids[r & g & ~b] = 1      # yellow: Agriculture
    ids[r & ~g & b] = 2      # purple: Rangeland
    ids[~r & g & ~b] = 3     # green: Forest
    ids[~r & ~g & b] = 4     # blue: Water
    ids[r & g & b] = 5       # white: Barren
    ids[~r & ~g & ~b] = 6    # black: Unknown
    red = int((r & ~g & ~b).sum())
    return ids, red


@pytest.fixture(scope="module")
def sat512(shared_data: Path) -> Path:
    return shared_data / "sat512"


def test_all_real_masks_match_independent_decode_and_sources_table(sat512: Path) -> None:
    paths = sorted(sat512.glob("*_mask.png"))
    assert len(paths) == 257
    hist = np.zeros(7, np.int64)
    containing = np.zeros(7, np.int64)
    red_files = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for p in paths:
            ids = codec.read_mask(p)
            assert ids.dtype == np.int64 and ids.shape == (512, 512)
            assert ids.min() >= 0 and ids.max() <= 6
            ref, red = independent_decode(p)
            if red:
                red_files[p.name] = red
                ref[ref == -1] = codec.UNKNOWN  # default: foreign colours count as Unknown
            np.testing.assert_array_equal(ids, ref, err_msg=p.name)
            counts = np.bincount(ids.ravel(), minlength=7)
            hist += counts
            containing += counts > 0
    assert red_files == {"0177_mask.png": RED_PIXELS_0177}
    expected = [HISTOGRAM[c] for c in range(7)]
    expected[codec.UNKNOWN] += RED_PIXELS_0177
    assert hist.tolist() == expected
    assert hist.sum() == 257 * 512 * 512
    # 0177 also has real Unknown pixels, so the mask count of Unknown is unchanged
    assert containing.tolist() == [MASKS_CONTAINING[c] for c in range(7)]
    foreign = [w for w in caught if issubclass(w.category, codec.ForeignColourWarning)]
    assert len(foreign) == 1 and "0177_mask.png" in str(foreign[0].message)
    assert np.all(codec.read_mask(sat512 / "0199_mask.png") == 5)  # entirely Barren


def test_foreign_pixels_warn_once_per_file_in_a_dataset(sat512: Path) -> None:
    ds = DlcvSat(sat512, "", check="none")
    i = ds.index_of("0177")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m1 = ds.read_mask(i)
        m2 = ds.read_mask(i)
        _, target = ds[i]
    foreign = [w for w in caught if issubclass(w.category, codec.ForeignColourWarning)]
    assert len(foreign) == 1
    msg = str(foreign[0].message)
    assert "0177_mask.png" in msg and "7 red" in msg
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(target.numpy(), m1)


def test_strict_mode_raises_naming_file_colour_and_count(sat512: Path) -> None:
    with pytest.raises(DataError, match=r"0177_mask\.png: 7 red \(255, 0, 0\) pixels"):
        codec.read_mask(sat512 / "0177_mask.png", foreign="error")
    ds = DlcvSat(sat512, "", strict=True, check="none")
    with pytest.raises(DataError, match="0177_mask.png"):
        ds[ds.index_of("0177")]
    codec.read_mask(sat512 / "0176_mask.png", foreign="error")  # clean masks pass


def test_ignore_mode_maps_red_to_ignore_index(sat512: Path) -> None:
    path = sat512 / "0177_mask.png"
    ids = codec.read_mask(path, foreign="ignore", ignore_index=255)
    rows, cols = np.nonzero(ids == 255)
    assert len(rows) == RED_PIXELS_0177
    assert rows.min() >= 197 and rows.max() <= 216 and cols.min() >= 417 and cols.max() <= 425
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = codec.read_mask(path)
    keep = ids != 255
    np.testing.assert_array_equal(ids[keep], default[keep])
    assert np.all(default[~keep] == codec.UNKNOWN)
    assert np.all(codec.read_mask(path, foreign="ignore", ignore_index=-100)[~keep] == -100)


def test_palette_round_trip_on_real_masks(sat512: Path, tmp_path: Path) -> None:
    names = [f"{i:04d}_mask.png" for i in range(0, 257, 16)] + ["0177_mask.png", "0199_mask.png"]
    palette = np.array(codec.PALETTE, np.uint8)
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", codec.ForeignColourWarning)
            ids = codec.read_mask(sat512 / name)
        out = tmp_path / name
        codec.write_mask(out, ids)
        with Image.open(out) as im:
            assert im.mode == "P" and "transparency" not in im.info
            rgb = np.array(im.convert("RGB"))
        np.testing.assert_array_equal(rgb, palette[ids], err_msg=name)
        np.testing.assert_array_equal(codec.read_mask(out, foreign="error"), ids, err_msg=name)
        np.testing.assert_array_equal(cv2.imread(str(out))[..., ::-1], rgb, err_msg=name)
        original = np.array(Image.open(sat512 / name).convert("RGB"))
        clean = ~np.all(original == (255, 0, 0), axis=-1)
        np.testing.assert_array_equal(rgb[clean], original[clean], err_msg=name)


def test_decode_thresholds_at_128_and_maps_every_code() -> None:
    # one pixel per code, with channel values just at and below the threshold
    codes = np.arange(8)
    rgb = np.stack([(codes >> 2 & 1), (codes >> 1 & 1), codes & 1], -1)
    hi = np.where(rgb == 1, 128, 127).astype(np.uint8)[None]
    with pytest.warns(codec.ForeignColourWarning, match="1 red"):
        ids = codec.decode_mask(hi, source="synthetic.png")
    assert ids.tolist() == [[6, 4, 3, 0, 6, 2, 1, 5]]
    assert codec.decode_mask(hi, foreign="ignore", ignore_index=99).tolist() == [[6, 4, 3, 0, 99, 2, 1, 5]]
    bgr = np.ascontiguousarray(hi[..., ::-1])
    np.testing.assert_array_equal(codec.mask_codes(bgr, bgr=True), codec.mask_codes(hi))
    with pytest.raises(DataError, match="uint8"):
        codec.decode_mask(hi.astype(np.float32))
    with pytest.raises(DataError, match="foreign"):
        codec.decode_mask(hi, foreign="drop")


def test_encode_and_write_send_ignore_and_unknown_ids_to_black(tmp_path: Path) -> None:
    ids = np.array([[0, 1, 2, 3], [4, 5, 6, 255], [7, -1, 3, 0]])
    rgb = codec.encode_mask(ids)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 4, 3)
    assert rgb[0, 0].tolist() == [0, 255, 255] and rgb[0, 1].tolist() == [255, 255, 0]
    assert rgb[1, 3].tolist() == [0, 0, 0] and rgb[2, 0].tolist() == [0, 0, 0] and rgb[2, 1].tolist() == [0, 0, 0]
    codec.write_mask(tmp_path / "m.png", ids)
    back = codec.read_mask(tmp_path / "m.png", foreign="error")
    expected = np.where((ids < 0) | (ids > 6), codec.UNKNOWN, ids)
    np.testing.assert_array_equal(back, expected)
    assert codec.colorize is codec.encode_mask
    assert codec.CLASSES[codec.UNKNOWN] == "Unknown" and len(codec.PALETTE) == 7
