"""Run in Keras 3's own virtualenv (tests/keras3.py): each keras.applications architecture the
test names, built with weights=None, its biases and normalisation statistics made random too,
written as Keras writes weights (model.save_weights('.weights.h5') and the legacy
model.save('.h5')); prints Keras' predictions on a fixed batch as JSON. brisknet then loads both
files into its own build of the architecture and must predict the same."""
import json
import os
import sys

import numpy as np

# (builder, arguments): small inputs so the files stay small and the run quick
CASES = {
    "MobileNetV2": dict(input_shape=(96, 96, 3), classes=10, classifier_activation=None),
    "ResNet50": dict(input_shape=(64, 64, 3), include_top=False, pooling="avg"),
    "VGG16": dict(input_shape=(32, 32, 3), include_top=False, pooling="max"),
    "EfficientNetB0": dict(input_shape=(64, 64, 3), classes=10, classifier_activation=None),
}


def randomized(model, rng):
    for layer in model.layers:
        values = []
        for w in layer.weights:
            v = np.asarray(w.numpy())
            name = w.path.rsplit("/", 1)[-1]
            if name in ("gamma", "moving_variance", "variance"):
                v = rng.uniform(0.5, 1.5, v.shape)
            elif name in ("beta", "bias", "moving_mean", "mean"):
                v = rng.normal(0, 0.1, v.shape)
            values.append(v.astype(np.float32) if v.dtype.kind == "f" else v)
        if values:
            layer.set_weights(values)


def main(workdir, names):
    import keras
    keras.utils.set_random_seed(0)
    out = {}
    for name in names:
        kwargs = CASES[name]
        model = getattr(keras.applications, name)(weights=None, **kwargs)
        randomized(model, np.random.default_rng(1))
        model.save_weights(os.path.join(workdir, f"{name}.weights.h5"))
        model.save(os.path.join(workdir, f"{name}.h5"))
        top = 255 if name.startswith("EfficientNet") else 1  # (EfficientNet rescales pixels itself)
        x = np.random.default_rng(2).uniform(-top if top == 1 else 0, top, (2,) + kwargs["input_shape"])
        x = x.astype(np.float32)
        np.save(os.path.join(workdir, f"{name}_x.npy"), x)
        out[name] = np.asarray(model.predict(x, verbose=0), np.float64).tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
