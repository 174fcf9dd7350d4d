"""ResNet50, ResNet101 and ResNet152 (He et al. 2015, v1: batch normalisation after each
convolution) as keras.applications builds them: the same layers, names and shapes, so Keras'
weight files load into them."""
from __future__ import annotations

import functools

from .. import layers
from ..models import Model
from . import imagenet_utils

_EPSILON = 1.001e-5


def _bottleneck(x, filters, stride, projection, name):
    """1x1, 3x3, 1x1 (4x filters) convolutions plus the input (projected by a 1x1 convolution
    where the shape changes)."""
    if projection:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=_EPSILON, name=name + "_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name=name + "_1_bn")(x)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=name + "_2_conv")(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name=name + "_2_bn")(x)
    x = layers.Activation("relu", name=name + "_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name=name + "_3_bn")(x)
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def _resnet(blocks, model_name, include_top, weights, input_tensor, input_shape, pooling, classes,
            classifier_activation, name):
    imagenet_utils.check_arguments(weights, include_top, classes)
    shape = imagenet_utils.input_shape_for(input_shape, 224, 32, include_top, weights)
    inputs = imagenet_utils.model_input(shape, input_tensor)
    x = layers.ZeroPadding2D(((3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks), start=2):
        for i in range(1, count + 1):
            x = _bottleneck(x, filters, (1 if stage == 2 else 2) if i == 1 else 1, i == 1, f"conv{stage}_block{i}")
    x = imagenet_utils.top(x, include_top, pooling, classes, classifier_activation, weights)
    model = Model(inputs, x, name=name or model_name)
    suffix = "" if include_top else "_notop"
    return imagenet_utils.load_weights(model, weights, f"{model_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5")


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet50"):
    return _resnet((3, 4, 6, 3), "resnet50", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet101"):
    return _resnet((3, 4, 23, 3), "resnet101", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet152"):
    return _resnet((3, 8, 36, 3), "resnet152", include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, name)


preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="caffe")

decode_predictions = imagenet_utils.decode_predictions
