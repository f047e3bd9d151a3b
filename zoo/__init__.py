"""The model zoo: backbones, heads, losses and data, registered by name at import.

``import zoo`` fills every registry (``registry.BACKBONES``, ``HEADS``, ``LOSSES``,
``DATASETS``, ``TRANSFORMS``); recipes then name components by their registered names.
"""
from ignite_zoo.zoo import backbones, data, heads, imbalance_losses, losses  # noqa: F401  (registration side effects)
from ignite_zoo.zoo.model import build_model

__all__ = ["build_model"]
