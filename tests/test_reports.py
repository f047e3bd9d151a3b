"""engines.reports on hand-written run directories: reading runs, labels, tables, figures, documents."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from ignite_zoo.engines import reports as R
from ignite_zoo.engines.metrics import MetricSpec, metric_spec
from ignite_zoo.registry.errors import RecipeError, RunError

SEG_CLASSES = ["Urban", "Agriculture", "Rangeland", "Forest", "Water", "Barren", "Unknown"]


def make_run(folder: Path, head: str, values: list[float], task: str = "segmentation", metric: str | None = None,
             weights: str | None = None, init: object = None) -> Path:
    """A run directory as tools/run.py writes it (recipe.yaml, history.csv, metrics.json)."""
    folder.mkdir(parents=True)
    recipe = {"task": task, "seed": 0,
              "model": {"backbone": {"type": "vgg16", "weights": weights},
                        "head": {"type": head, "num_classes": 7 if task == "segmentation" else 10},
                        "input_size": [3, 32, 32]},
              "data": {"type": "dlcv_sat", "root": "/data", "loader": {"batch_size": 8}},
              "train": {"epochs": len(values), "amp": "auto"},
              "eval": {"miou_classes": [0, 1, 2, 3, 4, 5], "metric": metric},
              "optim": {"type": "sgd", "lr": 0.01}, "loss": {"type": "cross_entropy"}, "sched": None}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    rows = []
    for e, m in enumerate(values, 1):
        row = {"epoch": e, "train/loss": 2.0 / e, "lr": 0.01}
        if task == "segmentation":
            row.update({f"val/IoU/{c}": round(m + 0.01 * i, 6) for i, c in enumerate(SEG_CLASSES)})
            row.update({"val/mIoU": m, "val/pixel_acc": min(1.0, m + 0.2), "val/loss": 1.0 - m / 2 + 0.1 * e})
        else:
            row.update({"val/accuracy": m, "val/top5": min(1.0, m + 0.3)})
        rows.append(row)
    keys = list(rows[0])
    lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in rows]
    (folder / "history.csv").write_text("\n".join(lines) + "\n")
    summary = {"epochs": rows, "final": rows[-1]}
    if init is not None:
        summary["init"] = init
    (folder / "metrics.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture()
def two_runs(tmp_path):
    a = make_run(tmp_path / "a", "fcn32s", [0.30, 0.45, 0.41])
    b = make_run(tmp_path / "b", "fcn16s", [0.35, 0.50])
    return [R.open_run(a), R.open_run(b)]


def parse_markdown_table(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in rows]
    return [cells[0]] + cells[2:]  # header, then body (the --- row dropped)


def test_open_run_validates_the_recipe_and_picks_the_best(two_runs):
    a, b = two_runs
    assert a.task == "segmentation" and a.metric == MetricSpec("mIoU", "max") and a.metric.key == "val/mIoU"
    assert a.final["epoch"] == 3 and a.best["epoch"] == 2 and a.best["val/mIoU"] == 0.45
    assert a.class_names == SEG_CLASSES and a.eval_classes == [0, 1, 2, 3, 4, 5]
    # the schema filled every key the file left out
    assert a.recipe["train"]["device"] == "auto" and a.recipe["eval"]["every"] == 1


def test_metric_spec_from_the_recipe(tmp_path):
    assert metric_spec({"task": "classification", "eval": {"metric": None}}) == MetricSpec("accuracy", "max")
    run = R.open_run(make_run(tmp_path / "l", "fcn8s", [0.2, 0.6, 0.5], metric="loss"))
    assert run.metric == MetricSpec("loss", "min")
    # val/loss is 1 - m/2 + 0.1 e: 1.0, 0.9, 1.05 -> epoch 2 is the lowest
    assert run.best["epoch"] == 2
    assert parse_markdown_table(R.metrics_table(run).markdown())[1][0] == "val/loss"


def test_open_run_errors_name_the_path(tmp_path):
    with pytest.raises(RunError, match="not found"):
        R.open_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match=r"empty.*recipe\.yaml"):
        R.open_run(tmp_path / "empty")
    bad = make_run(tmp_path / "bad", "fcn8s", [0.1])
    (bad / "recipe.yaml").write_text(yaml.safe_dump({"task": "segmentation", "data": {"type": "x"},
                                                     "model": {"backbone": {"type": "vgg16"}, "head": {"type": "a"}},
                                                     "train": {"epochs": 1, "epoch": 2}}))
    with pytest.raises(RunError, match=r"bad/recipe\.yaml: train\.epoch: unknown key"):
        R.open_run(bad)
    (bad / "recipe.yaml").write_text(yaml.safe_dump({"task": "segmentation"}))
    with pytest.raises(RunError, match=r"recipe\.yaml: data\.type: missing required key"):
        R.open_run(bad)


def test_default_labels_and_duplicates(tmp_path, two_runs):
    assert R.run_labels(two_runs) == ["FCN32s", "FCN16s"]
    c = R.open_run(make_run(tmp_path / "c", "fcn32s", [0.1]))
    assert R.run_labels([two_runs[0], c]) == ["FCN32s (a)", "FCN32s (c)"]
    assert R.run_labels(two_runs, "base,improved") == ["base", "improved"]
    with pytest.raises(RecipeError, match="expected 2"):
        R.run_labels(two_runs, "only-one")
    assert R.default_label({"model": {"backbone": {"type": "vgg16"}, "head": {"type": "classifier"}}}) == "VGG16"


def test_comparison_table_epoch_by_epoch_with_final_and_best(two_runs):
    table = R.comparison_table(two_runs, ["FCN32s", "FCN16s"], "val/mIoU")
    rows = parse_markdown_table(table.markdown())
    assert rows[0] == ["epoch", "FCN32s mIoU", "FCN16s mIoU"]
    assert rows[1:] == [["1", "0.3000", "0.3500"], ["2", "0.4500", "0.5000"], ["3", "0.4100", "-"],
                        ["final", "0.4100", "0.5000"], ["best", "0.4500", "0.5000"], ["best epoch", "2", "2"]]
    assert R.summary_table(table, ["FCN32s", "FCN16s"], "val/mIoU").rows == [["FCN32s", "0.4100", "0.4500", "2"],
                                                                              ["FCN16s", "0.5000", "0.5000", "2"]]


def test_comparable_metric(tmp_path, two_runs):
    assert R.comparable_metric(two_runs) == "val/mIoU"
    assert R.comparable_metric(two_runs, "pixel_acc") == "val/pixel_acc"
    assert R.comparable_metric(two_runs, "train/loss") == "train/loss"
    with pytest.raises(RecipeError, match="val/accuracy"):
        R.comparable_metric(two_runs, "accuracy")
    # a loss is better when lower
    table = R.comparison_table(two_runs, ["a", "b"], "train/loss")
    assert table.rows[-2] == ["best", "0.6667", "1.0000"]
    cls = R.open_run(make_run(tmp_path / "cls", "classifier", [0.5], task="classification"))
    with pytest.raises(RunError, match=r"a \(segmentation, mIoU\) with .*cls \(classification, accuracy\)"):
        R.comparable_metric([two_runs[0], cls])
    with pytest.raises(RunError, match="classification"):
        R.comparable_metric([two_runs[0], cls], "train/loss")  # another task: not even on a shared column
    by_loss = R.open_run(make_run(tmp_path / "by_loss", "fcn8s", [0.5, 0.6], metric="loss"))
    with pytest.raises(RunError, match=r"\(segmentation, mIoU\) with .*by_loss \(segmentation, loss\).*--metric"):
        R.comparable_metric([two_runs[0], by_loss])
    assert R.comparable_metric([two_runs[0], by_loss], "mIoU") == "val/mIoU"


def test_per_class_and_metrics_tables(tmp_path, two_runs):
    iou = parse_markdown_table(R.class_iou_table(two_runs[0]).markdown())
    assert iou[0][0] == "class" and "epoch 3" in iou[0][1] and "epoch 2" in iou[0][2]
    assert iou[1] == ["Urban", "0.4100", "0.4500"]
    assert iou[7][0] == "Unknown (not in mIoU)" and iou[8] == ["mIoU", "0.4100", "0.4500"]
    metrics = parse_markdown_table(R.metrics_table(two_runs[0]).markdown())
    assert metrics[1] == ["val/mIoU", "0.4100", "0.4500"]
    cls = R.open_run(make_run(tmp_path / "cls", "classifier", [0.5, 0.7], task="classification"))
    assert R.class_iou_table(cls) is None
    assert parse_markdown_table(R.metrics_table(cls).markdown())[1] == ["val/accuracy", "0.7000", "0.7000"]


def test_settings_say_what_the_backbone_started_from(tmp_path, two_runs):
    def init_of(run):
        return dict(R.recipe_table(run).rows)["backbone init"]

    assert init_of(two_runs[0]) == "random init"
    given = R.open_run(make_run(tmp_path / "w", "fcn8s", [0.1], weights="/models/vgg16-397923af.pth"))
    assert init_of(given) == "vgg16-397923af.pth"
    recorded = R.open_run(make_run(tmp_path / "r", "fcn8s", [0.1], weights="/models/vgg16-397923af.pth",
                                   init={"file": "/models/vgg16-397923af.pth", "sha256": "397923af8e79cdbb6a7127f12"}))
    assert init_of(recorded) == "vgg16-397923af.pth (sha256 397923af8e79)"
    assert dict(R.recipe_table(two_runs[0]).rows)["best checkpoint by"] == "mIoU (max)"


def test_number_format():
    assert R.fmt(0.123456) == "0.1235" and R.fmt(3) == "3" and R.fmt(None) == "-" and R.fmt(float("nan")) == "-"
    assert R.fmt(0.0) == "0.0000" and R.fmt(1.5e-5) == "1.5e-05"


def test_fifty_class_styles_are_distinct():
    styles = R.class_styles(50)
    keys = {(tuple(np.round(c, 4)), m) for c, m in styles}
    assert len(keys) == 50


def test_figures_are_report_sized_pngs(tmp_path, two_runs):
    from PIL import Image

    rng = np.random.default_rng(0)
    k = 50
    labels = np.repeat(np.arange(k), 6)
    emb = rng.normal(size=(len(labels), 2)) + 8 * np.stack([np.cos(labels), np.sin(labels * 1.3)], 1)
    preds = np.where(rng.random(len(labels)) < 0.8, labels, rng.integers(0, k, len(labels)))
    names = [f"c{i}" for i in range(k)]
    paths = [R.plot_tsne(emb, labels, names, tmp_path / "tsne.png"),
             R.plot_confusion(labels, preds, names, tmp_path / "cm.png"),
             R.plot_comparison(two_runs, ["FCN32s", "FCN16s"], "val/mIoU", tmp_path / "cmp.png"),
             R.plot_curves(two_runs[0], tmp_path / "curves.png")]
    for p in paths:
        with Image.open(p) as im:
            assert im.format == "PNG" and min(im.size) >= 500, (p, im.size)
    with Image.open(paths[1]) as im:  # 50 classes: the matrix grows so that labels stay legible
        assert min(im.size) >= 1500
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # save_figure closed every figure


def test_doc_markdown_links_and_self_contained_html(tmp_path, two_runs):
    (tmp_path / "figs").mkdir()
    fig = R.plot_curves(two_runs[0], tmp_path / "figs" / "c.png")
    doc = R.Doc("Title <&>")
    doc.heading("Section")
    doc.text("see `tools/run.py`")
    doc.table(R.Table(["a", "b|c"], [["1", "2"]]))
    doc.code("x < y")
    doc.image(fig, "curves")
    md = doc.markdown(tmp_path)
    assert "![curves](figs/c.png)" in md and "| a | b\\|c |" in md and "```\nx < y\n```" in md
    html = doc.html()
    assert "<code>tools/run.py</code>" in html and "x &lt; y" in html and "Title &lt;&amp;&gt;" in html
    srcs = re.findall(r"src='([^']*)'", html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_no_report_module_is_long():
    folder = Path(R.__file__).parent
    for module in folder.glob("*.py"):
        assert len(module.read_text().splitlines()) <= 300, module
