"""Heads: built from a backbone's ``feature_info``, turning its maps into logits (see common.py).

Importing this package registers ``classifier``, ``fcn32s``, ``fcn16s``, ``fcn8s``, ``unet``, ``fpn``,
``deeplabv3plus``, ``upernet``, ``segformer`` and the ``smp:`` family (segmentation_models_pytorch).
"""
from ignite_zoo.zoo.heads.classifier import Classifier
from ignite_zoo.zoo.heads.common import Head
from ignite_zoo.zoo.heads.deeplabv3plus import DeepLabV3Plus
from ignite_zoo.zoo.heads.fcn import FCN8s, FCN16s, FCN32s, bilinear_kernel, bilinear_upsample, fit
from ignite_zoo.zoo.heads.fpn import FPN
from ignite_zoo.zoo.heads.segformer import SegFormerHead
from ignite_zoo.zoo.heads.smp_decoder import SmpHead
from ignite_zoo.zoo.heads.unet import UNet
from ignite_zoo.zoo.heads.upernet import UPerNet

__all__ = ["Head", "Classifier", "FCN32s", "FCN16s", "FCN8s", "bilinear_kernel", "bilinear_upsample", "fit", "UNet", "FPN",
           "DeepLabV3Plus", "UPerNet", "SegFormerHead", "SmpHead"]
