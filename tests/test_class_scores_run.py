"""A tiny segmentation run carries every per-class score to history, metrics.json,
TensorBoard, the console, the confusion figure and the report; one class score ranks it."""
from __future__ import annotations

import json

import pytest

from ignite_zoo.engines.launch import run_experiment
from ignite_zoo.engines.reports import open_run, write_report
from ignite_zoo.engines.run_dir import RunDir
from ignite_zoo.registry.recipe import load_recipe
from tests.helpers import DEMO, tiny_seg


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scores")
    recipe = load_recipe(DEMO, tiny_seg(tmp, "train.epochs=1", "data.args.n=8", f"out.dir={tmp / 'run'}",
                                        "eval.metric=val/F1/Rangeland", "handlers.mask_snapshots=false"))
    return run_experiment(recipe)


def test_scores_reach_history_summary_and_tensorboard(scored_run):
    run = RunDir(scored_run)
    row = run.history()[-1]
    for score in ("IoU", "F1", "precision", "recall"):
        assert isinstance(row[f"val/{score}/Urban"], float)
        assert row[f"val/{score}/Unknown"] is None  # not scored, not 0.0
    assert {"val/mF1", "val/fwIoU", "val/pixel_acc"} <= set(row)
    summary = json.loads((scored_run / "metrics.json").read_text())
    assert summary["metric"] == "val/F1/Rangeland" and summary["final"]["val/F1/Unknown"] is None
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(run.tb_dir)).Reload().Tags()["scalars"]
    assert {"val/F1/Urban", "val/precision/Water", "val/recall/Barren", "val/fwIoU"} <= set(tags)
    assert "val/IoU/Unknown" not in tags
    counts = json.loads((scored_run / "confusion_matrix.json").read_text())
    assert (scored_run / "confusion_matrix.png").stat().st_size > 0 and len(counts["counts"]) == 7


def test_report_shows_scores_and_confusion(scored_run, tmp_path):
    md, _ = write_report([scored_run], tmp_path / "report", architecture=False)
    text = md.read_text()
    assert "Per-class scores" in text and "not scored" in text and "Confusion matrix" in text
    unknown = [line for line in text.splitlines() if line.startswith("| Unknown")]
    assert unknown and all("0.0000" not in line for line in unknown)
    assert open_run(scored_run).metric.key == "val/F1/Rangeland"
