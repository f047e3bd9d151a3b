"""The procedural land-cover set: determinism, clean colours, layout and reuse."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.zoo.data import build_dataset
from ignite_zoo.zoo.data import synthetic
from ignite_zoo.zoo.data.masks import PALETTE, read_mask
from ignite_zoo.zoo.data.sat import DlcvSat
from ignite_zoo.zoo.data.synthetic import SyntheticLandcover, ensure_landcover, generate_landcover, validation_ids
from tests.helpers import tool_module

REPO = Path(__file__).resolve().parents[1]


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = files(generate_landcover(tmp_path / "a", n=6, size=48, seed=3))
    b = files(generate_landcover(tmp_path / "b", n=6, size=48, seed=3))
    c = files(generate_landcover(tmp_path / "c", n=6, size=48, seed=4))
    assert len(a) == 6 * 2 + 1 and a == b
    assert a.keys() == c.keys()
    changed = [k for k in a if k.endswith(".jpg") and a[k] != c[k]]
    assert len(changed) == 6


def test_tiles_depend_on_seed_and_id_not_on_n(tmp_path: Path) -> None:
    small = generate_landcover(tmp_path / "small", n=4, size=32, seed=0, val_fraction=0.0)
    big = generate_landcover(tmp_path / "big", n=6, size=32, seed=0, val_fraction=0.0)
    assert (small / "train" / "0003_sat.jpg").read_bytes() == (big / "train" / "0003_sat.jpg").read_bytes()


def test_all_seven_colours_decode_cleanly(tmp_path: Path) -> None:
    root = generate_landcover(tmp_path, n=8, size=64, seed=0)
    palette = {tuple(c) for c in PALETTE}
    seen: set[int] = set()
    for p in sorted(root.rglob("*_mask.png")):
        rgb = np.array(Image.open(p).convert("RGB"))
        assert {tuple(c) for c in np.unique(rgb.reshape(-1, 3), axis=0)} <= palette, p.name
        seen |= set(np.unique(read_mask(p, foreign="error")).tolist())  # foreign colours would raise
    assert seen == set(range(7))
    img = np.array(Image.open(root / "train" / "0000_sat.jpg"))
    assert img.shape == (64, 64, 3) and img.std() > 5  # textured, not flat


def test_validation_ids_hold_snapshot_ids() -> None:
    assert validation_ids(40, 0.25) == list(range(2, 40, 4))
    assert 10 in validation_ids(40, 0.25)
    ids = validation_ids(300, 0.25)
    assert len(ids) == 75 and {10, 97, 107} <= set(ids)
    assert validation_ids(1, 0.25) == [] and validation_ids(4, 0.0) == []
    assert len(validation_ids(2, 0.9)) == 1  # training keeps at least one tile


def test_dataset_generates_once_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "demo"
    val = SyntheticLandcover(root, "validation", n=12, size=32)
    assert isinstance(val, DlcvSat) and "0010" in val.ids and len(val) == 3
    assert json.loads((root / synthetic.MANIFEST).read_text())["n"] == 12
    assert not list(tmp_path.glob(".demo.*"))  # no temporary folder left behind
    x, y = val[val.index_of("0010")]
    assert x.shape == (3, 32, 32) and int(y.max()) <= 6

    def fail(*a: object, **k: object) -> None:
        raise AssertionError("regenerated an existing set")

    monkeypatch.setattr(synthetic, "generate_landcover", fail)
    train = build_dataset({"type": "synthetic_landcover", "root": str(root), "args": {"n": 12, "size": 32}}, "train")
    assert len(train) == 9 and not set(train.ids) & set(val.ids)
    monkeypatch.undo()
    assert ensure_landcover(root, n=12, size=32) is False
    assert ensure_landcover(root, n=8, size=32) is True  # other parameters: replaced
    assert len(DlcvSat(root, "train")) + len(DlcvSat(root, "validation")) == 8


def test_refuses_to_write_into_foreign_folder_and_checks_params(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match=r"mine is not empty and holds no synthetic_landcover\.json"):
        SyntheticLandcover(tmp_path / "mine", "train", n=4, size=32)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
    with pytest.raises(RecipeError, match=r"data\.args\.size"):
        SyntheticLandcover(tmp_path / "x", "train", size=4)
    with pytest.raises(DataError, match="no root folder"):
        SyntheticLandcover(None, "train")


def test_make_demo_data_tool_writes_the_same_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tool = tool_module("make_demo_data")
    assert tool.main([str(tmp_path / "out"), "--n", "5", "--size", "32", "--seed", "2"]) == 0
    assert "4 train + 1 validation" in capsys.readouterr().out
    ref = generate_landcover(tmp_path / "ref", n=5, size=32, seed=2)
    assert files(tmp_path / "out") == files(ref)
    assert tool.main_guard(tool.main, [str(REPO / "registry"), "--n", "2"]) == 2
    assert "refusing to write" in capsys.readouterr().err
