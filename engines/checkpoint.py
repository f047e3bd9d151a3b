"""Checkpoints: what a run writes to survive a crash, and how tools read models back.

A checkpoint holds the model, optimizer, scheduler, trainer state (epoch, iteration,
seed) and the resolved recipe, so ``resume=auto`` continues exactly and
``load_model(path)`` rebuilds the network without the original recipe file. Files are
written atomically (temporary file + rename) by ``SafeDiskSaver`` and read back with
``weights_only=True``.
"""
from __future__ import annotations

import copy
import errno
import logging
import os
import pickle
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ignite.handlers import DiskSaver

from ignite_zoo.engines.run_dir import RunDir
from ignite_zoo.registry.errors import CheckpointError, RecipeError, RunError
from ignite_zoo.registry.recipe import dump_yaml, load_yaml_text, validate



class RecipeState:
    """Carries the resolved recipe through ignite's Checkpoint (which saves state_dicts)."""

    def __init__(self, recipe: Mapping[str, Any] | None = None) -> None:
        self.recipe = dict(recipe or {})

    def state_dict(self) -> dict[str, str]:
        return {"yaml": dump_yaml(self.recipe)}

    def load_state_dict(self, state: Mapping[str, str]) -> None:
        self.recipe = load_yaml_text(state["yaml"])


class EngineState:
    """A trainer's ``state_dict`` that loads with ``weights_only=True``.

    ignite's DeterministicEngine saves numpy's RNG state, an ndarray that the safe
    unpickler refuses; it is stored here as a tensor and turned back on load.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def state_dict(self) -> dict[str, Any]:
        sd = dict(self.engine.state_dict())
        rng = sd.get("rng_states")
        if rng is not None and len(rng) > 2 and isinstance(rng[2], tuple):
            name, keys, pos, has_gauss, cached = rng[2]
            sd["rng_states"] = [rng[0], rng[1], (name, torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                                                 int(pos), int(has_gauss), float(cached))]
        return sd

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        sd = dict(state)
        rng = sd.get("rng_states")
        if rng is not None and len(rng) > 2 and isinstance(rng[2][1], torch.Tensor):
            name, keys, pos, has_gauss, cached = rng[2]
            sd["rng_states"] = [rng[0], rng[1], (name, keys.numpy().astype(np.uint32), pos, has_gauss, cached)]
        self.engine.load_state_dict(sd)


class SafeDiskSaver(DiskSaver):
    """ignite's atomic ``DiskSaver`` that never leaves a run with fewer checkpoints than it had.

    ignite's ``Checkpoint`` removes the oldest file *before* writing the new one, so a failed
    write (disk full) with ``keep_last: 1`` would lose the only checkpoint. Here a removal
    waits until the new file is complete; a failed write removes its temporary file, keeps
    every older checkpoint and stops the run with a ``RunError`` naming the file.
    """

    def __init__(self, dirname: str | Path, **kwargs: Any) -> None:
        super().__init__(dirname, atomic=True, **kwargs)
        self._pending: list[str] = []

    def remove(self, filename: str) -> None:
        self._pending.append(filename)

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        path = self.dirname / filename
        try:
            super().__call__(checkpoint, filename, metadata)
        except (OSError, RuntimeError) as e:
            # torch.save reports a full disk as RuntimeError ("file write failed"), not OSError
            needed, free = state_bytes(checkpoint), shutil.disk_usage(self.dirname).free
            full = (isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))) \
                or (isinstance(e, RuntimeError) and ("write" in str(e).lower() or free < needed))
            if isinstance(e, RuntimeError) and not full:
                raise
            self._pending.clear()  # the files the new one was to replace stay
            # torch's "[enforce fail at inline_container.cc:NNN] . " prefix says nothing to a user
            text = re.sub(r"^\[enforce fail at [^\]]*\]\s*\.?\s*", "", str(e).strip())
            reason = getattr(e, "strerror", None) or text.splitlines()[0][:160]
            why = f"cannot write checkpoint {path} ({reason})"
            if full:
                why = (f"disk full: {why}: {self.dirname} needs about {_size(needed)} for it and has "
                       f"{_size(free)} free")
            raise RunError(f"{why}; the run stopped and the checkpoints written before are kept: "
                           f"{'free some space' if full else 'fix that'} and continue with resume=auto") from None
        pending, self._pending = self._pending, []
        for name in pending:
            if name != filename and (self.dirname / name).exists():
                super().remove(name)

    def _save_func(self, checkpoint: Mapping, path: Path, func: Any) -> None:
        tmp = tempfile.NamedTemporaryFile(delete=False, dir=self.dirname)
        try:
            with tmp:  # closing flushes, which can fail too (disk full)
                func(checkpoint, tmp.file, **self.kwargs)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
        os.replace(tmp.name, path)
        os.chmod(path, os.stat(path).st_mode | stat.S_IRGRP | stat.S_IROTH)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def state_bytes(state: Any) -> int:
    """The bytes of every tensor in a (nested) state: about what ``torch.save`` writes."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, Mapping):
        return sum(state_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(state_bytes(v) for v in state)
    return 0


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; torch.load's own error misleads
        raise CheckpointError(f"{path}: not a checkpoint (not the zip archive torch.save writes): truncated, "
                              "corrupt or another kind of file; expected a .pt file from a run's checkpoints/ folder")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's message is a page of advice to load it unsafely
        raise CheckpointError(f"{path}: cannot read checkpoint: it holds pickled Python objects besides tensors, "
                              "which are never loaded (their code could run anything); expected a .pt file "
                              "from a run's checkpoints/ folder") from None
    except Exception as e:  # truncated, not a torch file
        first = next((line for line in str(e).splitlines() if line.strip()), "")
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(e).__name__}: {first})") from None


