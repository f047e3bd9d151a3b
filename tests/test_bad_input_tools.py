"""Bad input and a bad disk for the tools besides run, as a user meets them: a one-line error
naming the flag, file or value (exit code 2, no traceback), a warning where the input is
legal but suspect, nothing half-written left behind; and what a tool's flag promises
(``--tta flip``) checked against what it does. The tools run in this process through the
CLI guard (``call_tool``), and in a subprocess only where a signal is the point."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.cli_check import snapshot, user_error
from tests.helpers import REPO, call_tool
from tests.test_predict import CLS, SEG_TINY, make_run, write_images
from tests.test_reports import make_run as make_report_run

CLS_TINY = ["model.backbone.width=0.125", "model.head.hidden=16", "model.head.pool_size=1"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bad_tools")
    return {"tmp": tmp,
            "seg": make_run(tmp / "seg", overrides=(*SEG_TINY, "model.head.type=fcn32s")),
            "images": write_images(tmp / "images", sizes=((32, 32), (32, 48))),
            "report_run": make_report_run(tmp / "report_run", "fcn32s", [0.3, 0.4])}


def no_space(*args, **kwargs):
    """A write on a full disk: the system names no file."""
    raise OSError(errno.ENOSPC, "No space left on device")


def disk_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "resume=auto" not in lines[0], lines[0]  # a tool outside a run has nothing to resume
    return lines[0]


# --------------------------------------------------------------------------------------
# 1. report --metric with one run
# --------------------------------------------------------------------------------------
def test_report_with_one_run_refuses_an_unknown_metric(setup, capsys):
    run, out = setup["report_run"], setup["tmp"] / "report_metric"
    line = user_error(capsys, "report", run, "--out", out, "--metric", "nosuch",
                      expect=("--metric 'nosuch'", "val/mIoU", str(run)))
    assert "columns all runs have" in line
    assert not out.exists()
    code, _, err = call_tool("report", run, "--out", out, "--metric", "mIoU", "--no-architecture", capsys=capsys)
    assert code == 0, err


# --------------------------------------------------------------------------------------
# 2. evaluate --dataset on masks of another dataset
# --------------------------------------------------------------------------------------
def test_evaluate_warns_when_the_masks_are_not_the_named_datasets(tmp_path, capsys):
    from ignite_zoo.zoo.data.synthetic import generate_landcover
    from ignite_zoo.zoo.data.synthetic_voc import make_voc_like

    sat = generate_landcover(tmp_path / "sat", n=4, size=32, seed=0, val_fraction=0.25) / "validation"
    code, out, err = call_tool("evaluate", sat, sat, "--dataset", "voc", "--no-progress", capsys=capsys)
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and str(sat) in warning[0] and "voc" in warning[0], err
    assert "do not look like voc's" in warning[0], warning
    # the dataset's own masks: no warning
    voc = make_voc_like(tmp_path / "voc", n_train=1, n_val=2, size=32, classes=4) / "SegmentationClass"
    code, out, err = call_tool("evaluate", voc, voc, "--dataset", "voc", "--no-progress", capsys=capsys)
    assert code == 0 and "warning" not in err, err
    code, out, err = call_tool("evaluate", sat, sat, "--no-progress", capsys=capsys)  # sat masks as sat's
    assert code == 0 and "warning" not in err, err


# --------------------------------------------------------------------------------------
# 3. a full or read-only disk outside a run
# --------------------------------------------------------------------------------------
def read_only(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        folder.chmod(0o755)
        pytest.skip("this user writes into read-only folders (root); the full-disk tests cover the rule")
    return folder


def test_a_read_only_output_folder_is_refused_before_any_work(setup, tmp_path, capsys):
    ro = read_only(tmp_path / "ro")
    try:
        user_error(capsys, "export", setup["seg"], "--onnx", ro / "m.onnx", expect=(f"--onnx {ro / 'm.onnx'}", str(ro)))
        user_error(capsys, "report", setup["report_run"], "--out", ro / "rep", expect=(str(ro / "rep"),))
        user_error(capsys, "make_demo_data", ro / "d", "--n", "2", "--size", "16", expect=(str(ro / "d"),))
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_export_checks_its_folder_and_the_free_space_before_exporting(setup, tmp_path, capsys, monkeypatch):
    import shutil

    exported: list[int] = []
    real_export = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: exported.append(1) or real_export(*a, **k))
    # a folder the tool cannot write in: refused before the model is even loaded
    real_open = os.open
    blocked = tmp_path / "blocked"
    blocked.mkdir()

    def ro_open(path, flags, *args, **kwargs):
        if str(path).startswith(str(blocked)) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", ro_open)
    out = blocked / "m.onnx"
    user_error(capsys, "export", setup["seg"], "--onnx", out, expect=(f"--onnx {out}", "Read-only file system"))
    monkeypatch.setattr(os, "open", real_open)
    # a disk with too little room: refused before the export's work, naming the folder and the sizes
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=4096))
    out = tmp_path / "full" / "m.onnx"
    user_error(capsys, "export", setup["seg"], "--onnx", out, expect=(f"--onnx {out}", "is needed", "free"))
    assert not exported and not out.exists()


def test_export_on_a_full_disk_names_the_file(setup, tmp_path, capsys, monkeypatch):
    import onnx

    monkeypatch.setattr(onnx, "save", no_space)
    out = tmp_path / "m.onnx"
    code, _, err = call_tool("export", setup["seg"], "--onnx", out, capsys=capsys)
    assert code == 2, err
    line = disk_line(err)
    assert "No space left on device" in line and str(out) in line and "free some space" in line, line
    assert list(tmp_path.iterdir()) == []  # no temporary file left


def test_report_on_a_full_disk_leaves_no_half_written_folder(setup, tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.setattr(Figure, "savefig", no_space)
    out = tmp_path / "report"
    code, _, err = call_tool("report", setup["report_run"], "--out", out, "--no-architecture", capsys=capsys)
    assert code == 2, err
    line = disk_line(err)
    assert "No space left on device" in line and str(out / "figures") in line and ".png" in line, line
    assert not out.exists(), list(out.rglob("*"))
    # an earlier report in the folder stays as it was
    monkeypatch.undo()
    assert call_tool("report", setup["report_run"], "--out", out, "--no-architecture", capsys=capsys)[0] == 0
    before = snapshot(out)
    monkeypatch.setattr(Figure, "savefig", no_space)
    code, _, err = call_tool("report", setup["report_run"], "--out", out, "--no-architecture", "--overwrite",
                             capsys=capsys)
    assert code == 2 and snapshot(out) == before, err


def test_make_demo_data_on_a_full_disk_names_the_file_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Path, "write_bytes", no_space)
    out = tmp_path / "demo"
    code, _, err = call_tool("make_demo_data", out, "--n", "2", "--size", "16", capsys=capsys)
    assert code == 2, err
    line = disk_line(err)
    assert "No space left on device" in line and str(out / "train") in line and "_sat.jpg" in line, line
    assert ".tmp-" not in line
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())


def test_tsne_checks_its_output_folder_before_any_work(tmp_path, capsys, monkeypatch):
    import shutil

    run = make_run(tmp_path / "cls", CLS, overrides=tuple(CLS_TINY))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=4096))
    out = tmp_path / "tsne"
    user_error(capsys, "tsne", run, "--out", out, "--no-progress", expect=(f"--out {out}", "is needed", "free"))
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------------------
# 4. SIGTERM to make-demo-data
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sigterm_to_make_demo_data_cleans_up_and_says_so(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(REPO / "tools" / "make_demo_data.py"), str(out), "--n", "4000",
                             "--size", "256"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(REPO))
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".demo.tmp-*/train/*_mask.png")):  # generating
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the generator never started: {proc.communicate()}")
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    lines = [line for line in err.splitlines() if line.strip() and "generating" not in line]
    assert lines == ["interrupted (stopped by SIGTERM)"], err[-2000:]
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------
# 5. a run's checkpoint as backbone weights
# --------------------------------------------------------------------------------------
def test_a_runs_checkpoint_as_backbone_weights_is_named_as_such(setup, tmp_path, capsys):
    ckpt = next((setup["seg"] / "checkpoints").glob("*.pt"))
    for width in ("1.0", "0.125"):  # the full-size model, and the tiny one whose width check came first
        line = user_error(capsys, "run", REPO / "recipes" / "seg_demo.yaml", f"model.backbone.width={width}",
                          f"model.backbone.weights={ckpt}", f"data.root={tmp_path / 'data'}",
                          f"out.root={tmp_path / 'runs'}",
                          expect=(str(ckpt), "a run's checkpoint", "model", "recipe", "torchvision state dict",
                                  "resume="))
        assert "tensors" not in line.split("state dict")[0], line
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.pt"))


# --------------------------------------------------------------------------------------
# 6. predict's --device and its own earlier masks
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["tpu", "cuda:99"])
def test_predict_names_its_device_flag(setup, device, capsys):
    out = setup["tmp"] / f"out_device_{device.replace(':', '_')}"
    line = user_error(capsys, "predict", setup["seg"], setup["images"], out, "--device", device, "--no-progress",
                      expect=("--device", repr(device)))
    assert "train.device" not in line


def test_predict_says_which_masks_overwrite_would_replace(setup, tmp_path, capsys):
    out = tmp_path / "preds"
    code, _, err = call_tool("predict", setup["seg"], setup["images"], out, "--no-progress", capsys=capsys)
    assert code == 0, err
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    line = user_error(capsys, "predict", setup["seg"], setup["images"], out, "--no-progress",
                      expect=("0000_mask.png", "0001_mask.png", "REPLACING 0000_mask.png, 0001_mask.png",
                              "did not write (notes.txt)"))
    assert "this tool did not write (0000" not in line  # its own kind of file, said as such
    assert snapshot(out) == before


# --------------------------------------------------------------------------------------
# 7. ONNX metadata that disagrees with the graph, or is not JSON
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def onnx_file(setup) -> Path:
    from ignite_zoo.engines.inference.export import export_onnx

    return export_onnx(setup["seg"], setup["tmp"] / "model.onnx").path


def edited(onnx_path: Path, out: Path, **changes: str) -> Path:
    import onnx

    proto = onnx.load(str(onnx_path))
    props = {p.key: p.value for p in proto.metadata_props}
    props.update({f"ignite_zoo.{k}": v for k, v in changes.items()})
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(out))
    return out


def test_onnx_classes_that_disagree_with_the_logits_are_refused(setup, onnx_file, tmp_path, capsys):
    bad = edited(onnx_file, tmp_path / "three.onnx", classes=json.dumps(["a", "b", "c"]))
    user_error(capsys, "predict", bad, setup["images"], tmp_path / "out", "--no-progress",
               expect=(str(bad), "7 class scores", "3 classes"))
    assert not list((tmp_path / "out").glob("*.png")) if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("key", ["palette", "classes"])
def test_onnx_metadata_that_is_not_json_names_the_key(setup, onnx_file, tmp_path, key, capsys):
    bad = edited(onnx_file, tmp_path / f"{key}.onnx", **{key: "[[0, 0, 0], oops"})
    user_error(capsys, "predict", bad, setup["images"], tmp_path / "out", "--no-progress",
               expect=(str(bad), f"ignite_zoo.{key}", "not valid JSON"))


# --------------------------------------------------------------------------------------
# 8. model.head.hidden=0
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["fcn32s", "fcn8s"])
def test_a_head_width_of_zero_names_the_key(tmp_path, head, capsys):
    user_error(capsys, "run", REPO / "recipes" / "seg_demo.yaml", "model.backbone.width=0.125", "data.args.size=32",
               "data.args.n=4", f"model.head.type={head}", "model.head.hidden=0", f"data.root={tmp_path / 'data'}",
               f"out.root={tmp_path / 'runs'}", expect=("model.head.hidden", "got 0", "positive integer"))
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.pt"))


# --------------------------------------------------------------------------------------
# 9. --tta flip does what it says
# --------------------------------------------------------------------------------------
def test_flip_tta_masks_of_a_mirrored_image_are_mirrored(setup, tmp_path, capsys):
    import cv2

    from ignite_zoo.zoo.data import read_mask

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    cv2.imwrite(str(images / "0000_sat.png"), img)
    cv2.imwrite(str(images / "0001_sat.png"), np.ascontiguousarray(img[:, ::-1]))
    masks = {}
    for tta in ("flip", None):
        out = tmp_path / f"out_{tta}"
        code, _, err = call_tool("predict", setup["seg"], images, out, "--no-progress",
                                 *(("--tta", tta) if tta else ()), capsys=capsys)
        assert code == 0, err
        masks[tta] = [read_mask(out / f"000{i}_mask.png") for i in (0, 1)]
    a, b = masks["flip"]
    np.testing.assert_array_equal(a, b[:, ::-1])  # flip TTA is mirror-equivariant
    plain_a, plain_b = masks[None]
    assert not np.array_equal(plain_a, plain_b[:, ::-1]), "the model is mirror-symmetric: the test says nothing"


def test_flip_tta_changes_the_logits_of_a_model_that_is_not_mirror_symmetric(setup):
    from ignite_zoo.engines.inference import load_predictor

    x = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(0)) * 255
    plain = load_predictor(setup["seg"], "cpu", tta=None, bf16_weights=False).predictor(x)
    flip = load_predictor(setup["seg"], "cpu", tta="flip", bf16_weights=False).predictor(x)
    mirrored = load_predictor(setup["seg"], "cpu", tta=None, bf16_weights=False).predictor(x.flip(-1)).flip(-1)
    assert not torch.allclose(plain, mirrored, atol=1e-4), "the model is mirror-symmetric: the test says nothing"
    torch.testing.assert_close(flip, (plain + mirrored) / 2, atol=1e-4, rtol=1e-4)
