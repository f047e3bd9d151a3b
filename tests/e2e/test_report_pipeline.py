"""The course's segmentation report from commands: train FCN32s and FCN16s, predict the
validation masks, score them, compare the runs and write the report.

The central check: ``predict.py`` + ``evaluate.py`` on the validation folder give exactly the
mIoU the run recorded for that epoch. The run validated with its own model at full
resolution, so any difference in preprocessing, precision, batching or metric would show.
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import tool_module, call_tool

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "recipes" / "seg_demo.yaml"
#: 2 epochs of a 1/8-width VGG16 on 48x48 generated tiles: seconds per run, yet the model
#: already predicts several classes (so the masks are no constant image). One thread: tiny
#: layers gain nothing from more, and lose much when other processes share the cores.
TINY = ["train.epochs=2", "train.device=cpu", "train.threads=1", "model.backbone.type=vgg16_bn", "model.backbone.width=0.125", "model.head.hidden=32",
        "data.args.size=48", "data.args.n=24", "data.loader.batch_size=2", "optim.lr=0.003", "sched=null",
        "handlers.progress=false", "handlers.tensorboard.enabled=false",
        'handlers.mask_snapshots.ids=["0002", "0006"]']


tool = tool_module
call = call_tool


def run_cli(name: str, *argv, capsys) -> tuple[str, str]:
    """(stdout, stderr) of ``tools/<name>.py ...`` with a user's arguments (no test-only
    flags), through the CLI guard in this process as the script's ``__main__`` runs it."""
    code, out, err = call_tool(name, *argv, capsys=capsys)
    assert code == 0, f"tools/{name}.py failed:\n{out[-2000:]}\n{err[-3000:]}"
    return out, err


def history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def md_table(text: str, first_header: str) -> list[list[str]]:
    """The Markdown table whose first header cell is ``first_header``: header + body rows."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"\|\s*{re.escape(first_header)}\s*\|", line))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return [rows[0]] + rows[2:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """FCN32s and FCN16s, 2 epochs each, trained in this process on the same generated tiles."""
    from ignite_zoo.engines.launch import run_experiment
    from ignite_zoo.registry.recipe import load_recipe

    tmp = tmp_path_factory.mktemp("e2e_seg")
    out = {}
    threads = torch.get_num_threads()
    try:
        for head in ("fcn32s", "fcn16s"):
            recipe = load_recipe(DEMO, [*TINY, f"data.root={tmp / 'demo'}", f"model.head.type={head}",
                                        f"out.dir={tmp / head}"])
            out[head] = run_experiment(recipe)
    finally:
        torch.set_num_threads(threads)
    out["val"] = tmp / "demo" / "validation"
    out["tmp"] = tmp
    return out


@pytest.fixture(scope="module")
def cls_run(tiny_cls_run, tmp_path_factory) -> Path:
    """A classifier on the bundled digits (problem 1 of the homework): a copy of the shared
    run, which the report test adds a figure to."""
    return tiny_cls_run.copy(tmp_path_factory.mktemp("e2e_cls") / "run")


def test_runs_wrote_what_the_tools_read(runs):
    for head in ("fcn32s", "fcn16s"):
        rows = history(runs[head])
        assert [r["epoch"] for r in rows] == ["1", "2"]
        assert (runs[head] / "checkpoints" / "last_checkpoint_2.pt").is_file()
        assert (runs[head] / "masks" / "grid.png").is_file()


def test_predict_then_evaluate_reproduces_the_validation_miou(runs, capsys):
    from ignite_zoo.zoo.data import read_mask

    val = runs["val"]
    n_images = len(list(val.glob("*_sat.jpg")))
    seen = []
    for head in ("fcn32s", "fcn16s"):
        run, preds = runs[head], runs["tmp"] / f"pred_{head}"
        last = history(run)[-1]
        if head == "fcn32s":  # the commands exactly as a user types them
            out, err = run_cli("predict", run, val, preds, "--last", capsys=capsys)
            assert f"wrote {n_images} masks" in out and "precision:" in err
            result = json.loads(run_cli("evaluate", preds, val, "--json", capsys=capsys)[0])
        else:
            code, out, err = call("predict", run, val, preds, "--last", capsys=capsys)
            assert code == 0, err
            code, out, err = call("evaluate", preds, val, "--json", "--no-progress", capsys=capsys)
            assert code == 0, err
            result = json.loads(out)
        masks = sorted(p.name for p in preds.iterdir())
        assert masks == sorted(p.name.replace("_sat.jpg", "_mask.png") for p in val.glob("*_sat.jpg"))
        classes = set().union(*(np.unique(read_mask(preds / m)).tolist() for m in masks))
        assert len(classes) >= 2, f"{head} predicts only {classes}: the comparison would prove little"
        final = json.loads((run / "metrics.json").read_text())["final"]
        seen.append(f"{head}: evaluate.py mIoU {result['miou']:.9f}, run's last validation {final['val/mIoU']:.9f}")
        assert abs(result["miou"] - float(last["val/mIoU"])) <= 1e-6  # history.csv keeps 6 digits
        assert result["miou"] == pytest.approx(final["val/mIoU"], abs=1e-12)  # metrics.json: all digits
        assert result["pixel_acc"] == pytest.approx(final["val/pixel_acc"], abs=1e-12)
        for name, iou in result["iou"].items():
            assert iou == pytest.approx(final[f"val/IoU/{name}"], abs=1e-12)
    print("\n" + "\n".join(seen))


def test_predict_masks_are_full_resolution_palette_pngs(runs, capsys):
    """Its own predictions (in its own folder): no test reads another test's output."""
    from PIL import Image

    preds = runs["tmp"] / "pred_palette"
    code, _, err = call_tool("predict", runs["fcn32s"], runs["val"], preds, "--last", capsys=capsys)
    assert code == 0, err
    assert len(list(preds.iterdir())) == len(list(runs["val"].glob("*_sat.jpg")))
    for mask in preds.iterdir():
        image = runs["val"] / mask.name.replace("_mask.png", "_sat.jpg")
        with Image.open(mask) as m, Image.open(image) as im:
            assert m.mode == "P" and m.size == im.size


