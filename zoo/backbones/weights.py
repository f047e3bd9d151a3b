"""Backbone weights by name or path: ``weights: imagenet`` is the file torchvision (or timm)
itself downloads, looked up in the local caches; nothing is ever downloaded here.

A missing file is one error line saying where the file belongs and the one Python line
that fetches it on a connected machine.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch

from ignite_zoo.registry.errors import CheckpointError

IMAGENET = "imagenet"
#: torchvision's own file names (``torchvision.models.VGG16_Weights.IMAGENET1K_V1`` and the BN one)
TORCHVISION_FILES = {"vgg16": "vgg16-397923af.pth", "vgg16_bn": "vgg16_bn-6c64b313.pth"}
_TORCHVISION_FETCH = {"vgg16": "vgg16(weights='IMAGENET1K_V1')", "vgg16_bn": "vgg16_bn(weights='IMAGENET1K_V1')"}


def _hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _timm_candidates(name: str) -> list[Path]:
    """Where timm keeps ``name``'s default pretrained weights: the Hugging Face hub cache
    (``models--timm--<name>.<tag>/snapshots/*/``) or torch's hub checkpoints folder."""
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    found: list[Path] = []
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if hub_id:
        from huggingface_hub import constants

        repo = Path(constants.HF_HUB_CACHE) / ("models--" + hub_id.replace("/", "--"))
        for pattern in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
            found += sorted(repo.glob(f"snapshots/*/{pattern}"))
    url = getattr(cfg, "url", None) if cfg is not None else None
    if url:
        found.append(_hub_checkpoints() / os.path.basename(url))
    return found


def resolve_weights(weights: str | os.PathLike, backbone: str) -> Path:
    """The local file for ``weights`` (a path, ``~`` expanded, or ``imagenet``) of ``backbone``
    (``vgg16``, ``vgg16_bn`` or ``timm:<name>``); ``CheckpointError`` when it is absent."""
    if str(weights) != IMAGENET:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise CheckpointError(f"model.backbone.weights: file not found: {path}; expected a local weights file "
                                  f"(torchvision's state dict format) or 'imagenet'")
        if path.suffix != ".safetensors":
            try:  # the top-level keys only: tensors stay on disk (mmap)
                refuse_run_checkpoint(path, torch.load(path, map_location="cpu", weights_only=True, mmap=True))
            except CheckpointError:
                raise
            except Exception:  # noqa: BLE001  (not a zip archive, or pickled objects: read_state_file says so)
                pass
        return path
    if backbone in TORCHVISION_FILES:
        path = _hub_checkpoints() / TORCHVISION_FILES[backbone]
        if path.is_file():
            return path
        raise CheckpointError(
            f"model.backbone.weights=imagenet: {path} not found; put torchvision's {TORCHVISION_FILES[backbone]} "
            f"there (or set TORCH_HOME), e.g. fetch it on a connected machine with: python -c \"import "
            f"torchvision; torchvision.models.{_TORCHVISION_FETCH[backbone]}\"")
    if backbone.startswith("timm:"):
        name = backbone[len("timm:"):]
        candidates = _timm_candidates(name)
        for path in candidates:
            if path.is_file():
                return path
        where = candidates[0] if candidates else Path("<no pretrained weights known to timm>")
        raise CheckpointError(
            f"model.backbone.weights=imagenet: no local weights for timm model {name!r} (looked for {where}); "
            f"fetch them on a connected machine with: python -c \"import timm; timm.create_model('{name}', "
            f"pretrained=True)\" and copy the cache (HF_HOME / TORCH_HOME) here")
    raise CheckpointError(f"model.backbone.weights=imagenet: no ImageNet weights are known for backbone {backbone!r}; "
                          "give a file path instead")


def describe_weights(weights: str | os.PathLike | None, backbone: str, digest: bool = True) -> str:
    """What a backbone starts from, as a run records it: the weights file with a short sha256
    (``digest=False``: its name only, for a file that may be gone), or "random init"."""
    if not weights:
        return "random init"
    if not digest:
        return Path(str(weights)).name
    import hashlib

    path = resolve_weights(weights, backbone)
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return f"{path.name} (sha256 {sha.hexdigest()[:12]})"


def read_state_file(path: Path) -> Mapping[str, Any]:
    """A weights file's tensors (``torch.save`` zip or legacy pickle, or ``.safetensors``),
    with one-line errors that name the file and say what was expected."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({type(e).__name__}); expected "
                                  "a state dict of tensors") from None
    expected = "expected a state dict file (torch.save(model.state_dict(), path))"
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch's own message is many lines and advises weights_only=False
        if not zipfile.is_zipfile(path):
            raise CheckpointError(f"{path}: not a torch weights file (not the zip archive torch.save "
                                  f"writes); {expected}") from None
        if isinstance(e, pickle.UnpicklingError):
            raise CheckpointError(f"{path}: holds pickled Python objects, not only tensors; {expected}") from None
        first = (str(e).strip().splitlines() or [""])[0][:160]
        raise CheckpointError(f"{path}: cannot read weights ({type(e).__name__}: {first}); {expected}") from None


def check_weights(backbone_cfg: Mapping[str, Any]) -> None:
    """Resolve the weights of this package's own backbones before any work (a missing
    ImageNet file fails in a second, not after the datasets are read)."""
    weights, kind = backbone_cfg.get("weights"), str(backbone_cfg.get("type"))
    if weights and (kind in TORCHVISION_FILES or kind.startswith("timm:")):
        resolve_weights(weights, kind)


def format_keys(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


#: keys of a run's checkpoint (engines/checkpoint.py): a last checkpoint has all, a best one model + recipe
RUN_CHECKPOINT_KEYS = ("model", "optimizer", "trainer", "scheduler", "recipe")


def refuse_run_checkpoint(path: Path, state: Any) -> None:
    """A run's checkpoint given as backbone weights: say what it is and where it is used."""
    if isinstance(state, Mapping) and "recipe" in state and "model" in state:
        keys = [k for k in RUN_CHECKPOINT_KEYS if k in state]
        raise CheckpointError(
            f"model.backbone.weights: {path} is a run's checkpoint (keys {', '.join(keys)}), not backbone weights; "
            "expected a backbone weights file, a torchvision state dict (parameter name -> tensor, e.g. "
            "vgg16-397923af.pth); a run's last checkpoint is continued with resume=PATH, and any of its "
            "checkpoints is used by the tools (predict, evaluate --run, export)")


def load_state_file(path: str | Path) -> Mapping[str, Any]:
    """``torch.load`` a local weights file (tensors only), with errors that name the file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"backbone weights file not found: {path}")
    state = read_state_file(path)
    refuse_run_checkpoint(path, state)
    if isinstance(state, Mapping):
        for key in ("state_dict", "model"):  # a training checkpoint wrapping the weights
            if isinstance(state.get(key), Mapping):
                state = state[key]
                break
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: expected a state dict (parameter name -> tensor), got {type(state).__name__}")
    other = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if other:
        raise CheckpointError(
            f"{path}: expected a state dict (parameter name -> tensor); these entries are not tensors: "
            f"{format_keys(other)}"
        )
    return state
