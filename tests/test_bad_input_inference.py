"""Bad input to predict, evaluate, export and tsne as a user's shell sees it: exit code 2, one
``error:`` line naming the file, flag or value and what was expected, no traceback. The
tools run in this process through the CLI guard, as their ``__main__`` does."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_check import user_error
from tests.test_predict import SEG_TINY, make_run, write_images


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bad_inference")
    run = make_run(tmp / "run", overrides=(*SEG_TINY, "model.head.type=fcn32s"))
    images = write_images(tmp / "images", sizes=((32, 32),))
    junk = tmp / "junk.onnx"
    junk.write_bytes(b"not an onnx file")
    return {"tmp": tmp, "run": run, "images": images, "junk": junk}


@pytest.fixture
def fails(capsys):
    """``fails(tool, *args, expect=...)``: exit 2, one ``error:`` line holding every fragment."""

    def call(tool: str, *args: object, expect: tuple[str, ...]) -> str:
        return user_error(capsys, tool, *args, expect=expect)

    return call


def test_predict_into_the_input_folder(fails, setup):
    images = setup["images"]
    fails("predict", setup["run"], images, images, expect=(f"OUTPUT_DIR {images}: is inside the input",))
    assert not list(images.glob("*_mask.png"))


def test_predict_into_a_folder_of_other_files(fails, setup, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    fails("predict", setup["run"], setup["images"], tmp_path,
          expect=(f"OUTPUT_DIR {tmp_path}: holds files this tool did not write (notes.txt)", "--overwrite"))
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("flags, expect", [
    (("--tile", "0"), "--tile 0: expected a positive integer"),
    (("--tile", "64", "--overlap", "64"), "--overlap 64: expected less than --tile (64)"),
    (("--tile-above", "-1"), "--tile-above -1: expected 0 or more"),
])
def test_predict_bad_tiling_flags(fails, setup, flags, expect):
    fails("predict", setup["run"], setup["images"], setup["tmp"] / "out_flags", *flags, expect=(expect,))


def test_predict_with_a_missing_or_broken_onnx_file(fails, setup):
    missing = setup["tmp"] / "missing.onnx"
    fails("predict", missing, setup["images"], setup["tmp"] / "out_onnx", expect=(f"{missing}: not found",))
    fails("predict", setup["junk"], setup["images"], setup["tmp"] / "out_onnx",
          expect=(f"{setup['junk']}: cannot load the ONNX model",))


def test_export_bad_targets(fails, setup, tmp_path):
    existing = tmp_path / "model.onnx"
    existing.write_bytes(b"keep me")
    fails("export", setup["run"], "--onnx", existing, expect=(f"--onnx {existing}: exists", "--overwrite"))
    assert existing.read_bytes() == b"keep me"
    fails("export", setup["run"], "--onnx", tmp_path / "model.pt", expect=("expected a file name ending in .onnx",))
    fails("export", tmp_path / "nope", "--onnx", tmp_path / "new.onnx", expect=(f"{tmp_path / 'nope'}: not found",))
    assert not (tmp_path / "new.onnx").exists()


def test_evaluate_and_tsne_bad_numbers(fails, setup):
    fails("evaluate", setup["images"], setup["images"], "--batch-size", "0",
          expect=("--batch-size 0: expected a positive integer",))
    fails("tsne", setup["run"], "--perplexity", "0", expect=("--perplexity 0.0: expected a positive number",))