def test_best_checkpoint_reproduces_the_best_epoch(runs, capsys):
    """A run directory without --last means its best checkpoint: the best row's mIoU."""
    run, preds = runs["fcn16s"], runs["tmp"] / "pred_best"
    best = json.loads((run / "metrics.json").read_text())["best"]
    code, _, err = call("predict", run, runs["val"], preds, "--batch-size", "3", "--no-progress", capsys=capsys)
    assert code == 0, err
    assert f"best_checkpoint_{best['epoch']}_" in err
    code, out, err = call("evaluate", preds, runs["val"], "--json", "--no-progress", capsys=capsys)
    assert code == 0, err
    assert json.loads(out)["miou"] == pytest.approx(best["val/mIoU"], abs=1e-6)


def test_flip_tta_writes_every_mask(runs, capsys):
    preds = runs["tmp"] / "pred_tta"
    code, out, err = call("predict", runs["fcn32s"], runs["val"], preds, "--tta", "flip", "--device", "cpu",
                          "--no-progress", capsys=capsys)
    assert code == 0, err
    assert len(list(preds.glob("*_mask.png"))) == len(list(runs["val"].glob("*_sat.jpg")))
    code, out, err = call("evaluate", preds, runs["val"], "--json", "--no-progress", capsys=capsys)
    assert code == 0 and 0 <= json.loads(out)["miou"] <= 1


def test_compare_table_and_plot(runs, capsys):
    out = runs["tmp"] / "compare"
    stdout, _ = run_cli("compare", runs["fcn32s"], runs["fcn16s"], "--out", out, capsys=capsys)
    md = (out / "compare.md").read_text()
    assert (out / "compare.png").stat().st_size > 10_000
    for text in (stdout, md):
        table = md_table(text, "epoch")
        assert table[0] == ["epoch", "FCN32s mIoU", "FCN16s mIoU"]
        by_label = {row[0]: row[1:] for row in table[1:]}
        h32, h16 = history(runs["fcn32s"]), history(runs["fcn16s"])
        for e in ("1", "2"):
            got = [float(v) for v in by_label[e]]
            want = [float(h32[int(e) - 1]["val/mIoU"]), float(h16[int(e) - 1]["val/mIoU"])]
            assert got == pytest.approx(want, abs=5e-5)
        assert [float(v) for v in by_label["final"]] == pytest.approx(
            [float(h32[-1]["val/mIoU"]), float(h16[-1]["val/mIoU"])], abs=5e-5)
        for col, h in enumerate((h32, h16)):
            best = max(h, key=lambda r: float(r["val/mIoU"]))
            assert float(by_label["best"][col]) == pytest.approx(float(best["val/mIoU"]), abs=5e-5)
            assert by_label["best epoch"][col] == best["epoch"]


def test_compare_labels_and_metric_options(runs, capsys):
    out = runs["tmp"] / "compare2"
    code, stdout, err = call("compare", runs["fcn32s"], runs["fcn16s"], "--labels", "base,skip",
                             "--metric", "pixel_acc", "--out", out, capsys=capsys)
    assert code == 0, err
    assert md_table(stdout, "epoch")[0] == ["epoch", "base pixel_acc", "skip pixel_acc"]
    code, _, err = call("compare", runs["fcn32s"], runs["fcn16s"], "--labels", "one", "--out", out, capsys=capsys)
    assert code == 2 and "--labels" in err and "expected 2" in err
    code, _, err = call("compare", runs["fcn32s"], runs["fcn16s"], "--metric", "accuracy", "--out", out,
                        capsys=capsys)
    assert code == 2 and "val/accuracy" in err


