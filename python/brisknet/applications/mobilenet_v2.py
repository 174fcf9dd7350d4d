"""MobileNetV2 (Sandler et al. 2018) as keras.applications builds it: the same layers, names and
shapes, so Keras' weight files load into it."""
from __future__ import annotations

import functools

from .. import layers
from ..models import Model
from . import imagenet_utils
from .imagenet_utils import correct_pad

# (filters, stride, expansion, repeats) of each stage of inverted residual blocks
_STAGES = ((16, 1, 1, 1), (24, 2, 6, 2), (32, 2, 6, 3), (64, 2, 6, 4), (96, 1, 6, 3), (160, 2, 6, 3), (320, 1, 6, 1))
_SIZES = (96, 128, 160, 192, 224)  # the input sizes ImageNet weights exist for


def _divisible(v, divisor=8):
    """v rounded to a multiple of divisor, never more than 10 % down (the paper's rule)."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def _bn(name):
    return layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=name)


def _inverted_residual(x, filters, stride, expansion, alpha, block_id):
    """1x1 expansion (not in block 0), 3x3 depthwise, 1x1 linear projection; a residual
    connection where the shape is kept."""
    in_channels = x.shape[-1]
    out_channels = _divisible(int(filters * alpha))
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    h = x
    if block_id:
        h = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False, name=prefix + "expand")(h)
        h = _bn(prefix + "expand_BN")(h)
        h = layers.ReLU(6.0, name=prefix + "expand_relu")(h)
    if stride == 2:
        h = layers.ZeroPadding2D(correct_pad(h.shape, 3), name=prefix + "pad")(h)
    h = layers.DepthwiseConv2D(3, strides=stride, use_bias=False, padding="same" if stride == 1 else "valid",
                               name=prefix + "depthwise")(h)
    h = _bn(prefix + "depthwise_BN")(h)
    h = layers.ReLU(6.0, name=prefix + "depthwise_relu")(h)
    h = layers.Conv2D(out_channels, 1, padding="same", use_bias=False, name=prefix + "project")(h)
    h = _bn(prefix + "project_BN")(h)
    if in_channels == out_channels and stride == 1:
        return layers.Add(name=prefix + "add")([x, h])
    return h


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None):
    imagenet_utils.check_arguments(weights, include_top, classes)
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    rows = input_shape[0] if input_shape is not None and input_shape[0] == input_shape[1] \
        and input_shape[0] in _SIZES else 224
    shape = imagenet_utils.input_shape_for(input_shape, rows, 32, include_top, weights)
    if weights == "imagenet" and alpha not in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
        raise ValueError(f"If imagenet weights are being loaded, alpha must be one of 0.35, 0.50, 0.75, 1.0, 1.3 or "
                         f"1.4 only, got alpha={alpha}")
    inputs = imagenet_utils.model_input(shape, input_tensor)
    x = layers.Conv2D(_divisible(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="Conv1")(inputs)
    x = _bn("bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    block_id = 0
    for filters, stride, expansion, repeats in _STAGES:
        for i in range(repeats):
            x = _inverted_residual(x, filters, stride if i == 0 else 1, expansion, alpha, block_id)
            block_id += 1
    last = _divisible(1280 * alpha) if alpha > 1.0 else 1280  # (no alpha below 1 on the last convolution)
    x = layers.Conv2D(last, 1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    x = imagenet_utils.top(x, include_top, pooling, classes, classifier_activation, weights,
                           pool_names=("global_average_pooling2d", "global_max_pooling2d"))
    model = Model(inputs, x, name=name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    suffix = "" if include_top else "_no_top"
    return imagenet_utils.load_weights(
        model, weights, f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5")


preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="tf")

decode_predictions = imagenet_utils.decode_predictions
