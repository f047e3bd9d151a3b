"""Bad input to tools/report.py, tools/compare.py and tools/summary.py, as a user types it:
exit code 2, one ``error:`` line naming the file, run, key or value, no traceback, nothing
written. Run directories are hand-written (tests/test_reports.py's make_run): no training.
The tools run in this process through the CLI guard, as their ``__main__`` does."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.cli_check import user_error
from tests.helpers import DEMO
from tests.test_reports import make_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bad_reports")
    out = {"tmp": tmp,
           "seg": make_run(tmp / "seg", "fcn32s", [0.3, 0.4]),
           "seg2": make_run(tmp / "seg2", "fcn8s", [0.35, 0.5]),
           "by_loss": make_run(tmp / "by_loss", "fcn8s", [0.35, 0.5], metric="loss"),
           "cls": make_run(tmp / "cls", "classifier", [0.5, 0.6], task="classification")}
    bad = make_run(tmp / "bad_recipe", "fcn8s", [0.1])
    recipe = yaml.safe_load((bad / "recipe.yaml").read_text())
    recipe["train"]["epoch"] = 3
    (bad / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    out["bad_recipe"] = bad
    empty = make_run(tmp / "no_epochs", "fcn8s", [0.1])
    (empty / "history.csv").write_text("epoch,train/loss\n")
    (empty / "metrics.json").unlink()
    out["no_epochs"] = empty
    foreign = tmp / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    out["foreign"] = foreign
    (tmp / "a_file").write_text("")
    return out


CASES = {
    "compare_tasks": ("compare", ["{seg}", "{cls}", "--out", "{tmp}/c1"],
                      ["{seg} (segmentation, mIoU)", "{cls} (classification, accuracy)"]),
    "compare_metrics": ("compare", ["{seg}", "{by_loss}", "--out", "{tmp}/c2"],
                        ["{seg} (segmentation, mIoU)", "{by_loss} (segmentation, loss)", "--metric"]),
    "compare_into_run": ("compare", ["{seg}", "{seg2}", "--out", "{seg}/cmp", "--overwrite"],
                         ["{seg}/cmp", "inside the input"]),
    "compare_foreign_out": ("compare", ["{seg}", "{seg2}", "--out", "{foreign}"],
                            ["{foreign}", "thesis.tex", "--overwrite"]),
    "compare_metric_column": ("compare", ["{seg}", "{seg2}", "--metric", "accuracy", "--out", "{tmp}/c3"],
                              ["--metric 'accuracy'", "val/accuracy"]),
    "report_out_file": ("report", ["{seg}", "--out", "{tmp}/a_file"], ["{tmp}/a_file", "is a file"]),
    "report_into_run": ("report", ["{cls}", "{seg}", "--out", "{cls}"], ["inside the input {cls}"]),
    "report_foreign_out": ("report", ["{seg}", "--out", "{foreign}"], ["{foreign}", "did not write"]),
    "report_labels": ("report", ["{seg}", "{cls}", "--labels", "one", "--out", "{tmp}/r1"], ["--labels", "expected 2"]),
    "report_bad_recipe": ("report", ["{bad_recipe}", "--out", "{tmp}/r2"],
                          ["{bad_recipe}/recipe.yaml", "train.epoch: unknown key", "epochs"]),
    "report_no_epochs": ("report", ["{no_epochs}", "--out", "{tmp}/r3"], ["{no_epochs}", "no epochs"]),
    "report_missing_run": ("report", ["{tmp}/missing", "--out", "{tmp}/r4"], ["{tmp}/missing", "not found"]),
    "summary_not_a_run": ("summary", ["{foreign}"], ["{foreign}", "no recipe.yaml"]),
    "summary_bad_override": ("summary", [str(DEMO), "model.hed.type=fcn8s"], ["model.hed", "did you mean 'head'"]),
    "summary_hub_override": ("summary", ["torchvision:vgg16", "model.head.type=fcn8s"],
                             ["model.head.type=fcn8s", "not torchvision:vgg16"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_exit_2(case, runs, capsys):
    tool, argv, expect = CASES[case]
    fill = {k: str(v) for k, v in runs.items()}
    argv = [a.format(**fill) for a in argv]
    before = {p for p in runs["tmp"].rglob("*")}
    user_error(capsys, tool, *argv, expect=[fragment.format(**fill) for fragment in expect], alone=True)
    assert {p for p in runs["tmp"].rglob("*")} == before  # nothing written, nothing removed
