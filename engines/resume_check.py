"""Resume continues the training a checkpoint holds; settings that would change that
training are refused, naming each, before anything is written.

A checkpoint restores the optimizer's and the scheduler's state. A recipe that changes
what they are (another optimizer, another lr, another schedule) would be overruled by the
restored state while ``recipe.yaml`` recorded the new values, or break mid-run (SGD fed
Adam's state has no ``momentum``). A longer ``train.epochs`` under a schedule whose length
is the run's (poly, cosine, torch's with ``total_iters``/``T_max``/``total_steps``) would
train the new epochs at the old schedule's end, lr 0. So the new recipe is compared with
the checkpoint's, key by key: only settings of how the run is carried out (``FREE``) may
differ, and ``train.epochs`` where the schedule does not span the run.
"""
from __future__ import annotations

import inspect
from typing import Any, Mapping

from ignite_zoo.registry.errors import RunError

#: key paths (and everything under them) that say how a run is carried out, not what it trains
FREE = (
    "resume", "imports", "out", "handlers", "data.root", "data.loader.num_workers", "data.loader.pin_memory",
    "data.loader.persistent_workers", "data.loader.prefetch_factor", "data.loader.val_batch_size",
    "train.device", "train.threads", "train.compile", "train.channels_last", "train.log_every", "train.amp",
    "train.deterministic", "train.nproc_per_node", "eval.every", "eval.mode", "eval.tile", "eval.overlap",
    "eval.tile_above",
)
#: schedules by this project's names whose length does not depend on the run's
_LENGTH_FREE = ("constant", "step")
_SHOWN = 3
_MISSING = object()


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": leaf}`` for every leaf of nested mappings (a list is a leaf)."""
    if isinstance(node, Mapping) and node:
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


def _free(path: str) -> bool:
    return any(path == f or path.startswith(f + ".") for f in FREE)


def schedule_spans_run(sched: Mapping[str, Any] | None) -> bool:
    """Whether this schedule's length is the run's length (so more epochs change it)."""
    if not sched or sched.get("type") in _LENGTH_FREE:
        return False
    from torch.optim import lr_scheduler

    cls = getattr(lr_scheduler, str(sched.get("type")), None)
    if isinstance(cls, type):
        accepted = inspect.signature(cls).parameters
        return any(k in accepted and sched.get(k) is None for k in ("total_iters", "T_max", "total_steps"))
    return True  # poly, cosine, or a plugin's schedule: assume it spans the run


def _show(value: Any) -> str:
    return "(not set)" if value is _MISSING else repr(value)


def check_resume_settings(old: Mapping[str, Any], new: Mapping[str, Any], ckpt: str) -> None:
    """Refuse ``new`` when it changes what the checkpoint ``ckpt`` (trained with ``old``) trains."""
    before, after = flatten(old), flatten(new)
    changed = [p for p in sorted(set(before) | set(after))
               if not _free(p) and p != "train.epochs" and before.get(p, _MISSING) != after.get(p, _MISSING)]
    if changed:
        shown = "; ".join(f"{p}: {_show(before.get(p, _MISSING))} -> {_show(after.get(p, _MISSING))}"
                          for p in changed[:_SHOWN])
        more = f" and {len(changed) - _SHOWN} more" if len(changed) > _SHOWN else ""
        raise RunError(f"resume: {ckpt} was trained with other settings ({shown}{more}); the checkpoint's "
                       "optimizer, schedule and data state would overrule them: resume with that run's settings, "
                       "or start a new run without resume")
    epochs_old, epochs_new = old["train"]["epochs"], new["train"]["epochs"]
    if epochs_old != epochs_new and schedule_spans_run(old.get("sched")):
        raise RunError(f"resume: {ckpt} was trained for train.epochs={epochs_old} under sched "
                       f"{old['sched']['type']!r}, whose length is the run's; train.epochs={epochs_new} would train "
                       f"past the schedule's end (lr 0): resume with train.epochs={epochs_old}, or start a new run")
