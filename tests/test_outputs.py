"""engines.outputs.prepare_output_dir: the rule every tool's output folder follows."""
from __future__ import annotations

import pytest

from ignite_zoo.engines.outputs import prepare_output_dir
from ignite_zoo.registry.errors import RunError

OWNED = ("report.md", "figures")


def test_new_empty_and_own_folders_are_accepted(tmp_path):
    out = prepare_output_dir(tmp_path / "a" / "b", owned_names=OWNED)
    assert out.is_dir()
    (out / "report.md").write_text("old")
    (out / "figures").mkdir()
    assert prepare_output_dir(out, owned_names=OWNED) == out
    assert (out / "report.md").read_text() == "old"  # checking changes nothing


def test_a_users_file_with_an_output_name_is_not_taken_for_an_earlier_output(tmp_path):
    """A folder holding the user's own ``report.md`` (not written by a tool here) is refused."""
    (tmp_path / "report.md").write_bytes(b"the user's notes")
    with pytest.raises(RunError, match=r"holds files this tool did not write \(report\.md\)"):
        prepare_output_dir(tmp_path, owned_names=OWNED)
    assert (tmp_path / "report.md").read_bytes() == b"the user's notes"
    out = prepare_output_dir(tmp_path / "rep", owned_names=OWNED)
    (out / "report.md").write_bytes(b"written")
    assert prepare_output_dir(out, owned_names=OWNED) == out  # its own, remembered: accepted


def test_a_folder_without_memory_counts_every_file_as_someone_elses(tmp_path):
    """Predicted masks get no manifest (evaluation scripts read every file of that folder):
    any mask already there needs --overwrite, the user's own truth included."""
    out = prepare_output_dir(tmp_path / "preds", owned_names=["0010_mask.png"], remember=False)
    assert list(out.iterdir()) == []
    (out / "0010_mask.png").write_bytes(b"a mask")
    with pytest.raises(RunError, match=r"holds 1 mask\(s\) of the names this tool writes \(0010_mask\.png.*REPLACING "
                                       r"0010_mask\.png"):
        prepare_output_dir(out, owned_names=["0010_mask.png"], remember=False)
    assert prepare_output_dir(out, owned_names=["0010_mask.png"], remember=False, overwrite=True) == out
    assert list(p.name for p in out.iterdir()) == ["0010_mask.png"]


def test_foreign_files_need_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match=r"--out .*holds files this tool did not write \(notes\.txt\).*--overwrite"):
        prepare_output_dir(tmp_path, owned_names=OWNED)
    assert prepare_output_dir(tmp_path, owned_names=OWNED, overwrite=True) == tmp_path
    assert (tmp_path / "notes.txt").read_text() == "mine"
    for i in range(5):
        (tmp_path / f"x{i}").write_text("")
    with pytest.raises(RunError, match=r"notes\.txt, x0, x1 and 3 more"):
        prepare_output_dir(tmp_path, owned_names=OWNED, flag="OUT_DIR")


def test_inputs_are_never_outputs(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for out in (run, run / "report", run / "checkpoints" / "x"):
        with pytest.raises(RunError, match="inside the input"):
            prepare_output_dir(out, inputs=[run], owned_names=OWNED, overwrite=True)
        assert not (run / "report").exists()
    # an input file that an output name would replace
    (tmp_path / "report.md").write_text("given")
    with pytest.raises(RunError, match=r"would replace the input"):
        prepare_output_dir(tmp_path, inputs=[tmp_path / "report.md"], owned_names=OWNED, overwrite=True)
    # a folder beside the input is fine
    assert prepare_output_dir(tmp_path / "out", inputs=[run], owned_names=OWNED).is_dir()


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(RunError, match="is a file"):
        prepare_output_dir(tmp_path / "f", owned_names=OWNED, overwrite=True)


def test_relative_output_paths_are_resolved_before_the_input_check(tmp_path, monkeypatch):
    """As a person types them: ``imgs/preds`` (relative) against the input ``imgs`` given
    absolute, and an input reached through a symbolic link."""
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    (tmp_path / "link").symlink_to(imgs)
    monkeypatch.chdir(tmp_path)
    for out, given in (("imgs/preds", imgs), ("link/preds", imgs), ("imgs/preds", "link")):
        with pytest.raises(RunError, match="is inside the input"):
            prepare_output_dir(out, inputs=[given])
    assert not (imgs / "preds").exists()
