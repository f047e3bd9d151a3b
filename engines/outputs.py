"""Where tools write: never over their inputs, never over files a user made.

A tool that writes a folder of results checks the folder first. It refuses, unless the
user says ``--overwrite``:
  * a folder that is one of the tool's input folders, and
  * a folder that holds files this tool did not write.
A folder the tool wrote before carries a small marker file naming the tool, so running
the same command again just refreshes its results.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from registry.errors import DataError

MARKER = ".ignite-zoo-output"


def _written_by(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / MARKER).read_text()).get("tool"))
    except (OSError, ValueError, AttributeError):
        return None


def check_output_dir(out: Path, inputs: Sequence[Path], overwrite: bool, tool: str) -> Path:
    """Raise DataError naming ``out`` and ``--overwrite`` when it is an input folder
    (``inputs``: the folders the tool reads) or holds files ``tool`` did not write; a file
    in its place is always an error. Creates nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: output folder is a file; expected a folder (created if missing)")
    if overwrite:
        return out
    resolved = out.resolve()
    for given in inputs:
        if resolved == Path(given).resolve():
            raise DataError(f"{out}: output folder is the input folder {given}; writing there could "
                            "overwrite inputs: choose another folder (or pass --overwrite)")
    if out.is_dir() and _written_by(out) != tool:
        others = sorted(e.name for e in os.scandir(out) if e.name != MARKER)
        if others:
            shown = ", ".join(others[:5]) + (f" ... and {len(others) - 5} more" if len(others) > 5 else "")
            raise DataError(f"{out}: output folder holds {len(others)} file(s) that {tool} did not write "
                            f"({shown}); choose an empty or new folder (or pass --overwrite)")
    return out


def prepare_output_dir(out: Path, inputs: Sequence[Path], overwrite: bool, tool: str) -> Path:
    """``out`` checked (``check_output_dir``), created and marked as ``tool``'s."""
    out = check_output_dir(out, inputs, overwrite, tool)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text(json.dumps({"tool": tool}) + "\n")
    except OSError as e:
        raise DataError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    return out


def check_output_file(path: Path, inputs: Sequence[Path], overwrite: bool) -> Path:
    """``path`` for a single output file: never one of ``inputs``; an existing file only
    with ``overwrite``. Its folder is created."""
    path = Path(path)
    for given in inputs:
        if path.resolve() == Path(given).resolve():
            raise DataError(f"{path}: output file is the input {given}; choose another name")
    if path.is_dir():
        raise DataError(f"{path}: output file is a folder; expected a file name")
    if path.exists() and not overwrite:
        raise DataError(f"{path}: output file exists; choose another name (or pass --overwrite)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{path.parent}: cannot create the output folder ({e.strerror or e})") from None
    return path
