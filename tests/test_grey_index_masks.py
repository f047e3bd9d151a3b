"""Course-layout masks given as grey class ids (0 Urban ... 6 Unknown) are read as those
classes, by the dataset and by ``evaluate``; colour masks (palette, RGB, RGBA, 16-bit) and
black-and-white grey ones keep the course's colour rule."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ignite_zoo.zoo.data.masks import encode_mask, read_mask, write_mask
from tests.helpers import call_tool

IDS = (np.arange(32 * 32).reshape(32, 32) // 7 % 7).astype(np.uint8)


@pytest.mark.parametrize("kind", ["grey ids", "palette", "rgb", "rgba", "rgb16"])
def test_every_mask_kind_reads_as_its_classes(tmp_path, kind):
    path = tmp_path / "0001_mask.png"
    bgr = encode_mask(IDS)[..., ::-1]
    if kind == "grey ids":
        cv2.imwrite(str(path), IDS)
    elif kind == "palette":
        write_mask(path, IDS)
    elif kind == "rgb":
        cv2.imwrite(str(path), bgr)
    elif kind == "rgba":
        cv2.imwrite(str(path), np.dstack([bgr, np.full(IDS.shape, 255, np.uint8)]))
    else:
        cv2.imwrite(str(path), bgr.astype(np.uint16) * 257)
    assert (read_mask(path) == IDS).all()


def test_black_and_white_grey_masks_keep_the_colour_rule(tmp_path):
    path = tmp_path / "0001_mask.png"
    cv2.imwrite(str(path), np.where(IDS == 5, 255, 0).astype(np.uint8))
    assert (read_mask(path) == np.where(IDS == 5, 5, 6)).all()  # white Barren, black Unknown


def test_evaluate_scores_grey_truth_against_palette_predictions(tmp_path, capsys):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "0001_mask.png"), IDS)
    write_mask(tmp_path / "pred" / "0001_mask.png", IDS)
    code, out, err = call_tool("evaluate", tmp_path / "pred", tmp_path / "gt", "--json", "--no-progress",
                               capsys=capsys)
    assert code == 0, err
    assert json.loads(out)["miou"] == pytest.approx(1.0)
