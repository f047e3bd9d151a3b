"""The voc dataset: VOC's layout, index masks with 255 borders, its errors, the generator, a run."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.registry import DATASETS
from tests.helpers import REPO, call_tool
from ignite_zoo.zoo.data import build_dataset, dataset_info, make_voc_like
from ignite_zoo.zoo.data.voc import VOC_CLASSES, Voc, voc_colormap

FOUR = ["background", "rect", "disc", "triangle"]


@pytest.fixture(scope="module")
def voc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_voc_like(tmp_path_factory.mktemp("voc") / "VOC", n_train=6, n_val=3, size=48, classes=4, seed=0)


def test_contract_and_index_masks_with_borders(voc_root: Path) -> None:
    ds = DATASETS.build({"type": "voc", "root": str(voc_root), "split": "val", "classes": FOUR})
    assert isinstance(ds, Voc) and ds.ids == ["2007_000006", "2007_000007", "2007_000008"]
    assert ds.task == "segmentation" and ds.classes == FOUR and ds.num_classes == 4
    assert ds.read_image(0).shape == (48, 48, 3) and ds.read_image(0).dtype == np.uint8
    mask = ds.read_mask(0)
    values = set(np.unique(mask).tolist())
    assert mask.dtype == np.int64 and 0 in values and 255 in values and values <= {0, 1, 2, 3, 255}
    x, y = ds[0]
    assert x.shape == (3, 48, 48) and y.dtype == torch.int64
    np.testing.assert_array_equal(y.numpy(), mask)
    assert Image.open(ds.mask_paths[0]).mode == "P"
    assert ds.index_of("2007_000007") == 1
    with pytest.raises(DataError, match="'nope'"):
        ds.index_of("nope")


def test_info_defaults_to_vocs_21_classes_and_colour_map(voc_root: Path) -> None:
    info = dataset_info({"type": "voc", "root": str(voc_root), "val": {"split": "val"}})
    assert info.classes == VOC_CLASSES and len(info.classes) == 21 and info.eval_classes == tuple(range(21))
    assert info.ignore_index == 255 and info.unknown_index is None and info.mask_fill == 255
    assert info.palette[:3] == ((0, 0, 0), (128, 0, 0), (0, 128, 0)) and info.palette[15] == (192, 128, 128)
    assert info.ignore_colour == (224, 224, 192) == tuple(voc_colormap()[255])
    assert info.snapshot_ids == ("2007_000006", "2007_000007", "2007_000008")
    assert dataset_info({"type": "voc"}).snapshot_ids == ()  # no root: nothing to list
    four = dataset_info({"type": "voc", "args": {"classes": FOUR}})
    assert four.classes == tuple(FOUR) and four.palette == info.palette[:4] and four.eval_classes == (0, 1, 2, 3)
    assert Voc(voc_root, "val").info.snapshot_ids == info.snapshot_ids
    with pytest.raises(RecipeError, match="data.args.classes: names given twice: a"):
        dataset_info({"type": "voc", "args": {"classes": ["a", "a"]}})
    with pytest.raises(RecipeError, match="data.args.classes: expected a list"):
        dataset_info({"type": "voc", "args": {"classes": "background"}})


def test_layout_and_written_predictions_read_back(voc_root: Path, tmp_path: Path) -> None:
    info = dataset_info({"type": "voc", "args": {"classes": FOUR}})
    layout = info.layout
    images = layout.images(voc_root)
    assert len(images) == 9 and images[0] == ("2007_000000", voc_root / "JPEGImages" / "2007_000000.jpg")
    assert set(layout.masks(voc_root)) == {i for i, _ in images}
    assert layout.mask_name("2007_000001") == "2007_000001.png"
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(images[0][1], plain)
    ids = np.array([[0, 1, 2], [3, 255, 7]])
    info.write_mask(plain / layout.mask_name("2007_000000"), ids)
    assert [i for i, _ in layout.images(plain)] == ["2007_000000"]  # the .png mask is no image here
    back = info.read_mask(layout.masks(plain)["2007_000000"])
    np.testing.assert_array_equal(back, [[0, 1, 2], [3, 255, 255]])  # 7 is no class: written as ignore
    pal = Image.open(plain / "2007_000000.png").getpalette()
    assert pal[3:6] == [128, 0, 0] and pal[255 * 3:256 * 3] == [224, 224, 192]


def test_colour_and_other_palette_masks(voc_root: Path, tmp_path: Path) -> None:
    info = dataset_info({"type": "voc", "args": {"classes": FOUR}})
    ids = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    Image.fromarray(info.colorize(ids)).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(info.read_mask(tmp_path / "rgb.png"), ids)
    other = Image.fromarray(ids, mode="P")
    other.putpalette([9, 9, 9] * 256)  # an index mask with someone else's colours: indices still count
    other.save(tmp_path / "other.png")
    np.testing.assert_array_equal(info.read_mask(tmp_path / "other.png"), ids)
    rgb = info.colorize(ids)
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "odd.png")
    with pytest.raises(DataError, match=r"odd\.png: colour\(s\) \(1, 2, 3\) are none of the 4 class colours"):
        info.read_mask(tmp_path / "odd.png")


def test_a_mask_value_past_the_classes_names_file_and_value(voc_root: Path) -> None:
    ds = Voc(voc_root, "train", classes=["background", "rect"])  # the masks also hold 2 and 3
    with pytest.raises(DataError, match=r"SegmentationClass/2007_00000\d\.png: mask value [23] \(\d+ pixels"):
        for i in range(len(ds)):
            ds[i]
    with pytest.raises(DataError, match=r"mask value [23]"):
        Voc(voc_root, "train", classes=["background", "rect"], check="full")


def test_broken_layouts_are_one_line_errors(voc_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "VOC"
    shutil.copytree(voc_root, root)
    with pytest.raises(DataError, match=r"split list .*ImageSets/Segmentation/test\.txt not found \(split 'test'\); "
                                        r"the lists there are: train, val"):
        Voc(root, "test")
    (root / "JPEGImages" / "2007_000007.jpg").unlink()
    (root / "SegmentationClass" / "2007_000008.png").unlink()
    with pytest.raises(DataError) as e:
        Voc(root, "val")
    msg = str(e.value)
    assert "ImageSets/Segmentation/val.txt lists 1 id(s) without an image JPEGImages/<id>.jpg: 2007_000007" in msg
    assert "1 id(s) without a mask SegmentationClass/<id>.png: 2007_000008" in msg and "\n" not in msg
    with pytest.raises(DataError, match="dataset root .* not found"):
        Voc(tmp_path / "missing", "val")
    with pytest.raises(DataError, match="no split given"):
        Voc(root, "")


def test_images_of_different_sizes_and_a_too_large_crop(voc_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "VOC"
    shutil.copytree(voc_root, root)
    ds = Voc(root, "val")
    assert ds.check_same_size() == (48, 48)
    Image.new("RGB", (40, 30)).save(root / "JPEGImages" / "2007_000008.jpg")
    Image.new("P", (40, 30)).save(root / "SegmentationClass" / "2007_000008.png")
    with pytest.raises(DataError, match=r"2007_000006\.jpg is 48x48 but 2007_000008\.jpg is 40x30"):
        Voc(root, "val").check_same_size()
    data = {"type": "voc", "root": str(root), "args": {"classes": FOUR},
            "train": {"split": "train", "transforms": [{"type": "CenterCrop", "height": 64, "width": 64}]}}
    with pytest.raises(DataError, match=r"2007_000000\.jpg: data\.train\.transforms\[0\] \(CenterCrop\) crops 64x64"):
        build_dataset(data, "train")[0]


def test_build_dataset_pads_with_ignore(voc_root: Path) -> None:
    data = {"type": "voc", "root": str(voc_root), "args": {"classes": FOUR},
            "train": {"split": "train", "transforms": [{"type": "RandomScaleCrop", "size": 64, "scale": [1, 1]}]}}
    torch.manual_seed(0)
    _, y = build_dataset(data, "train")[0]
    assert y.shape == (64, 64) and (y == 255).sum() >= 64 * 64 - 48 * 48


def test_generator_is_deterministic_and_leaves_other_folders_alone(tmp_path: Path, voc_root: Path) -> None:
    again = make_voc_like(tmp_path / "again", n_train=6, n_val=3, size=48, classes=4, seed=0)
    for sub in ("JPEGImages/2007_000003.jpg", "SegmentationClass/2007_000003.png", "ImageSets/Segmentation/val.txt"):
        assert (again / sub).read_bytes() == (voc_root / sub).read_bytes()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("keep")
    with pytest.raises(DataError, match="not empty"):
        make_voc_like(mine)
    assert (mine / "thesis.txt").read_text() == "keep" and sorted(p.name for p in mine.iterdir()) == ["thesis.txt"]


def test_an_interrupted_generation_leaves_no_half_set_and_a_rerun_works(tmp_path: Path, monkeypatch) -> None:
    import ignite_zoo.zoo.data.synthetic_voc as gen

    real, calls = gen.render_voc_like, []

    def stop_at_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # what SIGTERM becomes in the tools
        return real(*a, **k)

    monkeypatch.setattr(gen, "render_voc_like", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        make_voc_like(tmp_path / "VOC", n_train=3, n_val=2, size=32)
    assert list(tmp_path.iterdir()) == []  # neither the set nor its temporary folder
    monkeypatch.setattr(gen, "render_voc_like", real)
    root = make_voc_like(tmp_path / "VOC", n_train=3, n_val=2, size=32)
    assert len(list((root / "JPEGImages").iterdir())) == 5 and (root / "synthetic_voc.json").is_file()


def test_a_generated_set_holding_a_users_file_is_not_replaced(tmp_path: Path) -> None:
    root = make_voc_like(tmp_path / "VOC", n_train=2, n_val=1, size=32)
    make_voc_like(root, n_train=2, n_val=1, size=32, seed=1)  # its own set: replaced
    (root / "JPEGImages" / "notes.txt").write_text("keep")
    with pytest.raises(DataError, match=r"holds JPEGImages/notes\.txt, which this generator did not write"):
        make_voc_like(root, n_train=3, n_val=1, size=32)
    assert (root / "JPEGImages" / "notes.txt").read_text() == "keep"
    assert len(list((root / "JPEGImages").glob("*.jpg"))) == 3


def ok(tool: str, *argv, capsys) -> tuple[str, str]:
    """(stdout, stderr) of ``tools/<tool>.py argv`` through the CLI guard in this process; exit 0."""
    code, out, err = call_tool(tool, *argv, capsys=capsys)
    assert code == 0, f"tools/{tool}.py exited {code}\n{out[-2000:]}\n{err[-3000:]}"
    return out, err


def test_make_demo_data_writes_the_voc_layout(tmp_path: Path, capsys) -> None:
    out, _ = ok("make_demo_data", tmp_path / "v", "--layout", "voc", "--n", "5", "--size", "32", capsys=capsys)
    assert "voc layout" in out
    assert len(Voc(tmp_path / "v", "train")) + len(Voc(tmp_path / "v", "val")) == 5


def test_the_voc_recipe_trains_predicts_evaluates_and_reports(voc_root: Path, tmp_path: Path, capsys) -> None:
    """A 4-class VOC-layout set through the same tools as the course's data: nothing in
    engines/ or tools/ knows its classes, colours or file names; the dataset does."""
    ok("run", REPO / "recipes" / "seg_fcn8s_vgg16_voc.yaml", f"data.root={voc_root}", f"out.root={tmp_path / 'runs'}",
             f"data.args.classes={FOUR}", "model.head.num_classes=4", "model.backbone.weights=null",
             "model.backbone.width=0.125", "model.head.hidden=32",
             "data.train.transforms=[{type: RandomScaleCrop, size: 48, scale: [0.75, 1.25]}]",
             "data.loader.batch_size=2", "data.loader.num_workers=0", "train.epochs=2",
             "train.max_iters_per_epoch=2", "handlers.progress=false", capsys=capsys)
    (run,) = (tmp_path / "runs" / "seg_fcn8s_vgg16_voc").iterdir()
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert len(rows) == 2 and {f"val/IoU/{c}" for c in FOUR} <= set(rows[0])
    assert 0 <= float(rows[-1]["val/mIoU"]) <= 1 and list((run / "checkpoints").glob("last_checkpoint_2.pt"))
    val_ids = (voc_root / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    assert sorted(p.name for p in (run / "masks" / "epoch_2").glob("*.png")) == sorted(f"{i}.png" for i in val_ids[:3])
    # predict the validation images, score them against the truth, and report the run
    images = tmp_path / "val_images"
    images.mkdir()
    for id_ in val_ids:
        (images / f"{id_}.jpg").symlink_to(voc_root / "JPEGImages" / f"{id_}.jpg")
    ok("predict", run, images, tmp_path / "preds", capsys=capsys)
    assert sorted(p.name for p in (tmp_path / "preds").glob("*.png")) == sorted(f"{i}.png" for i in val_ids)
    truth = tmp_path / "val_masks"
    truth.mkdir()
    for id_ in val_ids:
        (truth / f"{id_}.png").symlink_to(voc_root / "SegmentationClass" / f"{id_}.png")
    out, err = ok("evaluate", tmp_path / "preds", truth, "--run", run, "--json", capsys=capsys)
    scored = json.loads(out)
    assert set(scored["iou"]) == set(FOUR) and "dataset: voc (from run" in err
    best = json.loads((run / "metrics.json").read_text())["best"]["val/mIoU"]  # predict.py reads the best checkpoint
    assert scored["miou"] == pytest.approx(best, abs=1e-6)  # the run's own validation number
    ok("report", run, "--out", tmp_path / "report", capsys=capsys)
    text = (tmp_path / "report" / "report.md").read_text()
    assert all(c in text for c in FOUR) and "random init" in text
