"""Heads: each is the whole model and owns ``self.backbone`` (see docs/ARCHITECTURE.md).

Importing this package registers ``classifier``, ``fcn32s``, ``fcn16s`` and ``fcn8s``.
"""
from ignite_zoo.zoo.heads.classifier import Classifier
from ignite_zoo.zoo.heads.fcn import FCN8s, FCN16s, FCN32s, bilinear_kernel, bilinear_upsample, fit

__all__ = ["Classifier", "FCN32s", "FCN16s", "FCN8s", "bilinear_kernel", "bilinear_upsample", "fit"]
