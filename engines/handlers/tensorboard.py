"""TensorBoard through ignite's TensorboardLogger: loss and lr, each epoch's scalars,
mask images, the architecture table and the run's hyper-parameters."""
from __future__ import annotations

from typing import Any

from ignite.engine import Engine, Events
from ignite.handlers.tensorboard_logger import TensorboardLogger

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.engines.handlers.args import count, flag
from ignite_zoo.registry import HANDLERS


def hparams_of(recipe: dict) -> dict[str, Any]:
    """The settings that tell runs apart in TensorBoard's HParams view (scalars only)."""
    model, optim, data = recipe["model"], recipe["optim"], recipe["data"]
    return {"task": recipe["task"], "dataset": data["type"], "backbone": str(model["backbone"].get("type")),
            "head": str(model["head"].get("type")), "weights": str(model["backbone"].get("weights")),
            "optim": str(optim.get("type")), "lr": float(optim.get("lr", 0.0) or 0.0),
            "batch_size": data["loader"]["batch_size"], "epochs": recipe["train"]["epochs"],
            "amp": str(recipe["train"]["amp"]), "seed": recipe["seed"]}


@HANDLERS.register("tensorboard")
class TensorBoard:
    """``train/loss`` and ``lr`` every ``train.log_every`` iterations; every epoch (whatever
    its length) ``train/epoch_loss``, ``epoch/lr`` and the validation scalars at the epoch
    number; mask snapshots as images; at the start the architecture table as text; at the
    end the recipe's key settings with the final and best metric as hparams."""

    def __init__(self, images: bool = True, log_every: int | None = None) -> None:
        self.images = flag(images, "handlers.tensorboard.images")
        self.log_every = count(log_every, "handlers.tensorboard.log_every", 1, optional=True)

    def attach(self, run: RunContext) -> None:
        self.run = run
        self.logger = TensorboardLogger(log_dir=str(run.run_dir.tb_dir))
        trainer = run.trainer
        every = Events.ITERATION_COMPLETED(every=max(1, self.log_every or run.recipe["train"]["log_every"]))
        self.logger.attach_output_handler(trainer, event_name=every, tag="train",
                                          output_transform=lambda loss: {"loss": loss})
        self.logger.attach_opt_params_handler(trainer, event_name=every, optimizer=run.optimizer, param_name="lr")
        trainer.add_event_handler(Events.STARTED, self._architecture)
        trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, self._epoch_scalars)
        if self.images:
            trainer.add_event_handler(RunEvents.MASKS_SAVED, self._masks)
        trainer.add_event_handler(Events.COMPLETED, self._hparams)

    def close(self, error: BaseException | None) -> None:
        self.logger.close()

    def _architecture(self, engine: Engine) -> None:
        text = self.run.provenance.get("architecture")
        if text:
            self.logger.writer.add_text("model/architecture", "    " + text.replace("\n", "\n    "), 0)

    def _epoch_scalars(self, engine: Engine) -> None:
        writer, epoch = self.logger.writer, engine.state.epoch
        for key, value in engine.state.epoch_summary.items():
            if value is None:
                continue
            if key == "train/loss":  # the per-iteration curve owns "train/loss"
                writer.add_scalar("train/epoch_loss", value, epoch)
            elif key == "lr":
                writer.add_scalar("epoch/lr", value, epoch)
            elif key.startswith("val/"):
                writer.add_scalar(key, value, epoch)
        writer.flush()

    def _masks(self, engine: Engine) -> None:
        for id_, image in engine.state.saved_masks.items():
            self.logger.writer.add_image(f"masks/{id_}", image, engine.state.epoch, dataformats="HWC")

    def _hparams(self, engine: Engine) -> None:
        summary = self.run.run_dir.summary()
        spec = self.run.metric
        metrics = {}
        if summary.get("final") and summary["final"].get(spec.key) is not None:
            metrics[f"hparam/final_{spec.name}"] = summary["final"][spec.key]
        if summary.get("best"):
            metrics[f"hparam/best_{spec.name}"] = summary["best"][spec.key]
        if metrics:
            self.logger.writer.add_hparams(hparams_of(self.run.recipe), metrics, run_name="hparams")
