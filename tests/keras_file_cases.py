"""Models for the .keras / .weights.h5 round trips with Keras 3 (test_keras_files.py): each case
builds the same model in either library (`keras` is Keras 3 or brisknet), compiles it and trains
it one epoch on fixed data. Run by Keras itself as
    python keras_file_cases.py make|check DIR
(make: train, save each case as DIR/<case>.keras and .weights.h5, then train one more epoch and
write the weights; check: load brisknet's files from DIR and do the same)."""
import json
import os
import sys

import numpy as np


def data(case):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 2, 4) if case == "rmsprop_centered" else (40, 8)).astype("float32")
    labels = rng.integers(0, 3, 40)
    y = {"adam": labels, "adamw_amsgrad": np.eye(3, dtype="float32")[labels],
         "sgd_nesterov": rng.standard_normal((40, 1)).astype("float32"),
         "rmsprop_centered": rng.standard_normal((40, 2)).astype("float32"),
         "adagrad_dropout": (labels > 0).astype("float32"), "schedule": labels,
         "normalization": rng.standard_normal((40, 1)).astype("float32")}.get(case, labels)
    if case == "functional_text":
        x = rng.integers(0, 20, (40, 8)).astype("float32")
    return x, y


def _functional(keras, case):
    L = keras.layers
    if case == "functional_residual":
        inputs = keras.Input((8,))
        h = L.Dense(6, activation="relu")(inputs)
        # (no bias before BatchNormalization: its gradient is zero but for round-off, which Adam
        # would scale up to steps of the learning rate, differently in each library)
        r = L.BatchNormalization(momentum=0.9)(L.Dense(6, use_bias=False)(h))
        h = L.LayerNormalization()(L.Add()([h, L.Activation("relu")(r)]))
        model = keras.Model(inputs, L.Dense(3, activation="softmax")(h))
        model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    elif case == "functional_text":
        tokens = keras.Input((8,))
        pooled = L.GlobalAveragePooling1D()(L.Embedding(20, 4)(tokens))
        model = keras.Model(tokens, L.Dense(3, activation="softmax")(L.Dense(5, activation="tanh")(pooled)))
        model.compile(keras.optimizers.RMSprop(0.01), "sparse_categorical_crossentropy")
    else:  # functional_merge: a shared layer, merge and reshaping layers
        inputs = keras.Input((8,))
        shared = L.Dense(4, activation="tanh")
        a, b = shared(inputs), shared(L.Dense(8)(inputs))
        grid = L.Permute((2, 1))(L.Reshape((2, 6))(L.Concatenate()([L.Multiply()([a, b]), L.Subtract()([a, b]),
                                                                      L.Maximum()([a, b])])))
        both = L.Concatenate()([L.Flatten()(grid), L.Dot(axes=1)([a, b])])
        model = keras.Model(inputs, L.Dense(3, activation="softmax")(both))
        model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    return model


