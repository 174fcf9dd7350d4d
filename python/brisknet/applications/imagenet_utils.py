"""What every keras.applications architecture shares: the input shape it accepts, the padding
before a strided convolution, preprocess_input's three modes, and where its weights come from
(None, a local file, or 'imagenet': Keras' own file in Keras' cache folder, since brisknet
downloads nothing)."""
from __future__ import annotations

import json
import os

import numpy as np

from .. import layers

# ImageNet's channel statistics, as Keras' preprocess_input uses them
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def preprocess_input(x, data_format=None, mode="caffe"):
    """Keras' imagenet_utils.preprocess_input on a numpy batch or image (channels last):
    'tf': scaled to [-1, 1]; 'torch': to [0, 1], then each channel standardised with ImageNet's
    statistics; 'caffe': RGB to BGR, then ImageNet's mean pixel subtracted. A float array is
    changed in place and returned, as in Keras; integers become a new float32 array."""
    if data_format not in (None, "channels_last"):
        raise NotImplementedError("preprocess_input: only data_format='channels_last' is supported")
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(f"preprocess_input: mode must be 'caffe', 'tf' or 'torch', got {mode!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"preprocess_input: expected numeric images, got dtype {x.dtype}")
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    if x.ndim < 3 or x.shape[-1] != 3:
        raise ValueError(f"preprocess_input: expected RGB images (..., height, width, 3), got shape {x.shape}")
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        x -= np.asarray(_TORCH_MEAN, x.dtype)
        x /= np.asarray(_TORCH_STD, x.dtype)
        return x
    x = x[..., ::-1]
    return x - np.asarray(_CAFFE_MEAN_BGR, x.dtype)


def input_shape_for(input_shape, default_size, min_size, include_top, weights, require_flatten=None):
    """The (height, width, 3) an architecture is built for, checked as Keras' obtain_input_shape:
    ImageNet's weights with the top want the default size; the top needs a fixed size."""
    require_flatten = include_top if require_flatten is None else require_flatten
    default = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default:
            raise ValueError(f"When setting include_top=True and loading 'imagenet' weights, input_shape should be "
                             f"{default}, got {tuple(input_shape)}")
        return default
    if input_shape is None:
        if require_flatten:
            return default
        return (None, None, 3)
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {shape}")
    if weights == "imagenet" and shape[-1] != 3:
        raise ValueError(f"The input must have 3 channels with 'imagenet' weights, got input_shape={shape}")
    for size in shape[:2]:
        if size is not None and size < min_size:
            raise ValueError(f"Input size must be at least {min_size}x{min_size}, got input_shape={shape}")
    if require_flatten and None in shape[:2]:
        raise ValueError(f"With include_top=True the input shape must be fixed, got input_shape={shape}")
    return shape


def check_arguments(weights, include_top, classes):
    if not (weights in ("imagenet", None) or isinstance(weights, (str, os.PathLike))):
        raise ValueError("The `weights` argument should be either None (random initialization), 'imagenet' "
                         f"(pre-training on ImageNet), or the path to the weights file to be loaded, got {weights!r}")
    if weights not in ("imagenet", None) and not os.path.exists(weights):
        raise FileNotFoundError(f"weights file {os.fspath(weights)!r} does not exist")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(f"If using weights='imagenet' with include_top=True, classes should be 1000, got {classes}")


def model_input(input_shape, input_tensor):
    """The model's Input, or the user's input_tensor (then the model starts from its source)."""
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    return input_tensor


def correct_pad(shape, kernel_size):
    """The zero padding before a stride-2 'valid' convolution that puts its windows where
    TensorFlow's 'same' would (Keras' imagenet_utils.correct_pad), for feature maps of `shape`."""
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    adjust = (1, 1) if shape[1] is None else (1 - shape[1] % 2, 1 - shape[2] % 2)
    return ((k[0] // 2 - adjust[0], k[0] // 2), (k[1] // 2 - adjust[1], k[1] // 2))


def top(x, include_top, pooling, classes, classifier_activation, weights, pool_names=("avg_pool", "max_pool")):
    """The classifier (global average pooling and a Dense softmax) or the pooling of a feature extractor."""
    if include_top:
        if weights is not None and classifier_activation not in (None, "softmax"):
            raise ValueError("Only None and 'softmax' activations are allowed for the classifier_activation argument "
                             f"when using pretrained weights, got {classifier_activation!r}")
        x = layers.GlobalAveragePooling2D(name=pool_names[0])(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=pool_names[0])(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=pool_names[1])(x)
    if pooling is not None:
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    return x


def keras_cache_file(filename):
    """Where Keras keeps the file it downloads for weights='imagenet'."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", filename)


def load_weights(model, weights, imagenet_file):
    """weights=None: as initialised; a path: that file (Keras' .weights.h5 or legacy .h5, or
    brisknet's); 'imagenet': Keras' file of that name in Keras' cache folder."""
    if weights is None:
        return model
    if weights == "imagenet":
        path = keras_cache_file(imagenet_file)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"weights='imagenet': brisknet downloads nothing; put Keras' file {imagenet_file} at {path} "
                f"(Keras downloads it there), or pass weights=<path of the file>")
        weights = path
    model.load_weights(weights)
    return model


def decode_predictions(preds, top=5):
    """Keras' decode_predictions: for each row of ImageNet predictions (n, 1000), the top classes
    as (class id, description, score), best first; the class index is Keras' own
    imagenet_class_index.json, read from Keras' cache folder (brisknet downloads nothing)."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
                         f"(samples, 1000)). Received array with shape: {preds.shape}")
    path = keras_cache_file("imagenet_class_index.json")
    try:
        with open(path) as f:
            index = json.load(f)
        classes = [tuple(index[str(i)]) for i in range(1000)]
    except FileNotFoundError:
        raise FileNotFoundError(f"decode_predictions: brisknet downloads nothing; put Keras' imagenet_class_index.json "
                                f"at {path}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not Keras' ImageNet class index ({e})") from None
    out = []
    for row in preds:
        best = np.argsort(row)[-top:][::-1]
        out.append([(str(classes[i][0]), str(classes[i][1]), float(row[i])) for i in best])
    return out
