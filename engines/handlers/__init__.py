"""Small ignite handlers, each with one job, attached to trainer/evaluator events."""
from engines.handlers.history import History
from engines.handlers.mask_snapshots import MaskSnapshots, resolve_epochs
from engines.handlers.nan_guard import NanGuard
from engines.handlers.tensorboard import TensorBoard

__all__ = ["History", "MaskSnapshots", "NanGuard", "TensorBoard", "resolve_epochs"]