def recipe_of(ckpt: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """The checkpoint's recipe, validated through the schema (defaults filled in)."""
    if "recipe" not in ckpt:
        raise CheckpointError(f"{path}: holds no recipe (keys: {', '.join(sorted(ckpt))}); was it written by ignite-zoo?")
    state = RecipeState()
    state.load_state_dict(ckpt["recipe"])
    try:
        return validate(state.recipe)
    except RecipeError as e:
        raise CheckpointError(f"{path}: its recipe no longer validates: {e}") from None


def load_state_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """``load_state_dict`` with an error that lists every missing, unexpected and
    mis-shaped key, which is what tells a user the checkpoint is from another recipe."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        def show(items: list[str]) -> str:
            return ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")

        parts = [f"missing keys: {show(missing)}" if missing else "",
                 f"unexpected keys: {show(unexpected)}" if unexpected else "",
                 f"shape mismatches: {show(shapes)}" if shapes else ""]
        raise CheckpointError(
            f"{source} does not fit this model (a checkpoint from a different recipe: other head or class count?); "
            + "; ".join(p for p in parts if p)
        )
    module.load_state_dict(state)


def resolve_checkpoint(path: str | Path) -> Path:
    """The one way from "a run directory or a .pt" to a checkpoint file: a directory gives
    its best checkpoint, else its latest."""
    path = Path(path).expanduser()
    if path.is_dir():
        return RunDir.open(path).checkpoint()
    return path


def build_model_quietly(model_cfg: Mapping[str, Any], **head_extra: Any) -> torch.nn.Module:
    """The recipe's model without reading any weights file and without the "randomly
    initialised" notice: for tools whose weights come next (from a checkpoint) or that need
    shapes only (the architecture table). A backbone without a ``weights`` key keeps none."""
    from ignite_zoo.zoo import build_model

    cfg = copy.deepcopy(dict(model_cfg))
    if isinstance(cfg.get("backbone"), dict) and "weights" in cfg["backbone"]:
        cfg["backbone"]["weights"] = None
    zoo_log = logging.getLogger("zoo")
    level = zoo_log.level
    zoo_log.setLevel(logging.ERROR)
    try:
        return build_model(cfg, **head_extra)
    finally:
        zoo_log.setLevel(level)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained model (eval mode) and its resolved recipe, from a checkpoint or run dir."""
    from ignite_zoo.registry.plugins import import_modules

    path = resolve_checkpoint(path)
    ckpt = read_checkpoint(path)
    recipe = recipe_of(ckpt, path)
    import_modules(recipe["imports"])
    model = build_model_quietly(recipe["model"])
    if "model" not in ckpt:
        raise CheckpointError(f"{path}: holds no model weights")
    from ignite_zoo.zoo.compat import upgrade_state_dict

    load_state_strict(model, upgrade_state_dict(ckpt["model"], model), f"checkpoint {path}")
    return model.to(device).eval(), recipe
