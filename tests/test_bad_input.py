"""Bad input through the command line: every mistake a user can make in a recipe, a data
folder, a checkpoint or a tool's arguments exits with code 2 and one message naming the
file, key or value and what was expected, with no traceback unless ``--debug``.

The tools are loaded from ``tools/`` and run in this process through ``main_guard`` (as
their ``__main__`` does); a few subprocess runs check the same end to end. The functions
behind these messages have their own unit tests (test_recipe, test_sat, test_cls_data, ...);
these tests are about what reaches the user.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import pytest

from ignite_zoo.registry.cli import main_guard
from tests.helpers import DEMO, REPO, run_tool, tiny_seg, tool_module
from ignite_zoo.zoo.data.masks import write_mask

SAT = REPO / "recipes" / "seg_fcn32s_vgg16_sat.yaml"
CLS = REPO / "recipes" / "cls_vgg16_dlcv.yaml"
#: small, fast settings for the real-data recipes (the data check fails before any model work)
TINY_SAT = ["model.backbone.width=0.125", "model.backbone.weights=null", "model.head.hidden=32", "data.loader.batch_size=2",
            "data.loader.num_workers=0", "data.train.transforms=[]", "handlers.progress=false",
            "handlers.tensorboard.enabled=false", "handlers.mask_snapshots.epochs=[]", "train.epochs=1"]
TINY_DEMO = ["train.epochs=1", "train.max_iters_per_epoch=1", "handlers.tensorboard.enabled=false",
             "handlers.mask_snapshots.epochs=[]", "train.threads=1"]


def _load_tool(name: str):
    return tool_module(name)


@pytest.fixture(scope="module")
def tools():
    return {name: _load_tool(name) for name in ("run", "evaluate", "predict", "summary")}


@pytest.fixture
def cli(tools, capsys):
    """``cli(tool, *args, expect=[...])``: exit code 2, every fragment in the one error message."""

    def call(tool: str, *args: object, expect: Sequence[str] = ()) -> str:
        code = main_guard(tools[tool].main, [str(a) for a in args])
        out, err = capsys.readouterr()
        assert code == 2, f"tools/{tool}.py exited {code}, expected 2\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"
        assert "Traceback" not in err, err[-3000:]
        assert "Traceback" not in out, out[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, err[-3000:]
        message = err[err.index("error: "):]
        for fragment in expect:
            assert str(fragment) in message, f"{fragment!r} not in the message:\n{message}"
        assert "--debug" not in err  # a user error's message is the whole story
        return message

    return call


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """A folder whose ``demo_data`` the synthetic dataset generates once for every test here."""
    return tmp_path_factory.mktemp("bad_input_demo")


@pytest.fixture(scope="module")
def demo_run(tiny_seg_run) -> Path:
    """A finished tiny FCN8s run (7 classes) to resume from: the shared one, read only."""
    return tiny_seg_run.dir


def no_run_left(out_root: Path) -> None:
    """A run that failed before its first checkpoint leaves no directory for resume=auto to find."""
    assert not list(out_root.rglob("recipe.yaml")), list(out_root.rglob("*"))


# --------------------------------------------------------------------------------------
# recipes
# --------------------------------------------------------------------------------------
def test_unknown_top_level_key_suggests_the_right_one(cli, tmp_path):
    recipe = tmp_path / "typo.yaml"
    recipe.write_text(f"_base_: {DEMO}\ntrainer: {{epochs: 2}}\n")
    cli("run", recipe, "--print-recipe", expect=["trainer: unknown key in the top level", "did you mean 'train'?"])


def test_unknown_section_key_suggests_the_right_one(cli):
    cli("run", DEMO, "train.epoch=3", "--print-recipe",
        expect=["train.epoch: unknown key in section 'train'", "did you mean 'epochs'?"])


def test_wrong_type_names_key_value_and_expected_type(cli):
    cli("run", DEMO, "train.epochs=three", "--print-recipe",
        expect=["train.epochs: expected an integer, got str 'three'"])


@pytest.mark.parametrize("override", ["train.epochs=0", "train.accum_steps=0", "train.threads=-1", "data.loader.batch_size=0",
                                      "train.max_iters_per_epoch=0",
                                      "handlers.checkpoint.keep_last=0"])
def test_counts_below_their_minimum(cli, override):
    key, value = override.split("=")
    message = cli("run", DEMO, override, "--print-recipe", expect=[f"{key}: expected an integer >=", f"got {value}"])
    if key in ("train.threads", "train.max_iters_per_epoch"):  # null is their other setting
        assert "or null" in message and "null:" in message, message


def test_a_value_the_component_refuses_names_the_key(cli, demo_dir):
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={demo_dir / 'runs_dropout'}"), "model.head.dropout=5",
        expect=["model.head.dropout: expected a probability in [0, 1), got 5"])
    no_run_left(demo_dir / "runs_dropout")


def test_unknown_head_suggests_the_registered_name(cli, demo_dir):
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={demo_dir / 'runs_head'}"), "model.head.type=fcn8",
        expect=["model.head.type: unknown head 'fcn8'", "did you mean 'fcn8s'?"])
    no_run_left(demo_dir / "runs_head")


def test_loss_argument_typo_lists_the_accepted_arguments(cli, demo_dir):
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={demo_dir / 'runs_loss'}"), "loss.ignore_indx=6",
        expect=["loss: loss 'cross_entropy'", "unexpected argument 'ignore_indx'", "did you mean 'ignore_index'",
                "accepted arguments:"])


def test_missing_data_root_for_dlcv_sat(cli, tmp_path):
    cli("run", SAT, *TINY_SAT, f"out.root={tmp_path / 'runs'}", expect=["no root folder given", "set data.root"])
    no_run_left(tmp_path / "runs")


def test_base_cycle_names_the_files(cli, tmp_path):
    (tmp_path / "a.yaml").write_text("_base_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_base_: a.yaml\n")
    cli("run", tmp_path / "a.yaml", expect=["_base_ cycle: a.yaml -> b.yaml -> a.yaml"])


@pytest.mark.parametrize("override, fragments", [
    ("train.epochs", ["override 'train.epochs'", "expected key.sub=value"]),
    ("train..epochs=3", ["'train..epochs' is not a dotted key path"]),
    ("train.epochs=[3", ["override 'train.epochs=[3'", "value is not valid YAML"]),
])
def test_bad_override_syntax(cli, override, fragments):
    cli("run", DEMO, override, "--print-recipe", expect=fragments)


def test_missing_recipe_file(cli, tmp_path):
    cli("run", tmp_path / "nope.yaml", expect=[f"recipe file not found: {tmp_path / 'nope.yaml'}"])


def test_yaml_syntax_error_names_the_file_and_line(cli, tmp_path):
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("task: segmentation\ndata: {type: dlcv_sat\n")
    cli("run", recipe, expect=[f"{recipe}: not valid YAML", "line 2"])


def test_fp16_on_cpu_is_refused(cli, demo_dir):
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={demo_dir / 'runs_fp16'}"),
        "train.device=cpu", "train.amp=fp16", expect=["train.amp: 'fp16' on CPU", "use 'bf16', 'auto' or false"])
    no_run_left(demo_dir / "runs_fp16")


def test_bad_transform_name_suggests_the_albumentations_one(cli, demo_dir):
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO), "data.train.transforms=[{type: HorizontalFlipp}]",
        f"out.root={demo_dir / 'runs_tf'}",
        expect=["data.train.transforms[0].type: unknown transform 'HorizontalFlipp'",
                "did you mean 'HorizontalFlip' (albumentations)"])


@pytest.mark.parametrize("ids, epochs, fragments", [
    ("[0010]", "[1]", ["handlers.mask_snapshots.ids", "quoted", "octal number 8"]),
    ('["0002"]', "[0]", ["handlers.mask_snapshots.epochs[0]", "expected an epoch number >= 1", "got 0"]),
])
def test_bad_snapshot_settings(cli, demo_dir, ids, epochs, fragments):
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO), f"handlers.mask_snapshots.ids={ids}",
        f"handlers.mask_snapshots.epochs={epochs}", f"out.root={demo_dir / 'runs_snap'}", expect=fragments)
    no_run_left(demo_dir / "runs_snap")


def test_miou_classes_outside_the_class_range(cli, demo_dir):
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO), "eval.miou_classes=[0, 9]", f"out.root={demo_dir / 'runs_m'}",
        expect=["eval.miou_classes: [9] are not class ids in 0..6"])


def test_debug_shows_the_traceback(tools, capsys):
    assert main_guard(tools["run"].main, [str(DEMO), "train.epoch=3", "--print-recipe", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "error: train.epoch: unknown key" in err


# --------------------------------------------------------------------------------------
# data folders
# --------------------------------------------------------------------------------------
def _image(path: Path, size: int = 32, seed: int = 0) -> None:
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8))


def make_sat(root: Path, n: int = 2, size: int = 32) -> Path:
    """``root/{train,validation}/NNNN_sat.jpg + NNNN_mask.png``: a small valid dataset."""
    for split in ("train", "validation"):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _image(folder / f"{i:04d}_sat.jpg", size, i)
            write_mask(folder / f"{i:04d}_mask.png", np.random.default_rng(i).integers(0, 6, (size, size)))
    return root


@pytest.fixture
def sat(tmp_path) -> Path:
    return make_sat(tmp_path / "sat")


def run_sat(cli, root: Path, *extra: str, expect: Sequence[str]) -> str:
    out_root = root.parent / "runs"
    message = cli("run", SAT, *TINY_SAT, f"data.root={root}", f"out.root={out_root}", *extra, expect=expect)
    no_run_left(out_root)
    return message


def test_missing_data_folder(cli, tmp_path):
    run_sat(cli, tmp_path / "no_such_data", expect=[f"dataset root {tmp_path / 'no_such_data'} is not found"])


def test_missing_split_folder_lists_the_folders_there(cli, sat):
    shutil.rmtree(sat / "train")
    run_sat(cli, sat, expect=[f"split folder {sat / 'train'} not found", "has the folders: validation"])


def test_empty_split(cli, sat):
    for f in (sat / "train").iterdir():
        f.unlink()
    run_sat(cli, sat, expect=[f"{sat / 'train'}: no image/mask pairs found", "NNNN_sat.jpg with NNNN_mask.png"])


def test_corrupt_image(cli, sat):
    bad = sat / "train" / "0001_sat.jpg"
    bad.write_bytes(b"this is not a JPEG")
    run_sat(cli, sat, expect=[f"{bad}: not a readable image"])


def test_truncated_jpeg_found_by_the_full_check(cli, sat):
    bad = sat / "validation" / "0000_sat.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    run_sat(cli, sat, "data.args.check=full", expect=[str(bad), "truncated"])


def test_truncated_jpeg_read_in_a_dataloader_worker_is_one_line(cli, tmp_path):
    """Not caught by the (default) header check nor by the pre-flight (which reads the first
    batch only): the worker that reads it reports the file, not a traceback."""
    sat = make_sat(tmp_path / "sat", n=4)
    bad = sat / "train" / "0003_sat.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    message = run_sat(cli, sat, "data.loader.num_workers=1", "train.threads=1",
                      expect=[str(bad), "truncated", "(in DataLoader worker process 0)"])
    assert "Original Traceback" not in message and "File " not in message


def test_mask_colour_outside_the_palette_under_strict(cli, sat):
    bad = sat / "validation" / "0001_mask.png"
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:2, :3] = (0, 0, 255)  # BGR red: 6 pixels
    cv2.imwrite(str(bad), rgb)
    run_sat(cli, sat, "data.args.strict=true", "data.args.check=full",
            expect=[str(bad), "6 red (255, 0, 0) pixels of a colour that is no class",
                    "expected only the 7 class colours"])


def test_image_and_mask_sizes_differ(cli, sat):
    write_mask(sat / "train" / "0001_mask.png", np.zeros((16, 24), np.int64))
    run_sat(cli, sat, expect=["differ in size (WxH)", "0001_sat.jpg is 32x32 but 0001_mask.png is 24x16"])


def test_mask_without_an_image(cli, sat):
    write_mask(sat / "train" / "0007_mask.png", np.zeros((32, 32), np.int64))
    run_sat(cli, sat, expect=["1 mask(s) without an image", "0007_mask.png"])


def test_duplicate_ids(cli, sat):
    _image(sat / "validation" / "0001_sat.png")
    run_sat(cli, sat, expect=["more than one file", "0001_sat.jpg and 0001_sat.png"])


def test_dlcv_cls_file_name_that_does_not_parse(cli, tmp_path):
    for split in ("train_50", "val_50"):
        (tmp_path / split).mkdir()
        for name in ("0_1.png", "1_2.png"):
            _image(tmp_path / split / name, 8)
    _image(tmp_path / "train_50" / "cat.png", 8)
    runs = tmp_path.parent / f"{tmp_path.name}_runs"  # runs never go inside data.root
    cli("run", CLS, f"data.root={tmp_path}", f"out.root={runs}", "data.loader.num_workers=0",
        "handlers.progress=false", "model.backbone.width=0.125", "model.backbone.weights=null",
        expect=["1 file name(s) do not parse as <class>_<index>.png", "cat.png", str(tmp_path / "train_50")])
    no_run_left(runs)


# --------------------------------------------------------------------------------------
# checkpoints and resume
# --------------------------------------------------------------------------------------
def test_resume_from_a_path_that_does_not_exist(cli, tmp_path):
    missing = tmp_path / "runs" / "last_checkpoint_9.pt"
    cli("run", DEMO, f"resume={missing}", expect=[f"resume={missing}: checkpoint file not found",
                                                  "expected 'auto', a run directory or a .pt file"])


def test_resume_from_a_run_directory_without_checkpoints(cli, tmp_path):
    cli("run", DEMO, f"resume={tmp_path}", expect=[f"resume={tmp_path}: no checkpoints/last_*.pt"])


def test_resume_with_another_head_width_lists_the_mismatched_keys(cli, tiny_seg_run, demo_run):
    cli("run", DEMO, *tiny_seg_run.args, "model.head.hidden=16", "train.epochs=2",
        f"resume={demo_run}",
        expect=[f"resume checkpoint {demo_run / 'checkpoints' / 'last_checkpoint_1.pt'} does not fit this model",
                "shape mismatches: ", "(32, ", "vs model (16, "])


@pytest.mark.parametrize("content", [b"not a checkpoint at all", "half"])
def test_corrupt_checkpoint_file(cli, demo_dir, demo_run, tmp_path, content):
    bad = tmp_path / "checkpoints" / "last_checkpoint_1.pt"
    bad.parent.mkdir()
    good = (demo_run / "checkpoints" / "last_checkpoint_1.pt").read_bytes()
    bad.write_bytes(good[: len(good) // 2] if content == "half" else content)
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO), f"resume={bad}",
        expect=[f"{bad}: not a checkpoint", "truncated, corrupt or another kind of file"])


# --------------------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------------------
@pytest.fixture
def masks(tmp_path) -> tuple[Path, Path]:
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    for folder, ids in ((pred, (0, 1, 5)), (truth, (0, 1, 2))):
        folder.mkdir()
        for i in ids:
            write_mask(folder / f"{i:04d}_mask.png", np.zeros((8, 8), np.int64))
    return pred, truth


def test_evaluate_with_unmatched_ids_names_them(cli, masks):
    pred, truth = masks
    cli("evaluate", pred, truth, "--no-progress",
        expect=["ids do not match", f"1 prediction(s) without ground truth in {truth}: 0005",
                f"1 ground-truth mask(s) without a prediction in {pred}: 0002"])


def test_evaluate_with_a_missing_folder(cli, masks, tmp_path):
    cli("evaluate", tmp_path / "nope", masks[1], expect=[f"{tmp_path / 'nope'}: prediction folder is not found"])


def test_evaluate_with_bad_classes(cli, masks):
    cli("evaluate", masks[1], masks[1], "--classes", "0,9", expect=["--classes '0,9'", "distinct class ids 0-6"])


def test_evaluate_prediction_of_another_size(cli, masks):
    pred, truth = masks
    (pred / "0005_mask.png").rename(pred / "0002_mask.png")
    write_mask(pred / "0001_mask.png", np.zeros((4, 8), np.int64))
    cli("evaluate", pred, truth, "--no-progress",
        expect=[f"{pred / '0001_mask.png'}: prediction is 8x4 but its ground truth", "is 8x8"])


def test_predict_with_a_missing_checkpoint(cli, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    _image(images / "0000_sat.jpg", 8)
    cli("predict", tmp_path / "nope.pt", images, tmp_path / "out",
        expect=[f"{tmp_path / 'nope.pt'}: not found", "expected a run directory"])


def test_predict_with_a_folder_without_images(cli, masks, tmp_path):
    from tests.test_predict import SEG_TINY, make_run

    run = make_run(tmp_path / "run", overrides=(*SEG_TINY, "model.head.type=fcn32s"))
    cli("predict", run, masks[1], tmp_path / "out",
        expect=[f"{masks[1]}: no images named as the 'synthetic_landcover' dataset names them",
                "it holds 0000_mask.png, 0001_mask.png, 0002_mask.png", "written as <id>_mask.png"])


def test_summary_with_a_bad_input_size(cli):
    cli("summary", DEMO, "--input", "3,x", expect=["--input '3,x'", "positive integers C,H,W"])


# --------------------------------------------------------------------------------------
# end to end: what a user's shell sees
# --------------------------------------------------------------------------------------
def _assert_clean_failure(proc, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr[-3000:]


def test_subprocess_recipe_typo():
    proc = run_tool("run", DEMO, "train.epoch=3", check=False, timeout=120)
    _assert_clean_failure(proc, "error: train.epoch: unknown key in section 'train'; did you mean 'epochs'?")


@pytest.mark.slow
def test_subprocess_truncated_image_in_a_worker(tmp_path):
    sat = make_sat(tmp_path / "sat", n=4)
    bad = sat / "train" / "0003_sat.jpg"  # after the first batch, which the pre-flight reads in this process
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    proc = run_tool("run", SAT, *TINY_SAT, f"data.root={sat}", f"out.root={tmp_path / 'runs'}",
                    "data.loader.num_workers=1", "train.threads=1", check=False, timeout=180)
    _assert_clean_failure(proc, f"error: {bad}", "(in DataLoader worker process 0)")
    assert "Original Traceback" not in proc.stderr
    no_run_left(tmp_path / "runs")


def test_subprocess_evaluate_unmatched_ids(masks):
    pred, truth = masks
    proc = run_tool("evaluate", pred, truth, "--no-progress", check=False, timeout=120)
    _assert_clean_failure(proc, "error: ids do not match")
    assert proc.stdout == ""


# ======================================================================================
# Reliability, round 2: plugins that fail to import, weights files that are not state
# dicts, and more mistakes of every kind; each exits 2 with one line naming what was wrong
# ======================================================================================
BROKEN_PLUGINS = {
    "zoo_broken_runtime": ('raise RuntimeError("plugin is broken")\n', ["RuntimeError: plugin is broken"]),
    "zoo_broken_syntax": ("def head(:\n    pass\n", ["SyntaxError: invalid syntax", "zoo_broken_syntax.py, line 1"]),
    "zoo_broken_import": ("from os import not_a_name\n", ["ImportError: cannot import name 'not_a_name'"]),
    "zoo_broken_needs": ("import zoo_no_such_dependency\n", ["needs module 'zoo_no_such_dependency'",
                                                              "not installed"]),
}


@pytest.fixture(scope="module")
def plugin_dir(demo_dir) -> Path:
    """A recipe beside modules that raise while being imported."""
    folder = demo_dir / "plugins"
    folder.mkdir()
    for module, (source, _) in BROKEN_PLUGINS.items():
        (folder / f"{module}.py").write_text(source)
    (folder / "recipe.yaml").write_text(f"_base_: {DEMO}\n")
    return folder


@pytest.mark.parametrize("module", list(BROKEN_PLUGINS))
def test_a_plugin_that_raises_while_importing_is_one_line_naming_module_and_exception(cli, demo_dir, plugin_dir,
                                                                                      module):
    out_root = demo_dir / f"runs_{module}"
    cli("run", plugin_dir / "recipe.yaml", *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={out_root}"),
        f"imports=[{module}]", expect=[f"imports[0]:", f"module {module!r}", *BROKEN_PLUGINS[module][1]])
    no_run_left(out_root)


def test_debug_shows_a_broken_plugins_own_traceback(tools, capsys, demo_dir, plugin_dir):
    args = [str(plugin_dir / "recipe.yaml"), *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={demo_dir / 'runs_dbg'}"),
            "imports=[zoo_broken_runtime]", "--debug"]
    assert main_guard(tools["run"].main, args) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise RuntimeError("plugin is broken")' in err, err[-3000:]
    assert "error: imports[0]: importing module 'zoo_broken_runtime' failed" in err


def test_a_broken_entry_point_plugin_is_named_when_its_name_is_asked_for(cli, demo_dir, plugin_dir, monkeypatch):
    import importlib.metadata as metadata
    import sys

    import ignite_zoo.registry.plugins as plugins

    monkeypatch.syspath_prepend(str(plugin_dir))
    ep = metadata.EntryPoint(name="broken_pkg", value="zoo_broken_syntax", group=plugins.ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata, "entry_points",
                        lambda group=None, **kw: [ep] if group == plugins.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    monkeypatch.delitem(sys.modules, "zoo_broken_syntax", raising=False)
    with pytest.warns(RuntimeWarning, match="broken_pkg"):
        cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={demo_dir / 'runs_ep'}"),
            "model.head.type=broken_pkg_head",
            expect=["model.head.type: unknown head 'broken_pkg_head'", "plugins that failed to load",
                    "broken_pkg (zoo_broken_syntax): SyntaxError"])
    plugins.failed_entry_points.clear()


class NotATensor:
    """Pickled into a weights file, which then holds a Python object, not only tensors."""


@pytest.fixture(scope="module")
def bad_weights(demo_dir) -> dict[str, Path]:
    import torch

    files = {"text": demo_dir / "weights.txt", "object": demo_dir / "object.pth", "list": demo_dir / "list.pth"}
    files["text"].write_text("these are not weights\n")
    torch.save({"features.0.weight": NotATensor()}, files["object"])
    torch.save([1.0, 2.0, 3.0], files["list"])
    return files


@pytest.mark.parametrize("kind, fragments", [
    ("text", ["not a torch weights file", "expected a state dict file (torch.save(model.state_dict(), path))"]),
    ("object", ["holds pickled Python objects, not only tensors", "expected a state dict file"]),
    ("list", ["expected a state dict (parameter name -> tensor), got list"]),
])
def test_backbone_weights_that_are_not_a_state_dict(cli, demo_dir, bad_weights, kind, fragments):
    out_root = demo_dir / f"runs_w_{kind}"
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={out_root}"), "model.backbone.width=1.0",
        f"model.backbone.weights={bad_weights[kind]}", expect=[str(bad_weights[kind]), *fragments])
    no_run_left(out_root)


def _files(demo_dir: Path) -> Path:
    folder = demo_dir / "files"
    folder.mkdir(exist_ok=True)
    (folder / "a_file.txt").write_text("a file, not a folder\n")
    (folder / "list.yaml").write_text("- task\n- data\n")
    (folder / "empty.yaml").write_text("")
    (folder / "base_missing.yaml").write_text("_base_: nowhere.yaml\n")
    return folder


#: (tool, arguments, fragments of the one error line); {files} is a folder of odd files,
#: TINY means the tiny demo settings with an out.root of the case's own
MORE_CASES = {
    "imports_not_a_name": ("run", ["TINY", "imports=[3]"], ["imports[0]: expected a module name (str), got 3"]),
    "imports_missing": ("run", ["TINY", "imports=[zoo_no_such_plugin]"],
                        ["imports[0]: cannot import module 'zoo_no_such_plugin'", "beside the recipe"]),
    "unknown_optimizer": ("run", ["TINY", "optim.type=adamm"], ["optim.type: unknown optimizer 'adamm'",
                                                                "did you mean 'adam'?"]),
    "unknown_scheduler": ("run", ["TINY", "sched.type=polyy"], ["sched.type: unknown scheduler 'polyy'"]),
    "unknown_loss": ("run", ["TINY", "loss.type=crossentropy"], ["loss.type: unknown loss 'crossentropy'",
                                                                 "did you mean 'cross_entropy'?"]),
    "unknown_backbone": ("run", ["TINY", "model.backbone.type=vgg17"], ["model.backbone.type: unknown backbone 'vgg17'"]),
    "section_as_scalar": ("run", ["TINY", "model=3", "--print-recipe"], ["model: expected a section (mapping), got int 3"]),
    "metric_of_another_task": ("run", ["TINY", "eval.metric=accuracy"],
                               ["eval.metric='accuracy'", "a segmentation run computes mIoU"]),
    "unknown_handler": ("run", ["TINY", "handlers.my_handler=true"],
                        ["handlers.my_handler: unknown handler 'my_handler'", "registered handlers: checkpoint"]),
    "zero_processes": ("run", ["TINY", "train.nproc_per_node=0", "--print-recipe"],
                       ["train.nproc_per_node: expected an integer >= 1, got 0"]),
    "negative_workers": ("run", ["TINY", "data.loader.num_workers=-1", "--print-recipe"],
                         ["data.loader.num_workers: expected an integer >= 0, got -1"]),
    "zero_val_batch": ("run", ["TINY", "data.loader.val_batch_size=0", "--print-recipe"],
                       ["data.loader.val_batch_size: expected an integer >= 1 or null, got 0"]),
    "transform_argument_typo": ("run", ["TINY", "data.train.transforms=[{type: HorizontalFlip, pp: 0.5}]"],
                                ["data.train.transforms[0] (HorizontalFlip)", "unexpected keyword argument 'pp'",
                                 "accepted: p"]),
    "miou_classes_not_a_list": ("run", ["TINY", "eval.miou_classes=all"],
                                ["eval.miou_classes: expected a list or null, got str 'all'"]),
    "amp_unknown": ("run", ["TINY", "train.amp=fp8", "--print-recipe"], ["train.amp: expected one of", "got 'fp8'"]),
    "keep_best_negative": ("run", ["TINY", "handlers.checkpoint.keep_best=-1", "--print-recipe"],
                           ["handlers.checkpoint.keep_best: expected an integer >= 0, got -1"]),
    "weights_file_missing": ("run", ["TINY", "model.backbone.weights={files}/nope.pth"],
                             ["model.backbone.weights: file not found: {files}/nope.pth"]),
    "resume_from_a_recipe_file": ("run", ["TINY", f"resume={DEMO}"],
                                  [f"{DEMO}: not a checkpoint", "expected a .pt file"]),
    "out_dir_is_a_file": ("run", ["TINY", "out.dir={files}/a_file.txt"],
                          ["out.dir={files}/a_file.txt: is a file; expected a folder for the run"]),
    "data_root_is_a_file": ("run", ["TINY", "data.root={files}/a_file.txt"],
                            ["root {files}/a_file.txt is a file, expected a folder"]),
    "recipe_is_a_list": ("run", ["{files}/list.yaml"], ["{files}/list.yaml: a recipe must be a mapping of sections",
                                                        "got list"]),
    "recipe_is_empty": ("run", ["{files}/empty.yaml"], ["task: missing required key"]),
    "base_not_found": ("run", ["{files}/base_missing.yaml"],
                       ["{files}/base_missing.yaml: _base_ file not found: {files}/nowhere.yaml"]),
    "recipe_is_a_folder": ("run", ["{files}"], ["recipe file not found: {files}"]),
    "summary_zero_size": ("summary", [str(DEMO), "--input", "3,0,32"], ["--input '3,0,32'", "positive integers"]),
    "evaluate_file_as_folder": ("evaluate", ["{files}/a_file.txt", "{files}/a_file.txt"],
                                ["{files}/a_file.txt: prediction folder is a file", "expected a folder"]),
}


@pytest.mark.parametrize("case", list(MORE_CASES))
def test_more_bad_input_is_one_line_naming_what_was_wrong(cli, demo_dir, case):
    tool, args, fragments = MORE_CASES[case]
    files = _files(demo_dir)
    out_root = demo_dir / f"runs_more_{case}"
    argv: list[str] = []
    for a in args:
        argv += [str(DEMO), *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={out_root}")] if a == "TINY" \
            else [a.replace("{files}", str(files))]
    cli(tool, *argv, expect=[f.replace("{files}", str(files)) for f in fragments])
    if tool == "run":
        no_run_left(out_root)


def test_cuda_asked_for_without_cuda(cli, demo_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    cli("run", DEMO, *tiny_seg(demo_dir, *TINY_DEMO, f"out.root={demo_dir / 'runs_cuda'}"), "train.device=cuda",
        expect=["train.device: 'cuda' asked for, but CUDA is not available here", "use 'auto' or 'cpu'"])
    no_run_left(demo_dir / "runs_cuda")
