"""TensorBoard logging through ignite's TensorboardLogger: loss, lr, validation scalars, images."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from ignite.handlers.tensorboard_logger import TensorboardLogger


class TensorBoard:
    """Writes ``train/loss`` and ``lr`` every ``log_every`` iterations and each epoch's
    ``epoch_row`` scalars (``val/mIoU``, ``val/IoU/<class>``, ...) at the epoch number."""

    def __init__(self, log_dir: str | Path, log_every: int = 10) -> None:
        self.logger = TensorboardLogger(log_dir=str(log_dir))
        self.log_every = max(1, log_every)

    def attach(self, trainer: Engine, optimizer: torch.optim.Optimizer) -> None:
        every = Events.ITERATION_COMPLETED(every=self.log_every)
        self.logger.attach_output_handler(trainer, event_name=every, tag="train",
                                          output_transform=lambda loss: {"loss": loss})
        self.logger.attach_opt_params_handler(trainer, event_name=every, optimizer=optimizer, param_name="lr")
        trainer.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_scalars)
        trainer.add_event_handler(Events.COMPLETED, lambda _: self.logger.close())

    def _epoch_scalars(self, engine: Engine) -> None:
        for key, value in getattr(engine.state, "epoch_row", {}).items():
            if value is None:
                continue
            if key == "train/loss":  # the per-iteration curve already owns "train/loss"
                self.logger.writer.add_scalar("train/epoch_loss", value, engine.state.epoch)
            elif key.startswith("val/"):
                self.logger.writer.add_scalar(key, value, engine.state.epoch)
        self.logger.writer.flush()

    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """An RGB uint8 [H, W, 3] image."""
        self.logger.writer.add_image(tag, image, step, dataformats="HWC")
