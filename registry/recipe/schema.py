"""The recipe schema: every key the code reads, with its type, default and meaning.

A typo fails before any work with the key path and what was expected, and the resolved
recipe written into the run directory shows every setting that was in force.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Key:
    """One recipe key: accepted types (or ``choices``), default, whether it is required."""

    types: tuple[type, ...]
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    minimum: int | None = None  # for counts: 0 epochs or 0 threads is a typo, not a request
    #: a file system path: ``~`` is expanded when the recipe is validated
    path: bool = False
    #: for a component: the names of its arguments that are paths (expanded like ``path``)
    path_args: tuple[str, ...] = ()


#: A ``{"type": name, **kwargs}`` mapping; its kwargs belong to the component, so they are
#: checked when it is built (against the builder's signature), not here.
COMPONENT = "component"
#: In a section: the Key that any key not declared in it must satisfy (user handlers).
OTHER_KEYS = "*"
#: the type of ``null`` in a recipe
NULL = type(None)
_NUM = (int, float)
#: a handler: its settings, true (its defaults) or false/null (off)
_HANDLER = (dict, bool, NULL)

SCHEMA: dict[str, Any] = {
    "imports": Key((list,), [], doc="modules to import before building (user plugins)"),
    "seed": Key((int,), 0),
    "task": Key((str,), required=True, choices=("classification", "segmentation")),
    "resume": Key((str, NULL), None, path=True,
                  doc="'auto' (latest checkpoint in out.dir) or a checkpoint path"),
    "data": {
        "type": Key((str,), required=True, doc="a registered dataset"),
        "root": Key((str, NULL), None, path=True),
        "args": Key((dict,), {}, doc="extra dataset keyword arguments"),
        "train": {"split": Key((str,), "train"), "transforms": Key((list,), [])},
        "val": {"split": Key((str,), "validation"), "transforms": Key((list,), [])},
        "loader": {
            "batch_size": Key((int,), 8, minimum=1,
                              doc="of all processes together; ignite's auto_dataloader splits it"),
            "val_batch_size": Key((int, NULL), None, doc="defaults to batch_size", minimum=1),
            "num_workers": Key((int,), 0, minimum=0),
            "pin_memory": Key((bool, str), "auto", choices=(True, False, "auto"),
                              doc="'auto': on when training on CUDA"),
            "persistent_workers": Key((bool,), True),
            "prefetch_factor": Key((int, NULL), None, minimum=1),
            "drop_last": Key((bool,), True),
        },
        # how training images are drawn (zoo/data/samplers.py), e.g. {type: class_balanced,
        # rule: sqrt_inverse_frequency}; null: shuffled, each image once an epoch
        "sampler": Key((dict, NULL), None, doc=COMPONENT),
    },
    "model": {
        "backbone": Key((dict,), required=True, doc=COMPONENT, path_args=("weights",)),
        "head": Key((dict,), required=True, doc=COMPONENT),
        "input_size": Key((list, NULL), None, doc="[C, H, W] shown by tools/summary.py"),
        "normalize": Key((dict, NULL), None,
                         doc="{mean, std, max_pixel_value}: per input band, held in the model; null: ImageNet's"),
        "input_scale": Key((*_NUM,), 1.0, doc="segmentation: the model resizes its input by this factor (0, 1] "
                           "before the backbone and its logits back to the input's size"),
    },
    "loss": Key((dict,), {"type": "cross_entropy"}, doc=COMPONENT),
    # optim: sgd | adam | adamw (this project's defaults) or any torch.optim class by its name
    # (AdamW, RMSprop, ...) with torch's arguments; ``no_decay_bias_norm: true`` keeps weight
    # decay off biases and norm-layer scales/shifts (parameters with at most one dimension).
    # sched: constant | step | cosine | poly (with warmup_epochs, warmup_factor) or any
    # torch.optim.lr_scheduler class by its name (OneCycleLR, StepLR, ...), counted in
    # optimizer steps; its total_iters / T_max / total_steps is the run's length.
    "optim": Key((dict,), {"type": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4}, doc=COMPONENT),
    "sched": Key((dict, NULL), None, doc=COMPONENT),
    "train": {
        "epochs": Key((int,), required=True, minimum=1),
        "device": Key((str,), "auto", doc="'auto', 'cpu', 'cuda', 'cuda:1', ..."),
        "amp": Key((bool, str), "auto", choices=(True, False, "auto", "bf16", "fp16"),
                   doc="'auto': bf16 where it is fast (CPU with bf16 units, CUDA); never fp16 on CPU"),
        "channels_last": Key((bool,), True),
        "compile": Key((bool,), False),
        "threads": Key((int, NULL), None, doc="torch intra-op threads; null: all cores", minimum=1),
        "accum_steps": Key((int,), 1, minimum=1,
                           doc="optimizer step every N batches, on their mean gradient; groups restart each epoch"),
        "clip_grad_norm": Key((*_NUM, NULL), None),
        "nproc_per_node": Key((int,), 1, minimum=1),
        "deterministic": Key((bool,), False),
        "log_every": Key((int,), 10, minimum=1),
        "max_iters_per_epoch": Key((int, NULL), None, doc="cap for quick trials; null: the whole loader", minimum=1),
        "ema": Key((dict, NULL), None, doc="{momentum: 0.999, ...}: an exponential moving average of the weights "
                   "validates and fills the best checkpoint (engines/handlers/ema.py); null: off"),
    },
    "eval": {
        "every": Key((int,), 1, doc="validate every N epochs (and always after the last)", minimum=1),
        "miou_classes": Key((list, NULL), None, doc="class ids averaged into mIoU; null: the dataset's eval classes"),
        "metric": Key((str, NULL), None, doc="the metric that picks the best checkpoint"),
        "mode": Key((str,), "auto", choices=("auto", "whole", "slide"),
                    doc="whole images, overlapping tiles (bounded memory), or auto: tiles only for images whose "
                        "activations would need more than about 2 GiB"),
        "tile": Key((int,), 512, minimum=1, doc="slide: tile size in pixels"),
        "overlap": Key((int, NULL), None, minimum=0, doc="slide: overlap of tiles; null: a quarter of the tile"),
        "tile_above": Key((int, NULL), None, minimum=0,
                          doc="slide: tile only images whose longer side exceeds this; null: every image"),
        "tta": Key((str, NULL), None, choices=("flip", "d4"),
                   doc="test-time augmentation in validation, predict and evaluate: flip or d4 (logits averaged)"),
    },
    "handlers": {
        # Each entry is a handler built by name from the HANDLERS registry: true (its defaults),
        # a mapping of its settings (checked by the handler itself, engines/handlers/), or
        # false/null (off; ``enabled: false`` in a mapping too). The run's recipe.yaml shows
        # every setting in force, the handler's defaults filled in.
        "checkpoint": Key(_HANDLER, True, doc="last_checkpoint (to resume) and best_checkpoint files"),
        "mask_snapshots": Key(_HANDLER, True, doc="segmentation: predicted masks of chosen images at chosen epochs"),
        "early_stopping": Key(_HANDLER, True, doc="{patience: N} stops after N validations without improvement"),
        "tensorboard": Key(_HANDLER, True, doc="event files under tb/"),
        "nan_guard": Key(_HANDLER, True, doc="stops at the first non-finite loss, naming the batch"),
        "progress": Key(_HANDLER, True, doc="progress bars (on a terminal only)"),
        "console": Key(_HANDLER, True, doc="one line per epoch and a closing table"),
        "history": Key(_HANDLER, True, doc="history.csv and metrics.json"),
        "confusion": Key(_HANDLER, True, doc="segmentation: confusion_matrix.png of the latest validation"),
        OTHER_KEYS: Key(_HANDLER, None, doc="a user handler: its settings, or true/false"),
    },
    "out": {
        "root": Key((str,), "runs", path=True),
        "name": Key((str, NULL), None, doc="default: the recipe file's name"),
        "dir": Key((str, NULL), None, path=True, doc="an explicit run directory (resume uses it)"),
    },
}
