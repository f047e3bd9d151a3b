"""``evaluate --json`` reports each IoU under its own class's name, with and without
``--classes``: predictions whose classes score differently (not perfect ones, where every
IoU is 1.0 and a swapped name cannot show)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ignite_zoo.zoo.data import CLASSES, write_mask
from tests.helpers import call_tool


def _iou(truth: np.ndarray, pred: np.ndarray, c: int) -> float:
    inter = np.logical_and(truth == c, pred == c).sum()
    return float(inter / np.logical_or(truth == c, pred == c).sum())


@pytest.mark.parametrize("classes", [None, "1,4", "4,1"])
def test_each_iou_is_named_by_its_class(tmp_path, capsys, classes):
    truth = np.full((24, 24), 1, np.uint8)
    truth[:, 12:] = 4
    pred = truth.copy()
    pred[12:, 12:] = 1  # class 1: IoU 2/3, class 4: IoU 1/2
    for folder, mask in (("gt", truth), ("pred", pred)):
        (tmp_path / folder).mkdir()
        write_mask(tmp_path / folder / "0001_mask.png", mask)
    argv = [tmp_path / "pred", tmp_path / "gt", "--json", "--no-progress"] + (["--classes", classes] if classes else [])
    code, out, err = call_tool("evaluate", *argv, capsys=capsys)
    assert code == 0, err
    iou = json.loads(out)["iou"]
    assert iou[CLASSES[1]] == pytest.approx(_iou(truth, pred, 1)) == pytest.approx(2 / 3)
    assert iou[CLASSES[4]] == pytest.approx(_iou(truth, pred, 4)) == pytest.approx(1 / 2)