def build(keras, case):
    L = keras.layers
    if case in ("adam", "schedule"):
        model = keras.Sequential([keras.Input((8,)), L.Dense(6, activation="relu",
                                                             kernel_regularizer=keras.regularizers.L2(0.01)),
                                  L.Dense(4, activation="elu"), L.Dense(3, activation="softmax")])
        lr = 0.01 if case == "adam" else keras.optimizers.schedules.ExponentialDecay(0.02, 3, 0.5)
        model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    elif case == "adamw_amsgrad":
        model = keras.Sequential([keras.Input((8,)), L.Dense(6, activation="tanh"), L.LeakyReLU(0.1), L.Dense(3),
                                  L.Softmax()])
        model.compile(keras.optimizers.AdamW(0.01, amsgrad=True), "categorical_crossentropy")
    elif case == "sgd_nesterov":
        inner = keras.Sequential([L.Dense(5, activation="sigmoid"), L.Dense(4)], name="inner")
        model = keras.Sequential([keras.Input((8,)), inner, L.ReLU(), L.Dense(1)])
        model.compile(keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True), "mse", metrics=["mae"])
    elif case == "rmsprop_centered":
        model = keras.Sequential([keras.Input((2, 4)), L.Flatten(), L.Dense(5, activation="selu"), L.ELU(0.5),
                                  L.Dense(2, activation="softplus")])
        model.compile(keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True), "mae")
    elif case in ("adamax", "nadam", "adadelta", "lion"):
        model = keras.Sequential([keras.Input((8,)), L.Dense(5, activation="tanh"), L.Dense(3, activation="softmax")])
        optimizer = {"adamax": keras.optimizers.Adamax(0.02), "nadam": keras.optimizers.Nadam(0.02),
                     "adadelta": keras.optimizers.Adadelta(1.0), "lion": keras.optimizers.Lion(0.01)}[case]
        model.compile(optimizer, "sparse_categorical_crossentropy")
    elif case == "normalization":  # the regression tutorial's preprocessing
        model = keras.Sequential([keras.Input((8,)), L.Normalization(), L.Rescaling(0.5, offset=0.1),
                                  L.Dense(4, activation="relu"), L.Dense(1)])
        model.compile(keras.optimizers.Adam(0.01), "mean_absolute_error")
    elif case == "adagrad_dropout":
        model = keras.Sequential([keras.Input((8,)), L.Dense(4, activation="silu"), L.Dropout(0.3),
                                  L.Activation("relu6"), L.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.Adagrad(0.1), "binary_crossentropy", metrics=["accuracy"])
    elif case.startswith("functional"):
        model = _functional(keras, case)
    rng = np.random.default_rng(1)
    model.set_weights([(np.abs(rng.standard_normal(np.shape(w))) + 0.5 if "variance" in w.name else
                        rng.standard_normal(np.shape(w)) * 0.4).astype("float32") for w in model.weights])
    if case == "normalization":
        model.layers[0].adapt(data(case)[0] * 3 + 1)
    return model


CASES = ["adam", "adamw_amsgrad", "sgd_nesterov", "rmsprop_centered", "adagrad_dropout", "schedule", "adamax", "nadam",
         "adadelta", "lion", "normalization", "functional_residual", "functional_text", "functional_merge"]
DROPOUT = {"adagrad_dropout"}  # training draws different masks in each library: compare inference only


def train(model, case):
    x, y = data(case)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)


def predict(model, case):
    return np.asarray(model.predict(data(case)[0], verbose=0), "float64")


def after_one_more_epoch(model, case):
    train(model, case)
    return [np.asarray(w, "float64").tolist() for w in model.get_weights()]


def make(keras, directory):
    """Each case trained one epoch, saved, then trained one more epoch."""
    out = {}
    for case in CASES:
        model = build(keras, case)
        train(model, case)
        model.save(os.path.join(directory, case + ".keras"))
        model.save_weights(os.path.join(directory, case + ".weights.h5"))
        out[case] = {"predict": predict(model, case).tolist(),
                     "continued": None if case in DROPOUT else after_one_more_epoch(model, case)}
    return out


def check(keras, directory):
    """Each case loaded from the other library's files, then trained one more epoch."""
    out = {}
    for case in CASES:
        model = keras.models.load_model(os.path.join(directory, case + ".keras"))
        fresh = build(keras, case)
        fresh.load_weights(os.path.join(directory, case + ".weights.h5"))
        out[case] = {"predict": predict(model, case).tolist(), "weights_h5_predict": predict(fresh, case).tolist(),
                     "iterations": int(np.asarray(model.optimizer.iterations)),
                     "continued": None if case in DROPOUT else after_one_more_epoch(model, case)}
    return out


if __name__ == "__main__":
    import keras
    result = (make if sys.argv[1] == "make" else check)(keras, sys.argv[2])
    print(json.dumps(result))
