"""Heads: built from a backbone's ``feature_info``, turning its maps into logits (see common.py).

Importing this package registers ``classifier``, ``fcn32s``, ``fcn16s`` and ``fcn8s``.
"""
from ignite_zoo.zoo.heads.classifier import Classifier
from ignite_zoo.zoo.heads.common import Head
from ignite_zoo.zoo.heads.fcn import FCN8s, FCN16s, FCN32s, bilinear_kernel, bilinear_upsample, fit

__all__ = ["Head", "Classifier", "FCN32s", "FCN16s", "FCN8s", "bilinear_kernel", "bilinear_upsample", "fit"]
