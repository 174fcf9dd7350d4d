"""EfficientNetB0 to B7 (Tan and Le 2019) as keras.applications builds them: the same layers,
names and shapes, so Keras' weight files load into them. The model rescales its own input
(pixels in [0, 255]); preprocess_input is the identity, as in Keras."""
from __future__ import annotations

import math

from .. import initializers, layers
from ..models import Model
from . import imagenet_utils
from .imagenet_utils import correct_pad

# (kernel size, repeats, filters in, filters out, expansion, stride) of each stage; every block
# has a squeeze-and-excitation of ratio 0.25 and an identity skip where the shape is kept
_STAGES = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
           (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))
_SE_RATIO = 0.25
_IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


def _conv_init():
    return initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="truncated_normal")


def _block(x, activation, drop_rate, name, kernel_size, filters_in, filters_out, expansion, stride):
    """Inverted residual block: expansion, depthwise convolution, squeeze-and-excitation,
    projection; the input added back (after drop-connect) where the shape is kept."""
    filters = filters_in * expansion
    h = x
    if expansion != 1:
        h = layers.Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer=_conv_init(),
                          name=name + "expand_conv")(h)
        h = layers.BatchNormalization(name=name + "expand_bn")(h)
        h = layers.Activation(activation, name=name + "expand_activation")(h)
    if stride == 2:
        h = layers.ZeroPadding2D(correct_pad(h.shape, kernel_size), name=name + "dwconv_pad")(h)
    h = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same" if stride == 1 else "valid",
                               use_bias=False, depthwise_initializer=_conv_init(), name=name + "dwconv")(h)
    h = layers.BatchNormalization(name=name + "bn")(h)
    h = layers.Activation(activation, name=name + "activation")(h)
    squeezed = max(1, int(filters_in * _SE_RATIO))
    se = layers.GlobalAveragePooling2D(name=name + "se_squeeze")(h)
    se = layers.Reshape((1, 1, filters), name=name + "se_reshape")(se)
    se = layers.Conv2D(squeezed, 1, padding="same", activation=activation, kernel_initializer=_conv_init(),
                       name=name + "se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid", kernel_initializer=_conv_init(),
                       name=name + "se_expand")(se)
    h = layers.multiply([h, se], name=name + "se_excite")
    h = layers.Conv2D(filters_out, 1, padding="same", use_bias=False, kernel_initializer=_conv_init(),
                      name=name + "project_conv")(h)
    h = layers.BatchNormalization(name=name + "project_bn")(h)
    if stride == 1 and filters_in == filters_out:
        if drop_rate > 0:
            h = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=name + "drop")(h)
        h = layers.add([h, x], name=name + "add")
    return h


def _efficientnet(width, depth, default_size, dropout_rate, model_name, include_top, weights, input_tensor,
                  input_shape, pooling, classes, classifier_activation, name, drop_connect_rate=0.2,
                  activation="swish"):
    imagenet_utils.check_arguments(weights, include_top, classes)
    shape = imagenet_utils.input_shape_for(input_shape, default_size, 32, include_top, weights)

    def round_filters(filters, divisor=8):
        filters *= width
        rounded = max(divisor, int(filters + divisor / 2) // divisor * divisor)
        return int(rounded + divisor if rounded < 0.9 * filters else rounded)

    def round_repeats(repeats):
        return int(math.ceil(depth * repeats))

    inputs = imagenet_utils.model_input(shape, input_tensor)
    x = layers.Rescaling(1.0 / 255.0, name="rescaling")(inputs)
    x = layers.Normalization(axis=-1, name="normalization")(x)
    if weights == "imagenet":  # (Keras: the original divides by the variance, the layer by its root)
        x = layers.Rescaling([1.0 / math.sqrt(s) for s in _IMAGENET_STDDEV_RGB], name="rescaling_1")(x)
    x = layers.ZeroPadding2D(correct_pad(x.shape, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(round_filters(32), 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=_conv_init(), name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    total = float(sum(round_repeats(stage[1]) for stage in _STAGES))
    b = 0
    for i, (kernel_size, repeats, filters_in, filters_out, expansion, stride) in enumerate(_STAGES):
        filters_in, filters_out = round_filters(filters_in), round_filters(filters_out)
        for j in range(round_repeats(repeats)):
            x = _block(x, activation, drop_connect_rate * b / total, f"block{i + 1}{chr(j + 97)}_", kernel_size,
                       filters_in if j == 0 else filters_out, filters_out, expansion, stride if j == 0 else 1)
            b += 1
    x = layers.Conv2D(round_filters(1280), 1, padding="same", use_bias=False, kernel_initializer=_conv_init(),
                      name="top_conv")(x)
    x = layers.BatchNormalization(name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        if weights is not None and classifier_activation not in (None, "softmax"):
            raise ValueError("Only None and 'softmax' activations are allowed for the classifier_activation argument "
                             f"when using pretrained weights, got {classifier_activation!r}")
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions",
                         kernel_initializer=initializers.VarianceScaling(1.0 / 3.0, "fan_out", "uniform"))(x)
    else:
        x = imagenet_utils.top(x, False, pooling, classes, classifier_activation, weights)
    model = Model(inputs, x, name=name or model_name)
    suffix = "" if include_top else "_notop"
    return imagenet_utils.load_weights(model, weights, f"{model_name}{suffix}.h5")


# (width, depth, default size, dropout) of each size, as in the paper and Keras
_SIZES = {"b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
          "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
          "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}


def _maker(size):
    def make(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=f"efficientnet{size}", **kwargs):
        return _efficientnet(*_SIZES[size], f"efficientnet{size}", include_top, weights, input_tensor, input_shape,
                             pooling, classes, classifier_activation, name, **kwargs)
    make.__name__ = make.__qualname__ = f"EfficientNet{size.upper()}"
    return make


EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3 = (_maker(s) for s in ("b0", "b1", "b2", "b3"))
EfficientNetB4, EfficientNetB5, EfficientNetB6, EfficientNetB7 = (_maker(s) for s in ("b4", "b5", "b6", "b7"))


def preprocess_input(x, data_format=None):
    """The identity (the model rescales its input itself), as Keras' efficientnet.preprocess_input."""
    return x

decode_predictions = imagenet_utils.decode_predictions
