"""Tiny recipe settings shared by the engine and end-to-end tests (seconds per run on 2 cores)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "recipes" / "seg_demo.yaml"

#: FCN32s on 32x32 generated tiles with a 1/8-width VGG16: the whole pipeline in seconds.
TINY_SEG = [
    "model.backbone.width=0.125", "model.head.hidden=32", "data.args.size=32", "data.args.n=16",
    "data.loader.batch_size=2", "handlers.progress=false", "train.log_every=1",
]


def tiny_seg(tmp: Path, *extra: str) -> list[str]:
    return [*TINY_SEG, f"data.root={tmp / 'demo_data'}", *extra]


def run_tool(tool: str, *args: str, check: bool = True, timeout: float = 300, env: dict | None = None
             ) -> subprocess.CompletedProcess:
    """``python tools/<tool>.py args...`` as a user would run it."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run([sys.executable, str(REPO / "tools" / f"{tool}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=full_env, cwd=str(REPO))
    if check and proc.returncode != 0:
        raise AssertionError(f"tools/{tool}.py failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def tool_module(name: str):
    """A tool's module (``ignite_zoo.tools``), to call its ``main`` in-process: one import
    of torch for many calls."""
    return importlib.import_module(f"ignite_zoo.tools.{name.replace('-', '_')}")


def run_here(tool: str, *argv, check: bool = True) -> subprocess.CompletedProcess:
    """``tools/<tool>.py argv`` through the CLI guard in this process, as its ``__main__``
    runs it, with stdout and stderr captured (for module-scoped fixtures, which have no
    capsys): what ``run_tool`` returns, without a fresh Python and its imports."""
    import contextlib
    import io

    import torch

    from ignite_zoo.registry.cli import main_guard

    args = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()  # train.threads is process-wide
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main_guard(tool_module(tool).main, args)
    finally:
        torch.set_num_threads(threads)
    proc = subprocess.CompletedProcess([f"tools/{tool}.py", *args], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"tools/{tool}.py failed ({code}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def call_tool(name: str, *argv, capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a tool's ``main`` through the CLI's error guard."""
    from ignite_zoo.registry.cli import main_guard

    code = main_guard(tool_module(name).main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
