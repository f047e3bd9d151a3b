"""tools/evaluate.py: matching by id, the --json contract, foreign colours, and the real FCN32s masks
against an independent numpy implementation of the course's formula."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ignite_zoo.registry.cli import main_guard
from ignite_zoo.zoo.data import CLASSES, write_mask
from tests.helpers import tool_module

REPO = Path(__file__).resolve().parents[1]


evaluate_tool = tool_module("evaluate")


def _write(folder: Path, ids: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for id_, mask in ids.items():
        write_mask(folder / f"{id_}_mask.png", mask)
    return folder


def _masks(seed: int, n: int = 3, size: int = 24) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"{i:04d}": rng.integers(0, 7, (size, size)).astype(np.uint8) for i in range(n)}


def _run(argv, capsys) -> tuple[int, str, str]:
    code = main_guard(evaluate_tool.main, [*map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_exactly_the_documented_keys(tmp_path, capsys):
    truth = _masks(0)
    pred = {k: v.copy() for k, v in truth.items()}
    pred["0001"][:12] = 3  # some errors
    _write(tmp_path / "gt", truth)
    _write(tmp_path / "pred", pred)
    code, out, err = _run([tmp_path / "pred", tmp_path / "gt", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)  # stdout is one JSON object and nothing else
    assert set(result) == {"miou", "iou", "f1", "precision", "recall", "mf1", "fw_iou", "pixel_acc", "not_scored"}
    assert result["not_scored"] == [CLASSES[6]] and all(list(result[k]) == list(CLASSES[:6])
                                                        for k in ("f1", "precision", "recall"))
    assert list(result["iou"]) == list(CLASSES[:6])
    assert result["miou"] == pytest.approx(np.mean(list(result["iou"].values())))
    t = np.stack(list(truth.values())); p = np.stack(list(pred.values()))
    assert result["pixel_acc"] == pytest.approx((t == p).mean())
    assert 0 < result["miou"] < 1


def test_perfect_prediction_and_class_selection(tmp_path, capsys):
    truth = _masks(1)
    _write(tmp_path / "gt", truth)
    _write(tmp_path / "pred", truth)
    code, out, _ = _run([tmp_path / "pred", tmp_path / "gt", "--json", "--classes", "0,4"], capsys)
    assert code == 0
    ones = {"Urban": 1.0, "Water": 1.0}
    assert json.loads(out) == {"miou": 1.0, "iou": ones, "f1": ones, "precision": ones, "recall": ones, "mf1": 1.0,
                               "fw_iou": 1.0, "pixel_acc": 1.0,
                               "not_scored": [c for c in CLASSES if c not in ("Urban", "Water")]}


def test_table_output_lists_every_class(tmp_path, capsys):
    truth = _masks(2)
    _write(tmp_path / "gt", truth)
    _write(tmp_path / "pred", _masks(3))
    code, out, _ = _run([tmp_path / "pred", tmp_path / "gt"], capsys)
    assert code == 0
    for name in CLASSES:
        assert name in out
    assert "Unknown (not in mIoU)" in out and "mIoU" in out and "pixel accuracy" in out
    unknown = next(line for line in out.splitlines() if line.startswith("Unknown"))
    assert "not scored" in unknown and "0.0000" not in unknown
    assert "F1" in out and "precision" in out and "recall" in out and "frequency-weighted IoU" in out


def test_unmatched_ids_are_named(tmp_path, capsys):
    truth = _masks(4, n=4)
    pred = {k: v for k, v in truth.items() if k != "0002"}
    pred["0099"] = truth["0000"]
    _write(tmp_path / "gt", truth)
    _write(tmp_path / "pred", pred)
    (tmp_path / "gt" / "0000_sat.jpg").write_bytes(b"images beside the truth are fine")
    code, out, err = _run([tmp_path / "pred", tmp_path / "gt", "--json"], capsys)
    assert code == 2 and out == ""
    assert "0002" in err and "0099" in err and "error:" in err


@pytest.mark.parametrize("which", ["pred", "gt"])
def test_missing_or_empty_folder_is_a_user_error(tmp_path, capsys, which):
    _write(tmp_path / "pred", _masks(5))
    _write(tmp_path / "gt", _masks(5))
    target = tmp_path / which
    for f in target.iterdir():
        f.unlink()
    code, _, err = _run([tmp_path / "pred", tmp_path / "gt"], capsys)
    assert code == 2 and str(target) in err and "_mask.png" in err
    code, _, err = _run([tmp_path / "nowhere", tmp_path / "gt"], capsys)
    assert code == 2 and "nowhere" in err and "not found" in err


def test_bad_classes_option(tmp_path, capsys):
    code, _, err = _run([tmp_path, tmp_path, "--classes", "0,9"], capsys)
    assert code == 2 and "--classes" in err


def test_foreign_colour_counts_as_unknown_or_fails_with_strict(tmp_path, capsys):
    from PIL import Image

    truth = _masks(6, n=1)
    _write(tmp_path / "pred", truth)
    rgb = np.array(Image.open(tmp_path / "pred" / "0000_mask.png").convert("RGB"))
    rgb[0, :5] = (255, 0, 0)  # red: no class
    (tmp_path / "gt").mkdir()
    Image.fromarray(rgb).save(tmp_path / "gt" / "0000_mask.png")
    code, out, err = _run([tmp_path / "pred", tmp_path / "gt", "--json"], capsys)
    assert code == 0 and "red" in err and "warning" in err
    assert json.loads(out)["pixel_acc"] == pytest.approx(1 - np.sum(truth["0000"][0, :5] != 6) / 24 ** 2)
    code, out, err = _run([tmp_path / "pred", tmp_path / "gt", "--json", "--strict"], capsys)
    assert code == 2 and out == "" and "red" in err


# ------------------------------------------------------------------------------------------
# the real masks: a student's FCN32s on the 257 validation tiles
# ------------------------------------------------------------------------------------------
def course_miou(pred_dir: Path, gt_dir: Path) -> tuple[float, list[float]]:
    """The course's 2020 mean_iou_evaluate.py, re-implemented with PIL + numpy only.

    Channels thresholded at 128, code 4R+2G+B mapped to classes (red counts as Unknown),
    per class tp / (tp_fp + tp_fn - tp) over the whole set, mean over classes 0-5.
    """
    from PIL import Image

    code_to_class = {3: 0, 6: 1, 5: 2, 2: 3, 1: 4, 7: 5, 0: 6, 4: 6}
    lut = np.array([code_to_class[c] for c in range(8)])
    tp_fp, tp_fn, tp = np.zeros(6), np.zeros(6), np.zeros(6)
    names = sorted(p.name for p in gt_dir.glob("*_mask.png"))
    assert len(names) == 257
    for name in names:
        labels = []
        for folder in (pred_dir, gt_dir):
            rgb = np.array(Image.open(folder / name).convert("RGB")) >= 128
            labels.append(lut[4 * rgb[..., 0] + 2 * rgb[..., 1] + rgb[..., 2]])
        pred, truth = (ids.ravel() for ids in labels)
        tp_fp += np.bincount(pred, minlength=7)[:6]  # the course's sum(pred == i), i = 0..5
        tp_fn += np.bincount(truth, minlength=7)[:6]
        tp += np.bincount(pred[pred == truth], minlength=7)[:6]
    iou = tp / (tp_fp + tp_fn - tp)
    return float(iou.mean()), iou.tolist()


def test_real_fcn32s_predictions_match_the_course_formula(shared_data, capsys):
    pred_dir, gt_dir = shared_data / "sat512_pred_fcn32s", shared_data / "sat512"
    code, out, err = _run([pred_dir, gt_dir, "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    print(f"\nreal FCN32s masks: mIoU {result['miou']:.6f}, per class "
          + ", ".join(f"{k} {v:.4f}" for k, v in result["iou"].items()) + f", pixel acc {result['pixel_acc']:.4f}")
    assert 0.6 <= result["miou"] <= 0.75
    assert "0177_mask.png" in err and "red" in err  # the 7 red pixels, counted as Unknown
    miou, iou = course_miou(pred_dir, gt_dir)
    assert result["miou"] == pytest.approx(miou, abs=1e-12)
    assert list(result["iou"].values()) == pytest.approx(iou, abs=1e-12)


def test_class_index_masks_are_read_and_all_unknown_predictions_warn(tmp_path, capsys):
    """Class ids saved as grey values (0-6) are read as ids, the same score as colour masks;
    predictions that are all Unknown (e.g. black masks of another tool) are scored, with one
    warning line saying why the score is what it is."""
    import cv2

    truth = _masks(7, n=2)
    _write(tmp_path / "gt", truth)
    (tmp_path / "grey").mkdir()
    (tmp_path / "black").mkdir()
    for id_, ids in truth.items():
        cv2.imwrite(str(tmp_path / "grey" / f"{id_}_mask.png"), ids.astype(np.uint8))
        cv2.imwrite(str(tmp_path / "black" / f"{id_}_mask.png"), np.zeros((*ids.shape, 3), np.uint8))
    code, out, err = _run([tmp_path / "grey", tmp_path / "gt", "--json"], capsys)
    assert code == 0 and "warning" not in err, err
    assert json.loads(out)["miou"] == 1.0
    code, out, err = _run([tmp_path / "black", tmp_path / "gt", "--json"], capsys)
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "100.0% of the mask pixels are" in warning[0] and "(the ground truth has" in warning[0]
    assert str(tmp_path / "black") in warning[0] and "ids 0..6" in warning[0]
    assert json.loads(out)["miou"] == 0.0


# ------------------------------------------------------------------------------------------
# which dataset: a run's, a named one, or the default zoo.data declares
# ------------------------------------------------------------------------------------------
def test_run_gives_the_dataset_and_its_miou_classes(tmp_path, capsys):
    from tests.test_predict import SEG_TINY, make_run

    run = make_run(tmp_path / "run", overrides=(*SEG_TINY, "eval.miou_classes=[1,4]"))
    truth = _masks(8)
    _write(tmp_path / "gt", truth)
    _write(tmp_path / "pred", truth)
    code, out, err = _run([tmp_path / "pred", tmp_path / "gt", "--run", run, "--json"], capsys)
    assert code == 0, err
    assert list(json.loads(out)["iou"]) == [CLASSES[1], CLASSES[4]]
    assert f"dataset: synthetic_landcover (from run {run})" in err
    ckpt = next((run / "checkpoints").glob("*.pt"))  # a checkpoint carries the same recipe
    code, out2, err = _run([tmp_path / "pred", tmp_path / "gt", "--run", ckpt, "--json"], capsys)
    assert code == 0 and out2 == out, err
    with pytest.raises(SystemExit) as e:
        _run([tmp_path / "pred", tmp_path / "gt", "--run", run, "--dataset", "voc"], capsys)
    assert e.value.code == 2 and "not allowed with argument --run" in capsys.readouterr().err


def test_named_dataset_reads_its_own_file_names_classes_and_range(tmp_path, capsys):
    from ignite_zoo.zoo.data import dataset_info

    info = dataset_info({"type": "voc"})
    rng = np.random.default_rng(9)
    truth = {f"2007_{i:06d}": rng.integers(0, 21, (16, 16)) for i in range(2)}
    for folder in ("gt", "pred"):
        (tmp_path / folder).mkdir()
        for id_, ids in truth.items():
            info.write_mask(tmp_path / folder / f"{id_}.png", ids)
    code, out, err = _run([tmp_path / "pred", tmp_path / "gt", "--dataset", "voc", "--json", "--classes", "0,15"],
                          capsys)
    assert code == 0, err
    result = json.loads(out)
    assert {k: result[k] for k in ("miou", "iou", "pixel_acc")} == {"miou": 1.0, "iou": {"background": 1.0, "person": 1.0},
                                                                   "pixel_acc": 1.0}
    assert len(result["not_scored"]) == 19
    assert "masks named <id>.png" in err
    code, _, err = _run([tmp_path / "pred", tmp_path / "gt", "--dataset", "voc", "--classes", "0,21"], capsys)
    assert code == 2 and "--classes '0,21': expected distinct class ids 0-20" in err
    code, _, err = _run([tmp_path / "pred", tmp_path / "gt"], capsys)  # the default dataset names masks otherwise
    assert code == 2 and "no masks named <id>_mask.png" in err and "2007_000000.png" in err
    code, _, err = _run([tmp_path / "pred", tmp_path / "gt", "--dataset", "digits"], capsys)
    assert code == 2 and "'digits' is a classification dataset" in err


def test_an_exported_model_names_its_dataset_too(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from ignite_zoo.engines.inference.export import export_onnx
    from tests.test_predict import SEG_TINY, make_run

    run = make_run(tmp_path / "run", overrides=(*SEG_TINY, "eval.miou_classes=[0,2]"))
    onnx_file = export_onnx(run, tmp_path / "model.onnx").path
    truth = _masks(10)
    _write(tmp_path / "gt", truth)
    _write(tmp_path / "pred", truth)
    code, out, err = _run([tmp_path / "pred", tmp_path / "gt", "--run", onnx_file, "--json"], capsys)
    assert code == 0, err
    assert list(json.loads(out)["iou"]) == [CLASSES[0], CLASSES[2]] and f"from run {onnx_file}" in err
