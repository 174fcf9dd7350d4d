"""keras.applications: the standard image architectures with Keras' layer names, so Keras'
weight files (.weights.h5, legacy .h5) load into them. A face: it re-exports the builders and
the per-family modules (keras.applications.resnet50.preprocess_input, ...)."""
from . import efficientnet, imagenet_utils, mobilenet_v2, resnet, vgg
from .efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3, EfficientNetB4,
                           EfficientNetB5, EfficientNetB6, EfficientNetB7)
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet50, ResNet101, ResNet152
from .vgg import VGG16, VGG19

# Keras' module names for each family
resnet50 = resnet101 = resnet152 = resnet
vgg16 = vgg19 = vgg

__all__ = ["EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
           "EfficientNetB6", "EfficientNetB7", "MobileNetV2", "ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19",
           "efficientnet", "imagenet_utils", "mobilenet_v2", "resnet", "resnet50", "resnet101", "resnet152", "vgg",
           "vgg16", "vgg19"]
