"""Backbones: ``nn.Module``s returning a list of maps described by ``feature_info`` (see base.py).

Importing this package registers ``vgg16``, ``vgg16_bn`` and the ``timm:`` and ``smp:`` families.
"""
from ignite_zoo.zoo.backbones.base import Backbone, FeatureInfo
from ignite_zoo.zoo.backbones.smp_encoder import SmpEncoder, smp_backbone
from ignite_zoo.zoo.backbones.timm_adapter import TimmBackbone, timm_backbone
from ignite_zoo.zoo.backbones.vgg import VGG16, vgg16, vgg16_bn

__all__ = ["Backbone", "FeatureInfo", "VGG16", "TimmBackbone", "vgg16", "vgg16_bn", "timm_backbone",
           "SmpEncoder", "smp_backbone"]
