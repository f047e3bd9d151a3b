"""Backbones: ``nn.Module``s returning ``{stride: feature map}`` (see docs/ARCHITECTURE.md).

Importing this package registers ``vgg16``, ``vgg16_bn`` and the ``timm:`` family.
"""
from ignite_zoo.zoo.backbones.timm_adapter import TimmBackbone, timm_backbone
from ignite_zoo.zoo.backbones.vgg import VGG16, vgg16, vgg16_bn

__all__ = ["VGG16", "TimmBackbone", "vgg16", "vgg16_bn", "timm_backbone"]
