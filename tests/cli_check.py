"""What a user's shell sees after a mistake: the tools run in this process through
``main_guard`` (as their ``__main__`` does), and a user error must come back as exit code
2 and one line ``error: ...`` naming what was wrong, with no traceback and no hint."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

from ignite_zoo.registry.cli import main_guard
from tests.helpers import DEMO, REPO, tool_module



def load_tool(name: str) -> Any:
    return tool_module(name)


def user_error(capsys: Any, tool: str, *args: object, expect: Sequence[str] = (), alone: bool = False) -> str:
    """Run ``tools/<tool>.py args``; assert exit 2 and one ``error:`` line holding every
    fragment of ``expect``; returns that line. ``alone``: that line is all of stderr."""
    code = main_guard(load_tool(tool).main, [str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 2, f"tools/{tool}.py exited {code}, expected 2\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"
    assert "Traceback" not in err + out, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-3000:]  # the error is the last word
    assert "--debug" not in err, err  # a user error is the whole story: no hint
    if alone:
        assert lines == errors, err[-3000:]
    for fragment in expect:
        assert str(fragment) in errors[0], f"{fragment!r} not in the message:\n{errors[0]}"
    return errors[0]


def no_run_left(out_root: Path) -> None:
    """A run that failed before its first checkpoint leaves no run directory behind."""
    assert not list(Path(out_root).rglob("recipe.yaml")), list(Path(out_root).rglob("*"))
    assert not list(Path(out_root).rglob("*.pt")), list(Path(out_root).rglob("*"))


#: A plugin loss (named in ``imports:``) that, at training step ``ZOO_PAUSE_STEP``, writes
#: ``ZOO_PAUSE_FILE`` and sleeps: a run paused mid-epoch, for a test to signal or race.
PAUSE_PLUGIN = '''
import os
import time
from pathlib import Path

from ignite_zoo.registry import LOSSES
from ignite_zoo.zoo.losses import CrossEntropyLoss


@LOSSES.register("pausing_ce")
def pausing_ce(**kwargs):
    inner = CrossEntropyLoss(**kwargs)
    steps = [0]

    def loss(logits, target):
        if logits.requires_grad:  # a training step (pre-flight and validation logits carry no graph)
            steps[0] += 1
            if steps[0] == int(os.environ.get("ZOO_PAUSE_STEP", "0")):
                Path(os.environ["ZOO_PAUSE_FILE"]).write_text(str(os.getpid()))
                time.sleep(120)
        return inner(logits, target)

    return loss
'''


def start_paused_run(tmp: Path, step: int, *args: str) -> tuple[subprocess.Popen, Path]:
    """``tools/run.py DEMO args`` in a new process, paused at training step ``step``:
    (the process, once it has paused; the file it wrote when it did)."""
    (tmp / "zoo_test_pausing.py").write_text(PAUSE_PLUGIN)
    marker = tmp / f"paused_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(tmp), "PYTHONUNBUFFERED": "1",
           "ZOO_PAUSE_STEP": str(step), "ZOO_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen([sys.executable, str(REPO / "tools" / "run.py"), str(DEMO), *args,
                             "imports=[zoo_test_pausing]", "loss.type=pausing_ce"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO))
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"the run never paused (exit {proc.returncode}):\n{out[-2000:]}\n{err[-3000:]}")
        time.sleep(0.1)
    return proc, marker


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (hidden ones, such as a lock, included), by
    relative path: equal snapshots mean nothing was written, added or removed."""
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}
