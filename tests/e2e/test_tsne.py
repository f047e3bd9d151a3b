"""tools/tsne.py on a small digits run: the figures, the arrays, classes that separate in 2-D,
the accuracy the run recorded, and the report that picks the figures up."""
from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.helpers import call_tool

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "cls_vgg16_digits.yaml"

call = call_tool


@pytest.fixture(scope="module")
def cls_run(tiny_cls_run, tmp_path_factory) -> Path:
    """A copy of the shared digits run (tests/conftest.py's CLS_RUN: a narrow VGG16-BN at
    about 90% after 6 epochs), for tools/tsne.py to add its files to."""
    return tiny_cls_run.copy(tmp_path_factory.mktemp("e2e_cls") / "run")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tb_before(cls_run) -> dict[str, bytes]:
    """The run's TensorBoard files as training left them, before tools/tsne.py adds to them."""
    before = snapshot(cls_run / "tb")
    assert any(name.startswith("events.out.tfevents.") for name in before)
    return before


@pytest.fixture(scope="module")
def tsne_output(cls_run, tb_before) -> tuple[Path, SimpleNamespace]:
    """``tools/tsne.py RUN --last --threads 1`` through the CLI guard in this process (as its
    ``__main__`` runs it); its output captured as a finished process's would be."""
    from ignite_zoo.registry.cli import main_guard
    from tests.helpers import tool_module

    threads = torch.get_num_threads()
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main_guard(tool_module("tsne").main, [str(cls_run), "--last", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0, err.getvalue()[-3000:]
    return cls_run, SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_tsne_writes_figures_and_arrays(tsne_output):
    from PIL import Image

    run, proc = tsne_output
    for name in ("tsne.png", "confusion_matrix.png"):
        with Image.open(run / name) as im:
            assert im.format == "PNG" and min(im.size) >= 700
    data = np.load(run / "tsne.npz")
    n = len(data["labels"])
    assert n == 360  # the digits validation split
    assert data["features"].shape == (n, 256) and data["embedding"].shape == (n, 2)
    assert data["predictions"].shape == (n,) and list(data["class_names"]) == [str(c) for c in range(10)]
    assert np.isfinite(data["embedding"]).all()
    assert "features" in proc.stderr  # the progress bar of the extraction


def test_printed_accuracy_is_the_runs_validation_accuracy(tsne_output):
    run, proc = tsne_output
    with open(run / "history.csv") as f:
        last = list(csv.DictReader(f))[-1]
    m = re.search(r"validation accuracy: ([0-9.]+) \((\d+)/(\d+)\)", proc.stdout)
    assert m, proc.stdout
    data = np.load(run / "tsne.npz")
    acc = float(np.mean(data["predictions"] == data["labels"]))
    assert int(m.group(2)) / int(m.group(3)) == pytest.approx(acc)
    assert acc == pytest.approx(float(last["val/accuracy"]), abs=1e-6)


def test_classes_separate_in_the_embedding(tsne_output):
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    run, _ = tsne_output
    data = np.load(run / "tsne.npz")
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    knn = KNeighborsClassifier(n_neighbors=5)
    on_embedding = cross_val_score(knn, data["embedding"], data["labels"], cv=folds).mean()
    shuffled = cross_val_score(knn, data["embedding"], np.random.default_rng(0).permutation(data["labels"]),
                               cv=folds).mean()
    print(f"\nk-NN accuracy on the 2-D t-SNE embedding: {on_embedding:.3f} (shuffled labels: {shuffled:.3f}, "
          f"chance 0.1)")
    assert on_embedding > 0.5  # 10 classes: chance is 0.1
    assert on_embedding > shuffled + 0.3


def test_confusion_counts_are_the_bincount_counts():
    """scikit-learn's confusion_matrix counts what the earlier bincount formula counted,
    classes that never occur included."""
    from ignite_zoo.engines.reports.figures import confusion_counts

    rng = np.random.default_rng(0)
    k = 7
    y, p = rng.integers(0, k - 1, 500), rng.integers(0, k, 500)  # class 6 is never true
    old = np.bincount(y * k + p, minlength=k * k).reshape(k, k)
    new = confusion_counts(y, p, k)
    assert new.shape == (k, k) and new.dtype == np.int64 and (new == old).all() and new[6].sum() == 0


def _embedding(tb: Path, tag: str):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import ProjectorConfig

    config = text_format.Parse((tb / "projector_config.pbtxt").read_text(), ProjectorConfig())
    return config, next(e for e in config.embeddings if e.tensor_name.startswith(f"{tag}:"))


def test_tensorboard_gets_the_projector_embedding_and_the_figures(tsne_output, tb_before):
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, proc = tsne_output
    tb = run / "tb"
    data = np.load(run / "tsne.npz")
    _, emb = _embedding(tb, "tsne_features")
    assert emb.tensor_path == "00006/tsne_features/tensors.tsv"  # step = the checkpoint's epoch (--last: 6)
    tensors = np.loadtxt(tb / emb.tensor_path, delimiter="\t")
    np.testing.assert_allclose(tensors, data["features"], rtol=1e-5, atol=1e-5)
    rows = (tb / emb.metadata_path).read_text().splitlines()
    assert rows[0] == "class\tpredicted\tid" and len(rows) == len(data["labels"]) + 1
    names = list(data["class_names"])
    assert [r.split("\t")[:2] for r in rows[1:]] == [[names[y], names[q]]
                                                     for y, q in zip(data["labels"], data["predictions"])]
    acc = EventAccumulator(str(tb), size_guidance={"images": 0})
    acc.Reload()
    assert {"tsne/confusion_matrix", "tsne/tsne"} <= set(acc.Tags()["images"])
    assert "train/loss" in " ".join(acc.Tags()["scalars"])  # the training's events file is still read
    (image,) = acc.Images("tsne/confusion_matrix")
    with Image.open(run / "confusion_matrix.png") as im:
        assert (image.width, image.height) == im.size and image.step == 6
    after = snapshot(tb)
    assert all(after.get(name) == content for name, content in tb_before.items())  # nothing replaced
    assert "projector embedding tsne_features (step 6)" in proc.stdout


def test_recipe_and_checkpoint_form_gives_the_same_predictions(tsne_output, tmp_path, capsys):
    run, _ = tsne_output
    ckpt = max((run / "checkpoints").glob("last_checkpoint_*.pt"))
    first = snapshot(run / "tb")
    threads = torch.get_num_threads()
    try:
        code, out, err = call("tsne", "--recipe", RECIPE, "--checkpoint", ckpt, "--out", tmp_path, "--no-progress",
                              "--perplexity", "20", "--threads", "1", capsys=capsys)
    finally:
        torch.set_num_threads(threads)
    assert code == 0, err
    a, b = np.load(run / "tsne.npz"), np.load(tmp_path / "tsne.npz")
    assert (a["predictions"] == b["predictions"]).all() and (a["labels"] == b["labels"]).all()
    assert (tmp_path / "tsne.png").is_file() and (tmp_path / "confusion_matrix.png").is_file()
    # the checkpoint's run gets a second embedding beside the first, which stays as it was
    config, second = _embedding(run / "tb", "tsne_features_2")
    assert second.tensor_path == "00006/tsne_features_2/tensors.tsv" and len(config.embeddings) == 2
    _embedding(run / "tb", "tsne_features")
    after = snapshot(run / "tb")
    assert all(after[name] == content for name, content in first.items() if name != "projector_config.pbtxt")
    assert (b["confusion"] == a["confusion"]).all() and a["confusion"].sum() == len(a["labels"])


def test_tsne_user_errors(tmp_path, capsys):
    code, _, err = call("tsne", tmp_path / "nothing", capsys=capsys)
    assert code == 2 and "nothing" in err and "not found" in err
    code, _, err = call("tsne", capsys=capsys)
    assert code == 2 and "RUN_DIR" in err
    code, _, err = call("tsne", tmp_path, capsys=capsys)
    assert code == 2 and str(tmp_path) in err and "not a run directory" in err


def test_report_shows_tsne_and_confusion_matrix(tsne_output, tmp_path, capsys):
    run, _ = tsne_output
    code, _, err = call("report", run, "--out", tmp_path / "report", capsys=capsys)
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert any(link.endswith("_tsne.png") for link in links)
    assert any(link.endswith("_confusion_matrix.png") for link in links)
    assert all((tmp_path / "report" / link).is_file() for link in links)
    assert "val/accuracy" in md and "Per-class IoU" not in md
    assert "### VGG16_BN" in md
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(links)


@pytest.mark.parametrize("flags, fragment", [
    (["--perplexity", "nan"], "--perplexity nan: expected a positive number"),
    (["--perplexity", "inf"], "--perplexity inf: expected a positive number"),
    (["--seed", "-1"], "--seed -1: expected an integer from 0 to 4294967295"),
])
def test_tsne_flag_values_are_checked_before_any_work(tmp_path, capsys, flags, fragment):
    from tests.cli_check import user_error

    user_error(capsys, "tsne", tmp_path, *flags, expect=[fragment])


def test_tsne_out_naming_a_file_is_refused(tmp_path, capsys):
    from tests.cli_check import user_error

    (tmp_path / "taken").write_text("mine")
    user_error(capsys, "tsne", tmp_path, "--out", tmp_path / "taken", expect=[f"--out {tmp_path / 'taken'}: is a file"])
    assert (tmp_path / "taken").read_text() == "mine"


def test_tsne_recipe_of_another_task_is_refused(cls_run, capsys):
    from tests.cli_check import user_error
    from tests.helpers import DEMO

    ckpt = max((cls_run / "checkpoints").glob("last_checkpoint_*.pt"))
    user_error(capsys, "tsne", "--recipe", DEMO, "--checkpoint", ckpt, "--no-progress",
               expect=[f"--recipe {DEMO}: a segmentation recipe", "a classification model"])
