"""VGG16 and VGG19 (Simonyan and Zisserman 2014) as keras.applications builds them: the same
layers, names and shapes, so Keras' weight files load into them."""
from __future__ import annotations

import functools

from .. import layers
from ..models import Model
from . import imagenet_utils


def _vgg(convs_per_block, model_name, include_top, weights, input_tensor, input_shape, pooling, classes,
         classifier_activation, name):
    imagenet_utils.check_arguments(weights, include_top, classes)
    shape = imagenet_utils.input_shape_for(input_shape, 224, 32, include_top, weights)
    inputs = x = imagenet_utils.model_input(shape, input_tensor)
    for block, (filters, convs) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        if weights is not None and classifier_activation not in (None, "softmax"):
            raise ValueError("Only None and 'softmax' activations are allowed for the classifier_activation argument "
                             f"when using pretrained weights, got {classifier_activation!r}")
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.top(x, False, pooling, classes, classifier_activation, weights,
                               pool_names=("global_average_pooling2d", "global_max_pooling2d"))
    model = Model(inputs, x, name=name or model_name)
    suffix = "" if include_top else "_notop"
    return imagenet_utils.load_weights(model, weights, f"{model_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5")


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    return _vgg((2, 2, 3, 3, 3), "vgg16", include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation, name)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    return _vgg((2, 2, 4, 4, 4), "vgg19", include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation, name)


preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="caffe")

decode_predictions = imagenet_utils.decode_predictions