def test_report_gathers_the_whole_homework(runs, cls_run, capsys):
    """One classification and two segmentation runs: one document, classification first."""
    from ignite_zoo.engines.reports import plot_confusion

    plot_confusion([0, 1, 2, 1], [0, 1, 1, 1], [str(c) for c in range(10)], cls_run / "confusion_matrix.png")
    out = runs["tmp"] / "report"
    code, stdout, err = call("report", runs["fcn32s"], cls_run, runs["fcn16s"], "--out", out, capsys=capsys)
    assert code == 0, err
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    # every image the Markdown links exists; the HTML embeds them all and links nothing outside
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 9  # cls: curves, confusion; seg: 2 x (curves, grid, confusion), comparison
    for link in links:
        assert (out / link).is_file(), link
    srcs = re.findall(r"<img[^>]*src='([^']*)'", html)
    assert len(srcs) == len(links) and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<table>" in html and "Layer (type)" in html
    # the course's order: classification (its run), then segmentation (runs, then their comparison)
    cls_part, seg_part = md.split("\n## Classification\n", 1)[1].split("\n## Segmentation\n", 1)
    assert cls_part.index("### VGG16_BN") < cls_part.index("#### Architecture") < cls_part.index("Confusion matrix")
    assert "tools/tsne.py" in cls_part  # no t-SNE yet: the report says how to make it
    cls_final = history(cls_run)[-1]
    metrics = {row[0]: row[1:] for row in md_table(cls_part, "metric")[1:]}
    assert float(metrics["val/accuracy"][0]) == pytest.approx(float(cls_final["val/accuracy"]), abs=5e-5)
    settings = dict(md_table(cls_part, "setting")[1:])
    assert settings["backbone init"] == "random init" and settings["best checkpoint by"] == "accuracy (max)"
    order = [seg_part.index(h) for h in ("### FCN32s", "### FCN16s", "### Comparison: mIoU")]
    assert order == sorted(order)
    for head, label in (("fcn32s", "FCN32s"), ("fcn16s", "FCN16s")):
        section = seg_part.split(f"\n### {label}\n", 1)[1].split("\n### ", 1)[0]
        final = history(runs[head])[-1]
        iou = {row[0]: row[1] for row in md_table(section, "class")[1:]}
        assert float(iou["mIoU"]) == pytest.approx(float(final["val/mIoU"]), abs=5e-5)
        assert float(iou["Urban"]) == pytest.approx(float(final["val/IoU/Urban"]), abs=5e-5)
        assert "Total params:" in section and "Layer (type)" in section
        assert "at epochs 1, 2 (" in section  # the mask grid and the epochs it shows
        metrics = {row[0]: row[1:] for row in md_table(section, "metric")[1:]}
        assert float(metrics["val/pixel_acc"][0]) == pytest.approx(float(final["val/pixel_acc"]), abs=5e-5)
    comparison = seg_part.split("\n### Comparison: mIoU\n", 1)[1]
    table = md_table(comparison, "epoch")
    assert table[0] == ["epoch", "FCN32s mIoU", "FCN16s mIoU"]
    assert float(table[2][2]) == pytest.approx(float(history(runs["fcn16s"])[1]["val/mIoU"]), abs=5e-5)
    # a second report into the same folder replaces its own files; a run directory is never an output
    code, _, err = call("report", cls_run, "--out", out, capsys=capsys)
    assert code == 0, err
    assert "## Segmentation" not in (out / "report.md").read_text()
    code, _, err = call("report", cls_run, "--out", cls_run / "report", "--overwrite", capsys=capsys)
    assert code == 2 and "inside the input" in err and not (cls_run / "report").exists()


def test_user_errors_name_the_path(runs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = call("predict", runs["fcn32s"], empty, tmp_path / "o", capsys=capsys)
    assert code == 2 and str(empty) in err and "no images named as the 'synthetic_landcover' dataset" in err
    code, _, err = call("predict", tmp_path / "no_run", runs["val"], tmp_path / "o", capsys=capsys)
    assert code == 2 and "no_run" in err and "expected a run directory" in err
    code, _, err = call("predict", empty, runs["val"], tmp_path / "o", capsys=capsys)
    assert code == 2 and str(empty) in err and "not a run directory" in err
    for name in ("compare", "report"):
        code, _, err = call(name, runs["fcn32s"], tmp_path / "missing_run", "--out", tmp_path / "o", capsys=capsys)
        assert code == 2 and "missing_run" in err and "run directory" in err
    code, _, err = call("tsne", runs["fcn32s"], "--last", capsys=capsys)
    assert code == 2 and "classification" in err


@pytest.mark.parametrize("name", ["predict", "evaluate", "compare", "report", "tsne"])
def test_help_has_an_example_and_is_fast(name):
    proc = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "tools" / f"{name}.py"), "--help"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0
    assert "Examples:" in proc.stdout and f"python tools/{name}.py" in proc.stdout
    assert " torch" not in proc.stderr.replace("torch_", "")  # --help imports no torch
