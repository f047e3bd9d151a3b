"""VGG16's classifier on any backbone: the whole image classification model.

Attribute names mirror torchvision's VGG (``avgpool``, ``classifier.0/3/6``) so a
``vgg16`` backbone plus this head has exactly torchvision ``vgg16``'s parameters
(138,357,544 for 1000 classes) and leaf modules in the same forward order, and the
``classifier.*`` weights found in the backbone's weights file load as they are.
"""
from __future__ import annotations

import logging
from typing import Sequence

import torch
from torch import nn

from ignite_zoo.registry.registry import HEADS
from ignite_zoo.zoo.backbones.base import FeatureInfo
from ignite_zoo.zoo.heads.common import Head, check_num_classes, check_positive_int, check_probability

log = logging.getLogger("zoo")


@HEADS.register("classifier")
class Classifier(Head):
    """Pool the deepest map to ``pool_size``², then VGG's three Linears.

    ``forward(features, size, return_features=True)`` also returns the input of the last
    Linear (the ``hidden``-d embedding used for t-SNE) by running the Sequential up to it,
    not via hooks. Adaptive pooling takes any input size, so nothing is padded.
    """

    size_multiple = 1
    task = "classification"

    def __init__(
        self,
        feature_info: list[FeatureInfo],
        num_classes: int,
        hidden: int = 4096,
        dropout: float = 0.5,
        pool_size: int = 7,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        check_positive_int(hidden, "hidden")
        check_probability(dropout, "dropout")
        check_positive_int(pool_size, "pool_size")
        in_features = feature_info[-1].channels * pool_size * pool_size
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        self.num_classes = num_classes
        for m in self.classifier:
            if isinstance(m, nn.Linear):  # torchvision's VGG init
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def load_classifier_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load torchvision's fc layers; the last one only when the class count matches."""
        own = self.classifier.state_dict()
        hidden_keys = ["0.weight", "0.bias", "3.weight", "3.bias"]
        if not all(k in state and state[k].shape == own[k].shape for k in hidden_keys):
            log.warning(
                "head classifier: the backbone file's classifier weights do not fit this head "
                "(hidden=%d, input %d); its Linears stay randomly initialised",
                self.classifier[0].out_features, self.classifier[0].in_features,
            )
            return
        keys = list(hidden_keys)
        last = ["6.weight", "6.bias"]
        if all(k in state and state[k].shape == own[k].shape for k in last):
            keys += last
        else:
            n_file = state["6.weight"].shape[0] if "6.weight" in state else "no"
            log.info(
                "head classifier: loaded fc6/fc7 from the backbone file; its last layer (%s classes) "
                "is re-initialised for %d classes", n_file, self.num_classes,
            )
        self.classifier.load_state_dict({k: state[k] for k in keys}, strict=False)

    def forward(
        self, features: list[torch.Tensor], size: Sequence[int], return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = torch.flatten(self.avgpool(features[-1]), 1)
        *body, last = self.classifier
        for layer in body:
            x = layer(x)
        logits = last(x)
        return (logits, x) if return_features else logits
