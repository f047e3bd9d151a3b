"""``history.csv`` and ``metrics.json`` are replaced whole or not at all: a write that fails
half-way (a full disk, a crash) leaves the previous file as it was, and no temporary file."""
from __future__ import annotations

import os

import pytest

from ignite_zoo.engines.run_dir import RunDir


@pytest.mark.parametrize("kind", ["history", "summary"])
def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch, kind):
    run = RunDir(tmp_path)
    write = run.write_history if kind == "history" else run.write_summary
    first = [{"epoch": 1, "val/mIoU": 0.5}] if kind == "history" else {"best": 0.5}
    second = [{"epoch": 1, "val/mIoU": 0.5}, {"epoch": 2, "val/mIoU": 0.6}] if kind == "history" else {"best": 0.6}
    write(first)
    path = run.history_path if kind == "history" else run.summary_path
    before = path.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        write(second)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
