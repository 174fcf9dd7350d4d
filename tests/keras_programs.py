"""Keras programs as people write them, taken from the Keras 3 guides ("The Sequential model",
"Training & evaluation with the built-in methods", "Writing your own callbacks", "Save, serialize,
and export models") and the docstring examples of Keras' callbacks, metrics, losses and schedules.

Each program is a function of the `keras` module (Keras 3 itself, or brisknet imported as keras)
returning JSON-able results; test_keras_programs.py runs every program on brisknet and compares
with Keras 3 run live (a virtualenv of its own, see keras3.py) and with the values Keras recorded
in keras_programs_expected.json. Weights are set from a seeded numpy generator and fits do not
shuffle, so both libraries train on the same numbers in the same order.

Record Keras' values again (with Keras 3 installed in that Python):
    KERAS_BACKEND=torch python tests/keras_programs.py --record
"""
import json
import os
import sys

import numpy as np


def _data(n=96, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    y = rng.integers(0, classes, n)
    return x, y


def _set_weights(model, seed=1):
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.standard_normal(np.shape(w)) * 0.3).astype("float32") for w in model.get_weights()])


def _floats(values):
    return [float(v) for v in values]


# ------------------------------------------------------------------------------ The Sequential model
def sequential_guide(keras, workdir):
    layers, ops = keras.layers, keras.ops
    out = {}
    model = keras.Sequential([layers.Dense(2, activation="relu", name="layer1"),
                              layers.Dense(3, activation="relu", name="layer2"),
                              layers.Dense(4, name="layer3")])
    x = ops.ones((3, 3))
    y = model(x)
    out["call_shape"] = list(ops.shape(y))
    out["layer_names"] = [layer.name for layer in model.layers]
    model.pop()
    out["after_pop"] = len(model.layers)
    layer = layers.Dense(3)
    out["weights_before_call"] = len(layer.weights)
    layer(ops.ones((1, 4)))
    out["weights_after_call"] = [list(w.shape) for w in layer.weights]
    out["weight_names"] = [w.name for w in layer.weights]
    model = keras.Sequential()
    model.add(keras.Input(shape=(4,)))
    model.add(layers.Dense(2, activation="relu"))
    out["input_not_a_layer"] = len(model.layers)
    out["count_params"] = model.count_params()
    # transfer learning: freeze all but the last layer
    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(32, activation="relu"),
                              layers.Dense(32, activation="relu"), layers.Dense(32, activation="relu"),
                              layers.Dense(10)])
    for layer in model.layers[:-1]:
        layer.trainable = False
    out["trainable_weights"] = len(model.trainable_weights)
    out["non_trainable_weights"] = len(model.non_trainable_weights)
    # a Sequential inside a Sequential, and a layer built with batch-first shapes
    inner = keras.Sequential([layers.Dense(5, activation="relu"), layers.Dense(3)])
    model = keras.Sequential([keras.Input((4,)), inner, layers.Dense(2)])
    _set_weights(model)
    xs = np.random.default_rng(2).standard_normal((6, 4)).astype("float32")
    out["nested_predict"] = np.asarray(model.predict(xs, verbose=0)).round(5).tolist()
    out["nested_weights"] = len(model.weights)
    inner.trainable = False
    out["nested_frozen_trainable"] = len(model.trainable_weights)
    dense = layers.Dense(3)
    dense.build((None, 4))
    out["built_kernel_shape"] = list(dense.kernel.shape)
    out["compute_output_shape"] = list(dense.compute_output_shape((None, 4)))
    out["activation_layer"] = ops.convert_to_numpy(layers.Activation("relu")(np.array([[-1.0, 2.0]], "float32"))).tolist()
    out["softmax_layer"] = ops.convert_to_numpy(layers.Softmax()(np.array([[1.0, 2.0, 3.0]], "float32"))).round(6).tolist()
    dense.kernel.assign(np.ones((4, 3), "float32"))
    out["kernel_numpy"] = ops.convert_to_numpy(dense.kernel).shape == (4, 3) and dense.kernel.numpy().shape == (4, 3)
    out["assign"] = float(ops.convert_to_numpy(dense(np.ones((1, 4), "float32"))).sum())
    return out


# ------------------------------------------------------------------------------ Writing your own callbacks
def callbacks_guide(keras, workdir):
    events = []

    class CustomCallback(keras.callbacks.Callback):
        def _log(self, hook, logs):
            events.append([hook, sorted(logs.keys())])

        def on_train_begin(self, logs=None): self._log("train_begin", logs)
        def on_train_end(self, logs=None): self._log("train_end", logs)
        def on_epoch_begin(self, epoch, logs=None): self._log(f"epoch_begin {epoch}", logs)
        def on_epoch_end(self, epoch, logs=None): self._log(f"epoch_end {epoch}", logs)
        def on_test_begin(self, logs=None): self._log("test_begin", logs)
        def on_test_end(self, logs=None): self._log("test_end", logs)
        def on_predict_begin(self, logs=None): self._log("predict_begin", logs)
        def on_predict_end(self, logs=None): self._log("predict_end", logs)
        def on_train_batch_begin(self, batch, logs=None): self._log(f"train_batch_begin {batch}", logs)
        def on_train_batch_end(self, batch, logs=None): self._log(f"train_batch_end {batch}", logs)
        def on_test_batch_begin(self, batch, logs=None): self._log(f"test_batch_begin {batch}", logs)
        def on_test_batch_end(self, batch, logs=None): self._log(f"test_batch_end {batch}", logs)
        def on_predict_batch_begin(self, batch, logs=None): self._log(f"predict_batch_begin {batch}", logs)
        def on_predict_batch_end(self, batch, logs=None): self._log(f"predict_batch_end {batch}", logs)

    class LossHistory(keras.callbacks.Callback):  # the legacy batch hooks
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    def get_model():
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1), loss="mean_squared_error",
                      metrics=["mean_absolute_error"])
        _set_weights(model)
        return model

    x, y = _data(40)
    y = y.astype("float32")
    model = get_model()
    lam = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append(["lambda train_begin", sorted(logs)]),
        on_epoch_end=lambda epoch, logs: events.append(["lambda epoch_end", epoch, sorted(logs)]))
    history = LossHistory()
    h = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.5, shuffle=False,
                  callbacks=[CustomCallback(), history, lam])
    model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[CustomCallback()])
    model.predict(x, batch_size=16, verbose=0, callbacks=[CustomCallback()])
    out = {"events": events, "params": h.params, "history_keys": sorted(h.history),
           "per_batch_losses": _floats(history.per_batch_losses), "epochs": h.epoch}

    class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
        def __init__(self, patience=0):
            super().__init__()
            self.patience = patience
            self.best_weights = None

        def on_train_begin(self, logs=None):
            self.wait, self.stopped_epoch, self.best = 0, 0, np.inf

        def on_epoch_end(self, epoch, logs=None):
            current = logs.get("loss")
            if np.less(current, self.best):
                self.best, self.wait = current, 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.stopped_epoch = epoch
                    self.model.stop_training = True
                    self.model.set_weights(self.best_weights)

    class CustomLearningRateScheduler(keras.callbacks.Callback):
        def __init__(self, schedule):
            super().__init__()
            self.schedule = schedule

        def on_epoch_begin(self, epoch, logs=None):
            lr = self.model.optimizer.learning_rate
            self.model.optimizer.learning_rate = self.schedule(epoch, float(np.asarray(lr)))

    table = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]

    def lr_schedule(epoch, lr):
        if epoch < table[0][0] or epoch > table[-1][0]:
            return lr
        for i in range(len(table)):
            if epoch == table[i][0]:
                return table[i][1]
        return lr

    model = get_model()
    stopper = EarlyStoppingAtMinLoss(patience=2)
    h = model.fit(x, y, batch_size=8, epochs=15, verbose=0, shuffle=False,
                  callbacks=[stopper, CustomLearningRateScheduler(lr_schedule)])
    out["early_stopping_epochs"] = len(h.history["loss"])
    out["early_stopping_losses"] = _floats(h.history["loss"])
    # the stock callbacks
    model = get_model()
    logger = keras.callbacks.CSVLogger(os.path.join(workdir, "log.csv"))
    ck = keras.callbacks.ModelCheckpoint(os.path.join(workdir, "ckpt", "m_{epoch}.keras"), save_best_only=True,
                                         monitor="loss")
    ckw = keras.callbacks.ModelCheckpoint(os.path.join(workdir, "w", "{epoch:02d}.weights.h5"),
                                          save_weights_only=True)
    es = keras.callbacks.EarlyStopping(monitor="loss", min_delta=1e-2, patience=1)
    rl = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0)
    h = model.fit(x, y, batch_size=8, epochs=4, verbose=0, shuffle=False, callbacks=[logger, ck, ckw, es, rl])
    with open(os.path.join(workdir, "log.csv")) as f:
        out["csv_header"] = f.readline().strip()
    out["checkpoints"] = sorted(os.listdir(os.path.join(workdir, "ckpt")))
    out["weight_checkpoints"] = sorted(os.listdir(os.path.join(workdir, "w")))
    out["reduce_lr"] = _floats(h.history["learning_rate"])
    nan_model = get_model()
    w = nan_model.get_weights()
    w[0][0, 0] = np.nan
    nan_model.set_weights(w)
    h = nan_model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    out["terminate_on_nan_epochs"] = len(h.history["loss"])
    return out


# ------------------------------------------------------------------------------ Training & evaluation
def training_guide(keras, workdir):
    layers, ops = keras.layers, keras.ops
    x, y = _data(96, 8, 4)
    x_val, y_val = _data(32, 8, 4, seed=5)

    def get_uncompiled_model():
        model = keras.Sequential([keras.Input(shape=(8,), name="digits"),
                                  layers.Dense(16, activation="relu", name="dense_1"),
                                  layers.Dense(16, activation="relu", name="dense_2"),
                                  layers.Dense(4, activation="softmax", name="predictions")])
        _set_weights(model)
        return model

    out = {}
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = model.fit(x, y, batch_size=16, epochs=2, validation_data=(x_val, y_val), shuffle=False, verbose=0)
    out["history"] = {k: _floats(v) for k, v in history.history.items()}
    out["evaluate"] = _floats(model.evaluate(x_val, y_val, batch_size=8, verbose=0))
    out["predict_shape"] = list(model.predict(x_val[:3], verbose=0).shape)
    # strings
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    out["strings"] = _floats(model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history["loss"])

    # a custom loss function and a Loss subclass
    def custom_mean_squared_error(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    y_one_hot = ops.one_hot(y, num_classes=4)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
    out["custom_loss_fn"] = _floats(model.fit(x, y_one_hot, batch_size=32, epochs=2, shuffle=False,
                                              verbose=0).history["loss"])

    class CustomMSE(keras.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
    out["custom_loss_class"] = _floats(model.fit(x, y_one_hot, batch_size=32, epochs=2, shuffle=False,
                                                 verbose=0).history["loss"])

    # a custom metric with state variables
    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(ops.reshape(y_true, (-1, 1)), "int32") == ops.cast(y_pred, "int32")
            values = ops.cast(values, "float32")
            if sample_weight is not None:
                values = ops.multiply(values, ops.cast(ops.reshape(sample_weight, (-1, 1)), "float32"))
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives.value

        def reset_state(self):
            self.true_positives.assign(0.0)

    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=[CategoricalTruePositives()])
    h = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    out["custom_metric"] = _floats(h.history["categorical_true_positives"])
    # class and sample weights
    class_weight = {0: 1.0, 1: 1.0, 2: 2.0, 3: 0.5}
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    out["class_weight"] = _floats(model.fit(x, y, class_weight=class_weight, batch_size=16, epochs=1, shuffle=False,
                                            verbose=0).history["loss"])
    sample_weight = np.ones(shape=(len(y),))
    sample_weight[y == 2] = 2.0
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    out["sample_weight"] = _floats(model.fit(x, y, sample_weight=sample_weight, batch_size=16, epochs=1,
                                             shuffle=False, verbose=0).history["loss"])
    # a learning-rate schedule
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=lr_schedule),
                  loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    out["schedule"] = _floats(model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"])
    out["validation_split"] = sorted(model.fit(x, y, batch_size=16, epochs=1, validation_split=0.25, verbose=0,
                                               shuffle=False).history)
    return out


def pydataset_guide(keras, workdir):
    """The training guide's PyDataset, and a generator with steps_per_epoch."""
    import math

    class ExamplePyDataset(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, idx):
            low = idx * self.batch_size
            high = min(low + self.batch_size, len(self.x))
            return self.x[low:high], self.y[low:high]

    x, y = _data(100, 8, 3)
    train_py_dataset = ExamplePyDataset(x[:80], y[:80], batch_size=32)
    val_py_dataset = ExamplePyDataset(x[80:], y[80:], batch_size=32)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    _set_weights(model)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    seen = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(train_py_dataset, validation_data=val_py_dataset, epochs=2, verbose=0, callbacks=[cb],
                        shuffle=False)
    out = {"history": {k: _floats(v) for k, v in history.history.items()}, "batches": seen,
           "params_steps": history.params["steps"],
           "evaluate": _floats(model.evaluate(val_py_dataset, verbose=0)),
           "predict_shape": list(np.shape(model.predict(val_py_dataset, verbose=0)))}

    def gen():
        while True:
            for i in range(0, 80, 20):
                yield x[i:i + 20], y[i:i + 20]

    history = model.fit(gen(), steps_per_epoch=3, epochs=2, verbose=0)
    out["generator"] = _floats(history.history["loss"])
    model.fit(train_py_dataset, epochs=2, verbose=0)  # batches in a random order: it runs, values not compared
    return out


# ------------------------------------------------------------------------------ Save, serialize, export
def saving_guide(keras, workdir):
    x, y = _data(32, 8, 3)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    _set_weights(model)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    path = os.path.join(workdir, "my_model.keras")
    model.save(path)
    reconstructed = keras.models.load_model(path)
    out = {"reload_equal": bool(np.allclose(model.predict(x, verbose=0), reconstructed.predict(x, verbose=0),
                                            atol=1e-6)),
           "reload_iterations": int(np.asarray(reconstructed.optimizer.iterations))}
    # training goes on from the saved optimizer state in both
    h1 = model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history["loss"]
    h2 = reconstructed.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history["loss"]
    out["resumed_equal"] = bool(np.allclose(h1, h2, rtol=1e-5))
    config = model.get_config()
    out["from_config_layers"] = len(keras.Sequential.from_config(config).layers)
    json_config = model.to_json()
    out["from_json_layers"] = len(keras.models.model_from_json(json_config).layers)
    clone = keras.models.clone_model(model)
    out["clone_layers"] = [type(layer).__name__ for layer in clone.layers]
    out["clone_fresh_weights"] = not np.allclose(clone.get_weights()[0], model.get_weights()[0])
    wpath = os.path.join(workdir, "ckpt.weights.h5")
    model.save_weights(wpath)
    clone.load_weights(wpath)
    out["weights_h5_equal"] = bool(np.allclose(model.predict(x, verbose=0), clone.predict(x, verbose=0), atol=1e-6))
    # weights moved layer by layer
    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    for a, b in zip(other.layers, model.layers):
        a.set_weights(b.get_weights())
    out["set_weights_equal"] = bool(np.allclose(model.predict(x, verbose=0), other.predict(x, verbose=0)))
    keras.saving.save_model(model, os.path.join(workdir, "again.keras"))
    out["saving_module"] = len(keras.saving.load_model(os.path.join(workdir, "again.keras")).layers)
    return out


# ------------------------------------------------------------------------------ docstring examples
def metric_docstrings(keras, workdir):
    m = keras.metrics
    out = {}
    for name, cls, y_true, y_pred, w in [
            ("FalsePositives", m.FalsePositives, [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0]),
            ("FalseNegatives", m.FalseNegatives, [0, 1, 1, 1], [0, 1, 0, 0], [0, 0, 1, 0]),
            ("TrueNegatives", m.TrueNegatives, [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0]),
            ("TruePositives", m.TruePositives, [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0]),
            ("Precision", m.Precision, [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0]),
            ("Recall", m.Recall, [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0])]:
        metric = cls()
        metric.update_state(y_true, y_pred)
        first = float(np.asarray(metric.result()))
        metric.reset_state()
        metric.update_state(y_true, y_pred, sample_weight=w)
        out[name] = [first, float(np.asarray(metric.result()))]
    metric = m.AUC(num_thresholds=3)
    metric.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    out["AUC"] = float(np.asarray(metric.result()))
    metric = m.AUC(num_thresholds=3, from_logits=True)
    metric.update_state([0, 0, 1, 1], [-4.0, 0.0, -0.8, 2.2])
    out["AUC_logits"] = float(np.asarray(metric.result()))
    metric = m.BinaryAccuracy()
    metric.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    out["BinaryAccuracy"] = float(np.asarray(metric.result()))
    metric = m.CategoricalAccuracy()
    metric.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    out["CategoricalAccuracy"] = float(np.asarray(metric.result()))
    metric = m.SparseCategoricalAccuracy()
    metric.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    out["SparseCategoricalAccuracy"] = float(np.asarray(metric.result()))
    metric = m.TopKCategoricalAccuracy(k=1)
    metric.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    out["TopK"] = float(np.asarray(metric.result()))
    metric = m.MeanSquaredError()
    metric.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    out["MeanSquaredError"] = float(np.asarray(metric.result()))
    metric = m.RootMeanSquaredError()
    metric.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    out["RootMeanSquaredError"] = float(np.asarray(metric.result()))
    metric = m.Mean()
    metric.update_state([1, 3, 5, 7])
    out["Mean"] = float(np.asarray(metric.result()))
    out["call"] = float(np.asarray(m.BinaryAccuracy()([[1], [0]], [[0.7], [0.6]])))
    f_true = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
    f_pred = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)
    for average in (None, "micro", "macro", "weighted"):
        for threshold in (None, 0.5):
            metric = m.F1Score(average=average, threshold=threshold)
            metric.update_state(f_true, f_pred)
            out[f"F1Score {average} {threshold}"] = np.round(np.asarray(metric.result(), "float64"), 5).tolist()
    metric = m.FBetaScore(beta=2.0, threshold=0.5)
    metric.update_state(f_true, f_pred, sample_weight=np.array([1.0, 2.0, 0.5], "float32"))
    out["FBetaScore"] = np.round(np.asarray(metric.result(), "float64"), 5).tolist()
    r_true = np.array([[1, 4, 3], [2, 8, 1]], np.float32)
    r_pred = np.array([[2, 4, 4], [1, 7, 3]], np.float32)
    for aggregation in (None, "uniform_average", "variance_weighted_average"):
        metric = m.R2Score(class_aggregation=aggregation)
        metric.update_state(r_true, r_pred)
        out[f"R2Score {aggregation}"] = np.round(np.asarray(metric.result(), "float64"), 5).tolist()
    metric = m.R2Score()
    metric.update_state(np.array([[1.0], [4.0], [3.0]], "float32"), np.array([[2.0], [4.0], [4.0]], "float32"))
    out["R2Score docstring"] = round(float(np.asarray(metric.result())), 5)
    return out


def loss_docstrings(keras, workdir):
    L = keras.losses
    y_true = np.array([[0.0, 1.0], [0.0, 0.0]], "float32")
    y_pred = np.array([[1.0, 1.0], [1.0, 0.0]], "float32")
    out = {"mse": float(L.MeanSquaredError()(y_true, y_pred)),
           "mse_weighted": float(L.MeanSquaredError()(y_true, y_pred, sample_weight=np.array([0.7, 0.3]))),
           "mse_sum": float(L.MeanSquaredError(reduction="sum")(y_true, y_pred)),
           "mse_none": np.asarray(L.MeanSquaredError(reduction="none")(y_true, y_pred)).tolist(),
           "mae": float(L.MeanAbsoluteError()(y_true, y_pred)),
           "huber": float(L.Huber()(np.array([[0, 1], [0, 0]], "float32"), np.array([[0.6, 0.4], [0.4, 0.6]], "float32")))}
    bt = np.array([[0, 1], [0, 0]], "float32")
    bp = np.array([[-18.6, 0.51], [2.94, -12.8]], "float32")
    out["bce_logits"] = float(L.BinaryCrossentropy(from_logits=True)(bt, bp))
    ct = np.array([[0, 1, 0], [0, 0, 1]], "float32")
    cp = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], "float32")
    out["cce"] = float(L.CategoricalCrossentropy()(ct, cp))
    out["scce"] = float(L.SparseCategoricalCrossentropy()(np.array([1, 2]), cp))
    out["scce_fn"] = np.asarray(L.sparse_categorical_crossentropy(np.array([1, 2]), cp)).round(6).tolist()
    return out


def schedule_docstrings(keras, workdir):
    s = keras.optimizers.schedules
    out = {}
    for name, sched in [("exponential", s.ExponentialDecay(0.1, 10, 0.96)),
                        ("exponential_staircase", s.ExponentialDecay(0.1, 10, 0.96, staircase=True)),
                        ("piecewise", s.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])),
                        ("polynomial", s.PolynomialDecay(0.1, 100, 0.01, power=0.5)),
                        ("inverse_time", s.InverseTimeDecay(0.1, 10, 0.5)),
                        ("cosine", s.CosineDecay(0.1, 100)),
                        ("cosine_warmup", s.CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10)),
                        ("cosine_restarts", s.CosineDecayRestarts(0.1, 20)),
                        ("cosine_restarts_flat", s.CosineDecayRestarts(0.1, 20, t_mul=1.0, m_mul=0.5, alpha=0.1))]:
        out[name] = [round(float(np.asarray(sched(step))), 7) for step in (0, 5, 10, 15, 25, 60, 100, 150)]
    return out


def ops_examples(keras, workdir):
    ops = keras.ops
    x = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]], "float32")
    results = {
        "ones": ops.ones((2, 3)), "zeros_like": ops.zeros_like(x), "full": ops.full((2,), 3.0),
        "exp": ops.exp(x), "log1p": ops.log1p(ops.abs(x)), "square": ops.square(x), "sqrt": ops.sqrt(ops.abs(x)),
        "mean": ops.mean(x), "mean_axis": ops.mean(x, axis=0), "sum_keep": ops.sum(x, axis=1, keepdims=True),
        "max": ops.max(x, axis=-1), "argmax": ops.argmax(x, axis=1), "std": ops.std(x), "var": ops.var(x, axis=0),
        "matmul": ops.matmul(x, ops.transpose(x)), "clip": ops.clip(x, -1.0, 1.0), "where": ops.where(x > 0, x, 0.0),
        "one_hot": ops.one_hot(np.array([0, 2, 1]), 3), "maximum": ops.maximum(x, 0.5), "relu": ops.relu(x),
        "relu6": ops.relu6(x * 3), "sigmoid": ops.sigmoid(x), "softmax": ops.softmax(x), "softmax0": ops.softmax(x, axis=0),
        "log_softmax": ops.log_softmax(x), "logsumexp": ops.logsumexp(x, axis=1), "tanh": ops.tanh(x),
        "softplus": ops.softplus(x), "leaky_relu": ops.leaky_relu(x), "elu": ops.elu(x), "gelu": ops.gelu(x),
        "silu": ops.silu(x), "reshape": ops.reshape(x, (3, 2)), "expand_dims": ops.expand_dims(x, 0),
        "concatenate": ops.concatenate([x, x], axis=1), "stack": ops.stack([x, x]), "arange": ops.arange(5),
        "linspace": ops.linspace(0.0, 1.0, 5), "cast": ops.cast(x, "int32"), "divide_no_nan": ops.divide_no_nan(x, x),
        "norm": ops.norm(x), "top_k_values": ops.top_k(x[0], 2)[0],
        "binary_crossentropy": ops.binary_crossentropy(np.array([0.0, 1.0]), np.array([0.3, 0.8])),
        "categorical_crossentropy": ops.categorical_crossentropy(np.eye(3)[[0, 2]], ops.softmax(np.array([[1.0, 2, 3], [3, 1, 2]]))),
        "sparse_categorical_crossentropy": ops.sparse_categorical_crossentropy(np.array([0, 2]), np.array([[1.0, 2, 3], [3, 1, 2]]), from_logits=True),
        "erf": ops.erf(x), "take": ops.take(x, np.array([0, 2]), axis=1), "square_int": ops.square(np.array([2, 3])),
        "mean_int": ops.mean(np.array([1, 2])), "sign": ops.sign(x), "round": ops.round(x), "floor": ops.floor(x),
    }
    out = {}
    for name, value in results.items():
        arr = np.asarray(ops.convert_to_numpy(value))
        out[name] = {"value": np.round(arr.astype("float64"), 5).tolist(), "shape": list(arr.shape),
                     "dtype": arr.dtype.name}
    out["shape"] = list(ops.shape(x))
    out["top_k_indices"] = np.asarray(ops.convert_to_numpy(ops.top_k(x[0], 2)[1])).tolist()  # int32 or int64 by backend
    return out


def more_ops(keras, workdir):
    """A sample of keras.ops beyond the common ones."""
    ops = keras.ops
    x = np.array([[1.0, -2.0, 3.0, 0.5], [0.25, 4.0, -1.5, 2.0]], "float32")
    sq = np.array([[4.0, 1.0], [1.0, 3.0]], "float32")
    calls = {
        "cbrt": lambda: ops.cbrt(x), "diff": lambda: ops.diff(x), "roll": lambda: ops.roll(x, 1, axis=1),
        "percentile": lambda: ops.percentile(x, 30.0), "nanmean": lambda: ops.nanmean(np.array([1.0, np.nan, 3.0])),
        "logspace": lambda: ops.logspace(0.0, 2.0, 3), "kron": lambda: ops.kron(sq, sq),
        "searchsorted": lambda: ops.searchsorted(np.array([1.0, 2.0, 4.0]), np.array([0.5, 2.0, 3.0])),
        "cross": lambda: ops.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])),
        "segment_sum": lambda: ops.segment_sum(x, np.array([1, 1]), num_segments=3),
        "scatter": lambda: ops.scatter(np.array([[0, 1], [1, 0]]), np.array([5.0, 7.0]), (2, 2)),
        "multi_hot": lambda: ops.multi_hot(np.array([[0, 2], [1, 1]]), 3),
        "celu": lambda: ops.celu(x), "glu": lambda: ops.glu(x), "hard_shrink": lambda: ops.hard_shrink(x),
        "soft_shrink": lambda: ops.soft_shrink(x), "squareplus": lambda: ops.squareplus(x),
        "sparse_plus": lambda: ops.sparse_plus(x / 3), "threshold": lambda: ops.threshold(x, 0.7, -1.0),
        "tanh_shrink": lambda: ops.tanh_shrink(x), "hard_tanh": lambda: ops.hard_tanh(x),
        "batch_normalization": lambda: ops.batch_normalization(x, np.ones(4, "float32"), np.full(4, 2.0, "float32"),
                                                                 axis=1, offset=np.zeros(4, "float32"),
                                                                 scale=np.ones(4, "float32")),
        "rms_normalization": lambda: ops.rms_normalization(x, epsilon=1e-6),
        "logdet": lambda: ops.logdet(sq), "inv": lambda: ops.inv(sq), "solve": lambda: ops.solve(sq, np.eye(2, dtype="float32")),
        "trapezoid": lambda: ops.trapezoid(x), "ptp": lambda: ops.ptp(x, axis=1), "trunc": lambda: ops.trunc(x),
        "select": lambda: ops.select([x > 1, x < 0], [x, -x], 9.0), "isin": lambda: ops.isin(x, [3.0, 4.0]),
        "slice_update": lambda: ops.slice_update(x, (0, 1), np.zeros((1, 2), "float32")),
        "scatter_update": lambda: ops.scatter_update(x, np.array([[0, 0]]), np.array([9.0], "float32")),
        "fori_loop": lambda: ops.fori_loop(0, 4, lambda i, v: v + i, 0),
    }
    out = {}
    for name, call in calls.items():
        try:
            out[name] = np.round(np.asarray(ops.convert_to_numpy(call()), "float64"), 4).tolist()
        except Exception as e:  # reported per op: one unsupported op must not hide the others
            out[name] = f"error {type(e).__name__}"
    return out


def loss_shapes(keras, workdir):
    """Targets of other shapes than the model's output, as Keras accepts (or refuses) them."""
    rng = np.random.default_rng(0)
    x = rng.random((32, 5)).astype("float32")
    out = {}
    cases = [("mse", 1, (32,)), ("mse", 1, (32, 1)), ("mse", 3, (32, 1)), ("mae", 3, (32, 1)), ("huber", 3, (32, 1)),
             ("binary_crossentropy", 1, (32,)), ("binary_crossentropy", 3, (32,)), ("binary_crossentropy", 3, (32, 1)),
             ("sparse_categorical_crossentropy", 3, (32,)), ("sparse_categorical_crossentropy", 3, (32, 1)),
             ("categorical_crossentropy", 3, (32,))]
    for loss, units, yshape in cases:
        y = rng.integers(0, units, yshape) if "sparse" in loss else (rng.random(yshape) > 0.5).astype("float32")
        activation = "sigmoid" if "binary" in loss else "softmax" if "categorical" in loss else None
        m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(units, activation=activation,
                                                                     kernel_initializer="ones")])
        m.compile("sgd", loss)
        try:
            out[f"{loss} {units} {yshape}"] = round(float(m.evaluate(x, y, verbose=0)), 5)
        except ValueError:
            out[f"{loss} {units} {yshape}"] = "ValueError"
    return out


def more_losses_metrics_optimizers(keras, workdir):
    """Keras' other losses, metrics and optimizers: values on fixed inputs, and short trainings."""
    rng = np.random.default_rng(4)
    y01 = (rng.random((6, 3)) > 0.5).astype("float32")
    pos = rng.random((6, 3)).astype("float32") + 0.05
    signed = rng.standard_normal((6, 3)).astype("float32")
    out = {}
    for name, cls in (("hinge", "Hinge"), ("squared_hinge", "SquaredHinge"), ("categorical_hinge", "CategoricalHinge"),
                      ("log_cosh", "LogCosh"), ("kl_divergence", "KLDivergence"), ("poisson", "Poisson"),
                      ("mean_absolute_percentage_error", "MeanAbsolutePercentageError"),
                      ("mean_squared_logarithmic_error", "MeanSquaredLogarithmicError"),
                      ("cosine_similarity", "CosineSimilarity")):
        y_true = y01 if "hinge" in name else pos[::-1].copy()
        y_pred = signed if "hinge" in name or name in ("log_cosh", "cosine_similarity") else pos
        out["loss " + name] = round(float(getattr(keras.losses, cls)()(y_true, y_pred)), 5)
        out["fn " + name] = np.round(np.asarray(getattr(keras.losses, name)(y_true, y_pred), "float64"), 5).tolist()
    m = keras.metrics
    for cls in ("Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "LogCoshError",
                "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "CosineSimilarity", "BinaryCrossentropy",
                "CategoricalCrossentropy"):
        metric = getattr(m, cls)()
        metric.update_state(y01 if "Hinge" in cls or "Binary" in cls else pos[::-1].copy(),
                            pos / pos.sum(axis=1, keepdims=True) if cls == "CategoricalCrossentropy" else
                            (np.clip(pos, 0, 0.99) if "Binary" in cls else signed if "Hinge" in cls or "Cos" in cls
                             or "LogCosh" in cls else pos))
        out["metric " + cls] = round(float(np.asarray(metric.result())), 5)
    metric = m.SparseCategoricalCrossentropy()
    metric.update_state(np.array([1, 2]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], "float32"))
    out["metric SparseCategoricalCrossentropy"] = round(float(np.asarray(metric.result())), 5)
    for fn in ("binary_accuracy", "categorical_accuracy"):
        out["metric fn " + fn] = np.asarray(getattr(m, fn)(y01, pos), "float64").tolist()
    out["metric fn top_k"] = np.asarray(m.top_k_categorical_accuracy(y01, pos, k=2), "float64").tolist()
    out["metric fn sparse_categorical_accuracy"] = np.asarray(m.sparse_categorical_accuracy(
        np.array([[0], [2]]), pos[:2]), "float64").tolist()
    x = rng.standard_normal((64, 5)).astype("float32")
    y = rng.standard_normal((64, 2)).astype("float32")
    for name in ("Adamax", "Nadam", "Adadelta", "Lion"):
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(2)])
        _set_weights(model)
        model.compile(getattr(keras.optimizers, name)(learning_rate=1.0 if name == "Adadelta" else 0.05), "mse")
        out["optimizer " + name] = _floats(model.fit(x, y, batch_size=8, epochs=3, shuffle=False,
                                                     verbose=0).history["loss"])
    for loss in ("hinge", "log_cosh", "poisson", "kld", "msle", "cosine_similarity"):
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, activation="softplus")])
        _set_weights(model)
        model.compile("adam", loss)
        target = np.abs(y) if loss in ("poisson", "kld", "msle") else y
        out["train " + loss] = _floats(model.fit(x, target, batch_size=16, epochs=2, shuffle=False,
                                                 verbose=0).history["loss"])
    return out


def regression_tutorial(keras, workdir):
    """The regression tutorial's model: a Normalization adapted to the features, Dense layers, MAE."""
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((120, 5)) * [1, 10, 100, 0.1, 3] + [0, 5, -50, 1, 2]).astype("float32")
    y = (x @ np.array([1.0, -0.2, 0.01, 4.0, 0.5], "float32") + rng.standard_normal(120).astype("float32") * 0.1)
    normalizer = keras.layers.Normalization(axis=-1)
    normalizer.adapt(x)
    out = {"mean": np.round(np.asarray(keras.ops.convert_to_numpy(normalizer.mean), "float64"), 4).tolist(),
           "variance": np.round(np.asarray(keras.ops.convert_to_numpy(normalizer.variance), "float64"), 3).tolist(),
           "first_normalized": np.round(np.asarray(keras.ops.convert_to_numpy(normalizer(x[:1])), "float64"), 5).tolist()}
    model = keras.Sequential([keras.Input((5,)), normalizer, keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    rng2 = np.random.default_rng(1)
    weights = model.get_weights()
    model.set_weights(weights[:3] + [(rng2.standard_normal(np.shape(w)) * 0.3).astype("float32") for w in weights[3:]])
    model.compile(loss="mean_absolute_error", optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(x, y, validation_split=0.2, epochs=3, batch_size=16, shuffle=False, verbose=0)
    out["history"] = {k: _floats(v) for k, v in history.history.items()}
    out["weights"] = [len(model.weights), len(model.trainable_weights), len(model.non_trainable_weights)]
    out["rescaling"] = np.asarray(keras.ops.convert_to_numpy(keras.layers.Rescaling(1.0 / 255)(
        np.array([[0.0, 127.5, 255.0]], "float32"))), "float64").round(6).tolist()
    inverse = keras.layers.Normalization(mean=[2.0], variance=[4.0], invert=True)
    out["invert"] = np.asarray(keras.ops.convert_to_numpy(inverse(np.array([[1.0], [-0.5]], "float32"))),
                               "float64").tolist()
    return out


def callback_docstrings(keras, workdir):
    """The examples in the docstrings of Keras' callbacks."""
    out = {}
    callback = keras.callbacks.EarlyStopping(monitor="loss", patience=3)
    model = keras.models.Sequential([keras.Input((20,)), keras.layers.Dense(10)])
    _set_weights(model)
    model.compile(keras.optimizers.SGD(), loss="mse")
    history = model.fit(np.arange(100).reshape(5, 20).astype("float32"), np.zeros((5, 10), "float32"), epochs=10,
                        batch_size=1, callbacks=[callback], verbose=0, shuffle=False)
    out["early_stopping_epochs"] = len(history.history["loss"])

    def scheduler(epoch, lr):
        return lr if epoch < 10 else float(lr * np.exp(-0.1))

    model = keras.models.Sequential([keras.Input((20,)), keras.layers.Dense(10)])
    model.compile(keras.optimizers.SGD(), loss="mse")
    out["lr_before"] = round(float(np.asarray(model.optimizer.learning_rate)), 6)
    callback = keras.callbacks.LearningRateScheduler(scheduler)
    history = model.fit(np.arange(100).reshape(5, 20).astype("float32"), np.zeros((5, 10), "float32"), epochs=15,
                        callbacks=[callback], verbose=0)
    out["lr_after"] = round(float(np.asarray(model.optimizer.learning_rate)), 6)
    out["lr_history"] = [round(v, 6) for v in _floats(history.history["learning_rate"])]
    x, y = _data(32, 8, 3)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3, activation="softmax")])
    _set_weights(model)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    checkpoint_filepath = os.path.join(workdir, "ckpt", "checkpoint.model.keras")
    ck = keras.callbacks.ModelCheckpoint(filepath=checkpoint_filepath, monitor="val_accuracy", mode="max",
                                         save_best_only=True)
    model.fit(x, y, epochs=3, validation_data=(x, y), callbacks=[ck], verbose=0, shuffle=False)
    best = keras.models.load_model(checkpoint_filepath)
    out["checkpoint_loads"] = list(np.asarray(best.predict(x[:2], verbose=0)).shape)
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.2, patience=1, min_lr=0.0001,
                                                  min_delta=1.0)
    h = model.fit(x, y, epochs=4, callbacks=[reduce_lr], verbose=0, shuffle=False)
    out["reduce_lr"] = [round(v, 7) for v in _floats(h.history["learning_rate"])]
    csv_logger = keras.callbacks.CSVLogger(os.path.join(workdir, "training.log"))
    model.fit(x, y, epochs=2, callbacks=[csv_logger], verbose=0, validation_split=0.25, shuffle=False)
    with open(os.path.join(workdir, "training.log")) as f:
        rows = [line.strip().split(",") for line in f]
    out["csv_header"] = rows[0]
    out["csv_rows"] = len(rows)
    return out


def activation_functions(keras, workdir):
    """keras.activations on values around each function's kinks, NaN and +-Inf, and each as a
    Dense layer's activation."""
    x = np.array([[-np.inf, -7.0, -3.0, -1.2, -0.4, 0.0, 0.3, 1.0, 2.5, 6.5, np.inf, np.nan]], "float32")
    out = {}
    names = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
             "softsign", "silu", "exponential", "mish", "hard_silu", "log_sigmoid", "hard_tanh"]
    for name in names:
        y = np.asarray(keras.ops.convert_to_numpy(getattr(keras.activations, name)(x)), "float64")
        finite = np.isfinite(x[0]) | np.isnan(x[0])  # +-Inf: the libraries differ (inf * 0); NaN must stay NaN
        out[name] = [None if np.isnan(v) else round(float(v), 5) for v in y[0][finite]]
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((5, 4)).astype("float32") * 3
    for name in names:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=name)])
        _set_weights(model)
        out["dense " + name] = np.round(np.asarray(model.predict(xs, verbose=0), "float64"), 5).tolist()
    return out


# ------------------------------------------------------------------------------ The Functional API
def _set_graph_weights(model, seed=1):
    """Seeded weights, variances positive (BatchNormalization's moving variance)."""
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.weights:
        a = (rng.standard_normal(tuple(w.shape)) * 0.3).astype("float32")
        weights.append(np.abs(a) + 0.5 if "variance" in w.name else a)
    model.set_weights(weights)


def _rounded(a, digits=5):
    return np.round(np.asarray(a, "float64"), digits).tolist()


def functional_guide(keras, workdir):
    """The Functional API guide's kinds of models, trained on the same weights and batches: a
    residual MLP (Add, BatchNormalization, LayerNormalization), a text classifier (Embedding and
    global pooling), and a graph of the other merge and reshaping layers with a shared layer."""
    layers = keras.layers
    out = {}
    x, y = _data()
    inputs = keras.Input(shape=(8,), name="features")
    h = layers.Dense(16, activation="relu", name="stem")(inputs)
    r = layers.Dense(16, use_bias=False, name="branch")(h)  # (BatchNormalization centers it)
    r = layers.BatchNormalization(name="bn")(r)
    r = layers.Activation("relu", name="branch_relu")(r)
    h = layers.Add(name="residual")([h, r])
    h = layers.LayerNormalization(name="ln")(h)
    outputs = layers.Dense(3, activation="softmax", name="head")(h)
    model = keras.Model(inputs=inputs, outputs=outputs, name="residual_mlp")
    out["residual_layers"] = [[layer.name, type(layer).__name__] for layer in model.layers]
    out["residual_params"] = [model.count_params(), len(model.trainable_weights), len(model.non_trainable_weights)]
    _set_graph_weights(model)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, validation_split=0.25)
    out["residual_history"] = {k: _floats(v) for k, v in history.history.items()}
    out["residual_predict"] = _rounded(model.predict(x[:4], verbose=0))
    out["residual_moving_stats"] = [_rounded(w, 4) for w in model.get_layer("bn").get_weights()[2:]]
    out["residual_evaluate"] = _floats(model.evaluate(x, y, verbose=0))

    rng = np.random.default_rng(5)
    tokens = rng.integers(0, 40, (64, 12)).astype("int32")
    labels = (tokens[:, :4].mean(axis=1) > 19.5).astype("float32")
    text = keras.Input(shape=(12,), name="tokens")
    e = layers.Embedding(40, 8, name="embed")(text)
    pooled = layers.GlobalAveragePooling1D(name="avg")(e)
    h = layers.Dense(8, activation="relu", name="hidden")(pooled)
    classifier = keras.Model(text, layers.Dense(1, activation="sigmoid", name="score")(h))
    _set_graph_weights(classifier, seed=2)
    classifier.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    history = classifier.fit(tokens, labels, batch_size=8, epochs=3, shuffle=False, verbose=0)
    out["text_history"] = {k: _floats(v) for k, v in history.history.items()}
    out["text_predict"] = _rounded(classifier.predict(tokens[:5], verbose=0))
    out["text_embedding_rows"] = _rounded(classifier.get_layer("embed").get_weights()[0][:3], 4)

    inputs = keras.Input(shape=(6,), name="x")
    shared = layers.Dense(6, activation="tanh", name="shared")
    a = shared(inputs)
    b = shared(layers.Dense(6, name="pre")(inputs))
    merged = layers.Concatenate(name="cat")([layers.Subtract(name="sub")([a, b]), layers.Multiply(name="mul")([a, b]),
                                             layers.Maximum(name="max")([a, b]), layers.Minimum(name="min")([a, b]),
                                             layers.Average(name="avg2")([a, b, inputs])])
    dot = layers.Dot(axes=1, normalize=True, name="cos")([a, b])
    grid = layers.Reshape((5, 6), name="grid")(merged)
    grid = layers.Permute((2, 1), name="swap")(grid)
    flat = layers.Flatten(name="flat")(layers.LayerNormalization(name="ln2")(grid))
    rep = layers.Flatten(name="flat2")(layers.RepeatVector(2, name="rep")(dot))
    both = layers.Concatenate(name="all")([flat, rep, layers.Identity(name="same")(dot)])
    noisy = layers.GaussianNoise(0.1, name="noise")(both)
    noisy = layers.GaussianDropout(0.1, name="gdrop")(noisy)
    graph = keras.Model(inputs, layers.Dense(2, name="out")(noisy), name="graph")
    out["graph_layers"] = [[layer.name, type(layer).__name__] for layer in graph.layers]
    out["graph_output_shape"] = list(graph.output_shape)
    _set_graph_weights(graph, seed=3)
    xg = np.random.default_rng(4).standard_normal((40, 6)).astype("float32")
    yg = np.stack([xg[:, 0] * xg[:, 1], xg[:, 2] - xg[:, 3]], axis=1).astype("float32")
    out["graph_predict_before"] = _rounded(graph.predict(xg[:3], verbose=0))
    # (the noise layers draw their own noise while training: the libraries' draws differ)
    graph.get_layer("noise").stddev = 0.0
    graph.get_layer("gdrop").rate = 0.0
    graph.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    history = graph.fit(xg, yg, batch_size=10, epochs=3, shuffle=False, verbose=0)
    out["graph_history"] = _floats(history.history["loss"])
    out["graph_predict"] = _rounded(graph.predict(xg[:3], verbose=0))
    out["graph_shared_kernel"] = _rounded(graph.get_layer("shared").get_weights()[0][:2], 4)
    return out


def functional_multi_io(keras, workdir):
    """The Functional API guide's models of several inputs and outputs: a two-input model joined by
    Concatenate; a two-output model with loss_weights and metrics per output (lists, then dicts
    by output name), History's per-output names, evaluate and predict."""
    layers = keras.layers
    out = {}
    rng = np.random.default_rng(8)
    title = rng.standard_normal((48, 6)).astype("float32")
    body = rng.standard_normal((48, 10)).astype("float32")
    priority = (title[:, :1] + body[:, :1] > 0).astype("float32")
    department = rng.integers(0, 4, 48)
    title_in = keras.Input(shape=(6,), name="title")
    body_in = keras.Input(shape=(10,), name="body")
    x = layers.Concatenate(name="joined")([layers.Dense(8, activation="relu", name="title_features")(title_in),
                                           layers.Dense(8, activation="relu", name="body_features")(body_in)])
    priority_out = layers.Dense(1, activation="sigmoid", name="priority")(x)
    department_out = layers.Dense(4, activation="softmax", name="department")(x)
    model = keras.Model(inputs=[title_in, body_in], outputs=[priority_out, department_out], name="tickets")
    _set_graph_weights(model, seed=4)
    start = model.get_weights()
    out["output_shape"] = [list(s) for s in model.output_shape]
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=["binary_crossentropy", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.2],
                  metrics=[["accuracy"], ["accuracy"]])
    history = model.fit([title, body], [priority, department], epochs=3, batch_size=16, shuffle=False, verbose=0,
                        validation_split=0.25)
    out["list_history"] = {k: _floats(v) for k, v in history.history.items()}
    out["list_evaluate"] = {k: float(v) for k, v in model.evaluate([title, body], [priority, department], verbose=0,
                                                                   return_dict=True).items()}
    predictions = model.predict([title[:3], body[:3]], verbose=0)
    out["list_predict"] = [_rounded(p) for p in predictions]

    model.set_weights(start)  # the same model compiled with dicts by output name, fed dicts
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss={"priority": "binary_crossentropy", "department": "sparse_categorical_crossentropy"},
                  loss_weights={"priority": 0.5, "department": 1.0}, metrics={"department": ["accuracy"]})
    history = model.fit({"title": title, "body": body}, {"priority": priority, "department": department},
                        epochs=2, batch_size=12, shuffle=False, verbose=0)
    out["dict_history"] = {k: _floats(v) for k, v in history.history.items()}
    out["dict_evaluate"] = _floats(model.evaluate({"title": title, "body": body},
                                                  {"priority": priority, "department": department}, verbose=0))
    return out


# ------------------------------------------------------------------------------ Making new layers and models via subclassing
def subclassing_guide(keras, workdir):
    layers, ops = keras.layers, keras.ops
    out = {}

    class Linear(keras.layers.Layer):
        def __init__(self, units=32, input_dim=32):
            super().__init__()
            self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

    linear_layer = Linear(4, 2)
    linear_layer.set_weights([np.arange(8, dtype="float32").reshape(2, 4) / 10, np.ones(4, "float32")])
    out["linear"] = ops.convert_to_numpy(linear_layer(ops.ones((2, 2)))).tolist()
    out["linear_weights_are_attributes"] = linear_layer.weights == [linear_layer.w, linear_layer.b]

    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(ops.sum(inputs, axis=0))
            return self.total

    my_sum = ComputeSum(2)
    my_sum(ops.ones((2, 2)))
    out["compute_sum"] = ops.convert_to_numpy(my_sum(ops.ones((2, 2)))).tolist()
    out["compute_sum_counts"] = [len(my_sum.weights), len(my_sum.non_trainable_weights),
                                 len(my_sum.trainable_weights)]

    class LinearBuilt(keras.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                     trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

    class MLPBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = LinearBuilt(32)
            self.linear_2 = LinearBuilt(32)
            self.linear_3 = LinearBuilt(1)

        def call(self, inputs):
            x = keras.activations.relu(self.linear_1(inputs))
            x = keras.activations.relu(self.linear_2(x))
            return self.linear_3(x)

    mlp = MLPBlock()
    y = mlp(ops.ones(shape=(3, 64)))
    out["mlp_block"] = [list(ops.shape(y)), len(mlp.weights), len(mlp.trainable_weights),
                        [list(w.shape) for w in mlp.weights]]

    class ActivityRegularizationLayer(keras.layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.sum(inputs))
            return inputs

    class OuterLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)

    layer = OuterLayer()
    counts = [len(layer.losses)]
    layer(ops.ones((1, 1)))
    counts.append(len(layer.losses))
    layer(ops.ones((1, 1)))
    counts.append(len(layer.losses))
    out["losses_per_call"] = counts
    out["activity_loss"] = float(ops.convert_to_numpy(layer.losses[0]))

    class OuterLayerWithKernelRegularizer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2, kernel_regularizer=keras.regularizers.l2(1e-3))

        def call(self, inputs):
            return self.dense(inputs)

    layer = OuterLayerWithKernelRegularizer()
    layer(ops.zeros((1, 3)))
    layer.dense.set_weights([np.ones((3, 2), "float32"), np.zeros(2, "float32")])
    out["kernel_penalty"] = [float(ops.convert_to_numpy(v)) for v in layer.losses]

    # a functional model around a layer that adds a loss, trained (the guide's fit)
    inputs = keras.Input(shape=(3,))
    outputs = ActivityRegularizationLayer()(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    x3, y3 = _data(8, 3)[0], _data(8, 3, seed=5)[0]
    out["functional_add_loss_fit"] = _floats(model.fit(x3, y3, epochs=2, batch_size=4, shuffle=False,
                                                       verbose=0).history["loss"])

    # a Model subclass: built-in and custom layers, the training argument, add_loss, fit/evaluate/predict
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

        def call(self, inputs, training=None):
            if training:
                self.count.assign_add(1.0)
            return inputs * self.scale

    class Classifier(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = layers.Dense(16, activation="tanh")
            self.scale = Scale()
            self.reg = ActivityRegularizationLayer(1e-3)
            self.head = layers.Dense(3)

        def call(self, inputs, training=False):
            h = self.reg(self.scale(self.hidden(inputs), training=training))
            return self.head(ops.concatenate([h, ops.square(h)], axis=-1))

    x, yl = _data()
    model = Classifier()
    model(x[:2])  # (Keras builds a subclassed model's layers by calling it)
    out["model_weight_shapes"] = [list(w.shape) for w in model.weights]
    out["model_trainable"] = [len(model.trainable_weights), len(model.non_trainable_weights)]
    _set_weights(model)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, yl, epochs=3, batch_size=32, shuffle=False, verbose=0).history
    out["model_fit"] = {k: _floats(v) for k, v in history.items()}
    out["model_count"] = float(ops.convert_to_numpy(model.scale.count))
    out["model_evaluate"] = _floats(model.evaluate(x, yl, verbose=0))
    out["model_predict"] = np.round(model.predict(x[:4], verbose=0), 5).tolist()
    out["model_losses"] = len(model.losses)
    return out


def compute_loss_guide(keras, workdir):
    """Model.compute_loss of one's own with keras.ops (the Model API docstring's example: the
    loss, the added losses, a tracker updated inside it, a `metrics` property, reset_metrics),
    and a Model subclass of Dense layers with a compiled loss beside it."""
    layers, ops = keras.layers, keras.ops

    class MyModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.hidden = layers.Dense(16, activation="relu")
            self.out = layers.Dense(1)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.abs_error = keras.metrics.Mean(name="abs_error")

        def call(self, x):
            h = self.hidden(x)
            self.add_loss(1e-3 * ops.sum(ops.square(h)))
            return self.out(h)

        def compute_loss(self, x, y, y_pred, sample_weight, training=True):
            loss = ops.mean((y_pred - y) ** 2)
            loss += ops.sum(self.losses)
            self.loss_tracker.update_state(loss)
            self.abs_error.update_state(ops.mean(ops.abs(y_pred - y)))
            return loss

        def reset_metrics(self):
            self.loss_tracker.reset_state()
            self.abs_error.reset_state()

        @property
        def metrics(self):
            return [self.loss_tracker, self.abs_error]

    x, _ = _data(64)
    y = (x[:, :1] * 2 + 0.5).astype("float32")
    model = MyModel()
    model(x[:2])
    _set_weights(model)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0, validation_data=(x[:32], y[:32]))
    out = {"fit": {k: _floats(v) for k, v in history.history.items()},
           "evaluate": {k: float(v) for k, v in model.evaluate(x, y, verbose=0, return_dict=True).items()},
           "predict": np.round(model.predict(x[:4], verbose=0), 5).tolist()}

    class DenseNet(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = layers.Dense(16, activation="relu")
            self.dropout = layers.Dropout(0.0)
            self.out = layers.Dense(3, activation="softmax")

        def call(self, x, training=False):
            return self.out(self.dropout(self.hidden(x), training=training))

    x, yl = _data()
    model = DenseNet()
    model(x[:2])
    _set_weights(model)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, yl, epochs=3, batch_size=32, shuffle=False, verbose=0)
    out["dense_fit"] = {k: _floats(v) for k, v in history.history.items()}
    out["dense_predict"] = np.round(model.predict(x[:4], verbose=0), 5).tolist()
    return out


def constraints_program(keras, workdir):
    """keras.constraints on Dense kernels and biases and on a custom layer's add_weight, trained
    from the same weights: the projected weights after each epoch's updates."""
    layers, ops = keras.layers, keras.ops

    class Gate(keras.layers.Layer):
        def build(self, input_shape):
            self.g = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                     constraint=keras.constraints.NonNeg())

        def call(self, x):
            return x * self.g

    x, y = _data(64, 6)
    out = {}
    for name, kernel, bias in (("max_norm", keras.constraints.MaxNorm(0.5), None),
                               ("unit_norm", keras.constraints.UnitNorm(axis=0), keras.constraints.NonNeg()),
                               ("min_max_norm", keras.constraints.MinMaxNorm(0.2, 0.6, rate=0.5), None)):
        inputs = keras.Input((6,))
        h = Gate()(layers.Dense(8, activation="tanh", kernel_constraint=kernel, bias_constraint=bias)(inputs))
        model = keras.Model(inputs, layers.Dense(3)(h))
        _set_weights(model)
        model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        out[name] = {"loss": _floats(history.history["loss"]),
                     "weights": [np.round(w, 5).tolist() for w in model.get_weights()[:3]]}
    return out


def unknown_lengths(keras, workdir):
    """keras.Input(shape=(None, features)): Dense on every step of sequences of any length, pooled;
    trained on one length, predicting and evaluating at others, from the same weights."""
    layers = keras.layers
    rng = np.random.default_rng(4)
    inputs = keras.Input(shape=(None, 5))
    h = layers.Dense(6, activation="relu")(inputs)
    h = layers.Dense(4, activation="tanh")(h)
    model = keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling1D()(h)))
    _set_weights(model)
    model.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x = rng.standard_normal((48, 7, 5)).astype("float32")
    y = rng.integers(0, 3, 48)
    history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    out = {"shapes": [list(model.input_shape), list(model.output_shape)], "loss": _floats(history.history["loss"])}
    for steps in (3, 12):
        xs = rng.standard_normal((8, steps, 5)).astype("float32")
        out[f"predict_{steps}"] = np.round(model.predict(xs, verbose=0), 5).tolist()
        out[f"evaluate_{steps}"] = _floats(model.evaluate(xs, y[:8], verbose=0))
    return out


def custom_blocks_in_graphs(keras, workdir):
    """A custom layer holding layers of its own (Dense, LayerNormalization) and a weight of its own,
    as the Transformer examples' blocks are: in a functional model and in a Sequential, trained
    from the same weights (the weights' order is Keras')."""
    layers = keras.layers

    class Block(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.inner = layers.Dense(units, activation="relu")
            self.norm = layers.LayerNormalization()

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(self.units,), initializer="ones")

        def call(self, x):
            return self.norm(self.inner(x)) * self.scale + x

    x, y = _data(64, 6)
    out = {}
    inputs = keras.Input((6,))
    graph = keras.Model(inputs, layers.Dense(3)(Block(6)(Block(6)(inputs))))
    stack = keras.Sequential([keras.Input((6,)), Block(6), layers.Dense(3)])
    for name, model in (("functional", graph), ("sequential", stack)):
        _set_weights(model)
        model.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        out[name] = {"shapes": [list(np.shape(w)) for w in model.get_weights()], "count": model.count_params(),
                     "loss": _floats(history.history["loss"]),
                     "predict": np.round(model.predict(x[:3], verbose=0), 5).tolist()}
    return out


def sequence_outputs(keras, workdir):
    """A prediction at every step (batch, steps, classes) against labels (batch, steps): the loss
    and accuracy per position, weights per sample and per position, regression targets per step,
    and the miniature GPT example's two outputs with loss=[loss, None] and one target array."""
    layers = keras.layers
    rng = np.random.default_rng(5)
    x = rng.standard_normal((48, 6, 4)).astype("float32")
    labels = rng.integers(0, 5, (48, 6))
    out = {}

    def tagger(head_activation=None, units=5):
        inputs = keras.Input((6, 4))
        hidden = layers.Dense(8, activation="tanh")(inputs)
        return inputs, hidden, layers.Dense(units, activation=head_activation)(hidden)

    inputs, _, probs = tagger("softmax")
    model = keras.Model(inputs, probs)
    _set_weights(model)
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy", metrics=["accuracy"])
    out["softmax"] = {k: _floats(v) for k, v in model.fit(x, labels, epochs=2, batch_size=16, shuffle=False,
                                                            verbose=0).history.items()}
    out["evaluate"] = _floats(model.evaluate(x, labels, verbose=0))
    per_step = rng.uniform(0, 1, (48, 6)).astype("float32")
    for name, weights in (("per_sample_weight", rng.uniform(0, 2, (48, 1)).astype("float32")),
                          ("per_step_weight", per_step)):
        history = model.fit(x, labels, sample_weight=weights, epochs=1, batch_size=16, shuffle=False, verbose=0)
        out[name] = {k: _floats(v) for k, v in history.history.items()}
    inputs, _, values = tagger(units=1)
    regression = keras.Model(inputs, values)
    _set_weights(regression)
    regression.compile(keras.optimizers.SGD(0.05), "mse", metrics=["mae"])
    targets = rng.standard_normal((48, 6, 1)).astype("float32")
    out["mse"] = {k: _floats(v) for k, v in regression.fit(x, targets, epochs=2, batch_size=16, shuffle=False,
                                                             verbose=0).history.items()}
    inputs, hidden, logits = tagger()
    gpt_like = keras.Model(inputs, [logits, hidden])
    _set_weights(gpt_like)
    gpt_like.compile(keras.optimizers.Adam(0.02), [keras.losses.SparseCategoricalCrossentropy(from_logits=True), None])
    history = gpt_like.fit(x, labels, epochs=2, batch_size=16, shuffle=False, verbose=0)
    out["two_outputs_loss"] = _floats(history.history["loss"])
    out["two_outputs_keys"] = sorted(history.history)
    predicted, kept = gpt_like.predict(x[:2], verbose=0)
    out["two_outputs_shapes"] = [list(predicted.shape), list(kept.shape)]
    out["two_outputs_predict"] = np.round(predicted[:, :2], 5).tolist()
    return out


def miniature_gpt(keras, workdir):
    """The keras-io example "Text generation with a miniature GPT", small: token and position
    embeddings, a causal Transformer block (MultiHeadAttention, LayerNormalization, a Sequential
    feed-forward network), logits at every position; model(inputs, [logits, x]) compiled with
    loss=[loss, None]; trained from the same weights (dropout 0), then the example's sampling loop
    (greedy)."""
    layers, ops = keras.layers, keras.ops

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            positions = self.pos_emb(ops.arange(0, ops.shape(x)[-1], 1))
            return self.token_emb(x) + positions

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.0):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads, embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attention_output = self.dropout1(self.att(inputs, inputs, use_causal_mask=True))
            out1 = self.layernorm1(inputs + attention_output)
            return self.layernorm2(out1 + self.dropout2(self.ffn(out1)))

    vocab, maxlen, embed = 40, 12, 16
    inputs = layers.Input(shape=(maxlen,), dtype="int32")
    x = TokenAndPositionEmbedding(maxlen, vocab, embed)(inputs)
    x = TransformerBlock(embed, 2, 32)(x)
    model = keras.Model(inputs=inputs, outputs=[layers.Dense(vocab)(x), x])
    _set_weights(model)
    model.compile(keras.optimizers.Adam(0.01), loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                                     None])
    rng = np.random.default_rng(6)
    tokens = rng.integers(1, vocab, (64, maxlen + 1))
    history = model.fit(tokens[:, :-1], tokens[:, 1:], epochs=3, batch_size=16, shuffle=False, verbose=0)
    logits, _ = model.predict(tokens[:2, :-1], verbose=0)
    # the example's TextGenerator loop, greedy: the prompt padded to maxlen, one predict per token
    start_tokens, generated = [int(t) for t in tokens[0, :3]], []
    while len(generated) < 14:
        pad_len = maxlen - len(start_tokens)
        sample_index = len(start_tokens) - 1
        if pad_len < 0:
            x = start_tokens[:maxlen]
            sample_index = maxlen - 1
        elif pad_len > 0:
            x = start_tokens + [0] * pad_len
        else:
            x = start_tokens
        y, _ = model.predict(np.array([x]), verbose=0)
        generated.append(int(np.argmax(y[0][sample_index])))
        start_tokens.append(generated[-1])
    return {"weights": [list(np.shape(w)) for w in model.get_weights()], "count": model.count_params(),
            "loss": _floats(history.history["loss"]), "keys": sorted(history.history),
            "next_token_logits": logits[:, -1, :6].astype(float).tolist(),
            "sampled": np.argmax(logits[:, 3], axis=-1).tolist(), "generated": generated}



def seq2seq_transformer(keras, workdir):
    """The keras-io example "English-to-Spanish translation with a sequence-to-sequence
    Transformer", small, on token ids (its text pipeline is tf.data's): the encoder and the decoder
    as models of their own joined into one, call() arguments given by name (query=..., value=...),
    a causal mask built with keras.ops from the input's shape, trained from the same weights
    (dropout 0), then the example's greedy decoding loop on a growing target."""
    layers, ops = keras.layers, keras.ops

    class TransformerEncoder(layers.Layer):
        def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = keras.Sequential([layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.supports_masking = True

        def call(self, inputs, mask=None):
            padding_mask = ops.cast(mask[:, None, :], dtype="int32") if mask is not None else None
            attention_output = self.attention(query=inputs, value=inputs, key=inputs, attention_mask=padding_mask)
            proj_input = self.layernorm_1(inputs + attention_output)
            return self.layernorm_2(proj_input + self.dense_proj(proj_input))

    class PositionalEmbedding(layers.Layer):
        def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_embeddings = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.position_embeddings = layers.Embedding(input_dim=sequence_length, output_dim=embed_dim)

        def call(self, inputs):
            length = ops.shape(inputs)[-1]
            positions = ops.arange(0, length, 1)
            return self.token_embeddings(inputs) + self.position_embeddings(positions)

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else ops.not_equal(inputs, 0)

    class TransformerDecoder(layers.Layer):
        def __init__(self, embed_dim, latent_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.attention_1 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.attention_2 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = keras.Sequential([layers.Dense(latent_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.layernorm_3 = layers.LayerNormalization()
            self.supports_masking = True

        def call(self, inputs, encoder_outputs, mask=None):
            causal_mask = self.get_causal_attention_mask(inputs)
            if mask is not None:
                padding_mask = ops.minimum(ops.cast(mask[:, None, :], dtype="int32"), causal_mask)
            else:
                padding_mask = None
            attention_output_1 = self.attention_1(query=inputs, value=inputs, key=inputs, attention_mask=causal_mask)
            out_1 = self.layernorm_1(inputs + attention_output_1)
            attention_output_2 = self.attention_2(query=out_1, value=encoder_outputs, key=encoder_outputs,
                                                  attention_mask=padding_mask)
            out_2 = self.layernorm_2(out_1 + attention_output_2)
            return self.layernorm_3(out_2 + self.dense_proj(out_2))

        def get_causal_attention_mask(self, inputs):
            input_shape = ops.shape(inputs)
            batch_size, sequence_length = input_shape[0], input_shape[1]
            i = ops.arange(sequence_length)[:, None]
            j = ops.arange(sequence_length)
            mask = ops.cast(i >= j, dtype="int32")
            mask = ops.reshape(mask, (1, input_shape[1], input_shape[1]))
            mult = ops.concatenate([ops.expand_dims(batch_size, -1), ops.convert_to_tensor([1, 1])], axis=0)
            return ops.tile(mask, mult)

    vocab_size, sequence_length, embed_dim, latent_dim, num_heads = 30, 8, 16, 24, 2
    encoder_inputs = keras.Input(shape=(None,), dtype="int64", name="encoder_inputs")
    encoder_embedding = PositionalEmbedding(sequence_length, vocab_size, embed_dim)
    encoder_block = TransformerEncoder(embed_dim, latent_dim, num_heads)
    encoder_outputs = encoder_block(encoder_embedding(encoder_inputs))
    decoder_inputs = keras.Input(shape=(None,), dtype="int64", name="decoder_inputs")
    encoded_seq_inputs = keras.Input(shape=(None, embed_dim), name="decoder_state_inputs")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(decoder_inputs)
    x = TransformerDecoder(embed_dim, latent_dim, num_heads)(x, encoded_seq_inputs)
    x = layers.Dropout(0.0)(x)
    decoder = keras.Model([decoder_inputs, encoded_seq_inputs], layers.Dense(vocab_size, activation="softmax")(x))
    transformer = keras.Model([encoder_inputs, decoder_inputs], decoder([decoder_inputs, encoder_outputs]),
                              name="transformer")
    # (the same weights layer by layer: brisknet lists a nested model's weights among the outer
    # model's layers, by depth, where Keras keeps them together)
    rng = np.random.default_rng(1)
    for part in (encoder_embedding, encoder_block, decoder):
        part.set_weights([(rng.standard_normal(np.shape(w)) * 0.3).astype("float32") for w in part.get_weights()])
    transformer.compile("rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(3)
    source = rng.integers(3, vocab_size, (48, sequence_length))
    target = np.concatenate([np.full((48, 1), 2), source[:, ::-1]], axis=1)  # (learn the reversal)
    history = transformer.fit({"encoder_inputs": source, "decoder_inputs": target[:, :-1]}, target[:, 1:],
                              epochs=3, batch_size=16, shuffle=False, verbose=0)
    decoded = [2]  # the example's decode_sequence, greedy, on a growing target
    for i in range(sequence_length):
        probs = transformer.predict({"encoder_inputs": source[:1], "decoder_inputs": np.array([decoded])},
                                    verbose=0)
        decoded.append(int(np.argmax(probs[0, i, :])))
    return {"count": transformer.count_params(), "loss": _floats(history.history["loss"]),
            "accuracy": _floats(history.history["accuracy"]), "decoded": decoded,
            "probs": _rounded(probs[0, -1, :6])}

def attention_layer(keras, workdir):
    """MultiHeadAttention on its own: cross-attention (key and value apart, value_dim, output_shape),
    attention_mask, return_attention_scores, use_causal_mask; trained in a Model subclass."""
    layers = keras.layers
    rng = np.random.default_rng(7)
    query, value = rng.standard_normal((4, 5, 6)).astype("float32"), rng.standard_normal((4, 7, 3)).astype("float32")
    key = rng.standard_normal((4, 7, 2)).astype("float32")
    mask = rng.random((4, 5, 7)) > 0.3
    mask[0, 2] = False  # a query that may attend to nothing
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3, output_shape=8)
    out, scores = mha(query, value, key, attention_mask=mask, return_attention_scores=True)
    weights = [(rng.standard_normal(np.shape(w)) * 0.4).astype("float32") for w in mha.get_weights()]
    mha.set_weights(weights)
    out, scores = mha(query, value, key, attention_mask=mask, return_attention_scores=True)
    fused = mha(query, value, key, attention_mask=mask)
    self_attention = layers.MultiHeadAttention(num_heads=3, key_dim=2)
    self_attention(query, query)
    self_attention.set_weights([(rng.standard_normal(np.shape(w)) * 0.4).astype("float32")
                                for w in self_attention.get_weights()])
    causal = self_attention(query, query, use_causal_mask=True)
    out, scores, fused, causal = (keras.ops.convert_to_numpy(t) for t in (out, scores, fused, causal))

    class Attend(keras.Model):
        def __init__(self):
            super().__init__()
            self.mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
            self.head = layers.Dense(2)

        def call(self, x):
            return self.head(keras.ops.mean(self.mha(x, x), axis=1))

    model = Attend()
    model(query)
    _set_weights(model)
    model.compile(keras.optimizers.SGD(0.1), "mse")
    history = model.fit(query, rng.standard_normal((4, 2)).astype("float32"), epochs=3, batch_size=2, shuffle=False,
                        verbose=0)
    return {"weights": [list(np.shape(w)) for w in mha.get_weights()], "out": np.round(out[:2, :2], 5).tolist(),
            "scores_shape": list(scores.shape), "scores": np.round(scores[0, :, 2], 5).tolist(),
            "fused_equals_unfused": bool(np.allclose(out, fused, atol=1e-5)),
            "causal": np.round(causal[1], 5).tolist(), "causal_shape": list(causal.shape),
            "model_loss": _floats(history.history["loss"])}


def timeseries_transformer(keras, workdir):
    """The keras-io example "Timeseries classification with a Transformer model", small: encoder
    blocks written in the functional API, MultiHeadAttention called on two tensors, Conv1D
    feed-forward layers, residuals as `x + inputs`, pooling over the steps; trained from the same
    weights."""
    layers = keras.layers

    def encoder(inputs, head_size, num_heads, ff_dim):
        x = layers.MultiHeadAttention(key_dim=head_size, num_heads=num_heads, dropout=0.0)(inputs, inputs)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        res = x + inputs  # (the example's own residuals: operators on symbolic tensors)
        x = layers.Conv1D(filters=ff_dim, kernel_size=1, activation="relu")(res)
        x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        return x + res

    inputs = keras.Input(shape=(20, 3))
    x = inputs
    for _ in range(2):
        x = encoder(x, head_size=4, num_heads=2, ff_dim=4)
    x = layers.GlobalAveragePooling1D(data_format="channels_last")(x)
    outputs = layers.Dense(2, activation="softmax")(layers.Dense(8, activation="relu")(x))
    model = keras.Model(inputs, outputs)
    _set_weights(model)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  metrics=["sparse_categorical_accuracy"])
    rng = np.random.default_rng(8)
    x_train = rng.standard_normal((64, 20, 3)).astype("float32")
    y_train = (x_train[:, :, 0].mean(axis=1) > 0).astype("int64")
    history = model.fit(x_train, y_train, epochs=3, batch_size=16, shuffle=False, verbose=0)
    config = model.get_config()
    calls = [layer["inbound_nodes"][0] for layer in config["layers"] if layer["class_name"] == "MultiHeadAttention"]
    return {"loss": _floats(history.history["loss"]), "count": model.count_params(),
            "weights": [list(np.shape(w)) for w in model.get_weights()],
            "attention_call_arguments": [len(c["args"]) for c in calls],
            "predict": np.round(model.predict(x_train[:3], verbose=0), 5).tolist()}


def bidirectional_lstm(keras, workdir):
    """The keras-io example "Bidirectional LSTM on IMDB", small: variable-length integer sequences
    (keras.Input(shape=(None,))), Embedding, two Bidirectional LSTMs (the first returning
    sequences), a sigmoid output; trained from the same weights on padded random reviews. Also an
    LSTM reading backwards and one returning sequences under a softmax per step."""
    layers = keras.layers
    rng = np.random.default_rng(9)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(30, 8)(inputs)
    x = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(5))(x)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    _set_weights(model)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    reviews = keras.utils.pad_sequences([rng.integers(1, 30, rng.integers(3, 12)).tolist() for _ in range(48)],
                                        maxlen=10)
    labels = (reviews.sum(axis=1) % 2).astype("float32")
    history = model.fit(reviews, labels, epochs=2, batch_size=16, shuffle=False, verbose=0)
    out = {"weights": [list(np.shape(w)) for w in model.get_weights()], "count": model.count_params(),
           "loss": _floats(history.history["loss"]), "accuracy": _floats(history.history["accuracy"]),
           "predict_7": np.round(model.predict(reviews[:3, -7:], verbose=0), 5).tolist()}
    tagger = keras.Sequential([keras.Input((5, 3)), layers.LSTM(4, go_backwards=True, return_sequences=True),
                               layers.Dense(3, activation="softmax")])
    _set_weights(tagger, seed=2)
    tagger.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    steps = rng.standard_normal((16, 5, 3)).astype("float32")
    out["tagger_loss"] = _floats(tagger.fit(steps, rng.integers(0, 3, (16, 5)), epochs=2, batch_size=8,
                                            shuffle=False, verbose=0).history["loss"])
    out["tagger_predict"] = np.round(tagger.predict(steps[:2], verbose=0), 5).tolist()
    return out


def masking_program(keras, workdir):
    """Masks as Keras carries them: Embedding(mask_zero=True) before LSTM, GRU and SimpleRNN (a
    padded batch gives each sequence's own result), Bidirectional returning sequences into a masked
    GlobalAveragePooling1D, Masking before an LSTM, a tagger whose loss skips the padding, and
    Attention([query, value]) given both masks."""
    layers = keras.layers
    rng = np.random.default_rng(11)
    lengths = rng.integers(2, 9, 32)
    ids = keras.utils.pad_sequences([rng.integers(1, 20, n).tolist() for n in lengths], maxlen=8, padding="post")
    out = {}
    for name, rnn in (("lstm", layers.LSTM(5)), ("gru", layers.GRU(5, go_backwards=True)),
                      ("simple_rnn", layers.SimpleRNN(5, activation="relu"))):
        model = keras.Sequential([keras.Input((None,)), layers.Embedding(20, 4, mask_zero=True), rnn,
                                  layers.Dense(1, activation="sigmoid")])
        _set_weights(model, seed=3)
        out[name] = np.round(model.predict(ids[:4], verbose=0), 5).tolist()
        out[name + "_alone"] = np.round(model.predict(ids[:1, :lengths[0]], verbose=0), 5).tolist()
    inputs = keras.Input((None,))
    x = layers.Embedding(20, 4, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.GRU(3, return_sequences=True))(x)
    x = layers.Dense(4, activation="relu")(x)
    pooled = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(layers.GlobalAveragePooling1D()(x)))
    _set_weights(pooled, seed=4)
    pooled.compile(keras.optimizers.Adam(0.02), "binary_crossentropy")
    labels = (ids.sum(axis=1) % 2).astype("float32")
    out["pooled_loss"] = _floats(pooled.fit(ids, labels, epochs=2, batch_size=8, shuffle=False,
                                            verbose=0).history["loss"])
    out["pooled_predict"] = np.round(pooled.predict(ids[:3], verbose=0), 5).tolist()
    frames = rng.standard_normal((16, 6, 3)).astype("float32")
    frames[:8, 4:] = 0.0
    masked = keras.Sequential([keras.Input((6, 3)), layers.Masking(0.0), layers.LSTM(4),
                               layers.Dense(2, activation="softmax")])
    _set_weights(masked, seed=5)
    masked.compile(keras.optimizers.SGD(0.3), "sparse_categorical_crossentropy")
    out["masking_loss"] = _floats(masked.fit(frames, rng.integers(0, 2, 16), epochs=2, batch_size=8,
                                             shuffle=False, verbose=0).history["loss"])
    tagger = keras.Sequential([keras.Input((8,)), layers.Embedding(20, 4, mask_zero=True),
                               layers.LSTM(5, return_sequences=True), layers.Dense(3, activation="softmax")])
    _set_weights(tagger, seed=6)
    tagger.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    tags = (ids % 3).astype("int32")
    out["tagger_loss"] = _floats(tagger.fit(ids, tags, epochs=2, batch_size=8, shuffle=False,
                                            verbose=0).history["loss"])
    out["tagger_evaluate"] = float(tagger.evaluate(ids, tags, verbose=0))
    # the same tagger as a Model subclass: its output's mask reaches the loss too

    class Tagger(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed = layers.Embedding(20, 4, mask_zero=True)
            self.lstm = layers.LSTM(5, return_sequences=True)
            self.head = layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.head(self.lstm(self.embed(x)))
    subclassed = Tagger()
    subclassed(ids[:2])
    subclassed.set_weights([(np.random.default_rng(6 + k).standard_normal(np.shape(w)) * 0.3).astype("float32")
                            for k, w in enumerate(subclassed.get_weights())])
    subclassed.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    out["subclassed_tagger_loss"] = _floats(subclassed.fit(ids, tags, epochs=2, batch_size=8, shuffle=False,
                                                           verbose=0).history["loss"])
    out["subclassed_tagger_evaluate"] = float(subclassed.evaluate(ids, tags, verbose=0))
    # Attention([query, value]) on masked tensors: the layer gets both masks as one list
    query_ids, value_ids = keras.Input(shape=(None,), dtype="int32"), keras.Input(shape=(None,), dtype="int32")
    embed = layers.Embedding(20, 4, mask_zero=True)
    attended = layers.Attention()([embed(query_ids), embed(value_ids)])
    scorer = keras.Model([query_ids, value_ids], layers.Dense(2)(layers.GlobalAveragePooling1D()(attended)))
    _set_weights(scorer, seed=7)
    scorer.compile(keras.optimizers.SGD(0.1), "mse")
    targets = rng.standard_normal((32, 2)).astype("float32")
    out["attention_masks_loss"] = _floats(scorer.fit([ids, ids[::-1, :6]], targets, epochs=2, batch_size=8,
                                                     shuffle=False, verbose=0).history["loss"])
    out["attention_masks_predict"] = np.round(scorer.predict([ids[:3], ids[3:6, :6]], verbose=0), 5).tolist()
    return out


def rnn_guide(keras, workdir):
    """The guide "Working with RNNs": LSTM, GRU returning sequences into SimpleRNN, Bidirectional,
    a stateful LSTM fed paragraph by paragraph with reset_states, initial states, an RNN of the
    guide's own cell; trained from the same weights."""
    layers, ops = keras.layers, keras.ops
    rng = np.random.default_rng(12)
    out = {}
    model = keras.Sequential([keras.Input((None,)), layers.Embedding(input_dim=50, output_dim=8), layers.LSTM(16),
                              layers.Dense(10)])
    _set_weights(model, seed=1)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tokens, classes = rng.integers(0, 50, (32, 7)), rng.integers(0, 10, 32)
    out["lstm_loss"] = _floats(model.fit(tokens, classes, epochs=2, batch_size=8, shuffle=False,
                                         verbose=0).history["loss"])
    model = keras.Sequential([keras.Input((None,)), layers.Embedding(input_dim=50, output_dim=8),
                              layers.GRU(12, return_sequences=True), layers.SimpleRNN(6), layers.Dense(10)])
    _set_weights(model, seed=2)
    model.compile(keras.optimizers.RMSprop(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    out["gru_loss"] = _floats(model.fit(tokens, classes, epochs=2, batch_size=8, shuffle=False,
                                        verbose=0).history["loss"])
    out["gru_weights"] = [list(np.shape(w)) for w in model.get_weights()]
    model = keras.Sequential([keras.Input((5, 10)), layers.Bidirectional(layers.LSTM(8, return_sequences=True)),
                              layers.Bidirectional(layers.LSTM(4)), layers.Dense(10)])
    _set_weights(model, seed=3)
    out["bidirectional"] = np.round(model.predict(rng.standard_normal((3, 5, 10)).astype("float32"), verbose=0),
                                    5).tolist()
    paragraphs = rng.standard_normal((3, 4, 6, 5)).astype("float32")
    lstm_layer = layers.LSTM(6, stateful=True)
    lstm_layer(paragraphs[0])
    lstm_layer.set_weights([(rng.standard_normal(np.shape(w)) * 0.3).astype("float32")
                            for w in lstm_layer.get_weights()])
    lstm_layer.reset_states()
    outputs = [np.round(ops.convert_to_numpy(lstm_layer(p)), 5).tolist() for p in paragraphs]
    lstm_layer.reset_states()
    out["stateful"] = outputs + [np.round(ops.convert_to_numpy(lstm_layer(paragraphs[2])), 5).tolist()]
    encoder, decoder = layers.LSTM(6, return_state=True), layers.LSTM(6)
    seq = rng.standard_normal((2, 5, 4)).astype("float32")
    _, h, c = encoder(seq)
    decoder(seq, initial_state=[h, c])
    for layer, seed in ((encoder, 7), (decoder, 8)):
        r = np.random.default_rng(seed)
        layer.set_weights([(r.standard_normal(np.shape(w)) * 0.3).astype("float32") for w in layer.get_weights()])
    _, h, c = encoder(seq)
    out["encoder_decoder"] = np.round(ops.convert_to_numpy(decoder(seq[:, :3], initial_state=[h, c])), 5).tolist()

    encoder_input = layers.Input(shape=(None,))  # (the guide's: two inputs of lengths known at run time)
    encoder_embedded = layers.Embedding(input_dim=50, output_dim=8)(encoder_input)
    output, state_h, state_c = layers.LSTM(16, return_state=True, name="encoder")(encoder_embedded)
    decoder_input = layers.Input(shape=(None,))
    decoder_embedded = layers.Embedding(input_dim=40, output_dim=8)(decoder_input)
    decoder_output = layers.LSTM(16, name="decoder")(decoder_embedded, initial_state=[state_h, state_c])
    model = keras.Model([encoder_input, decoder_input], layers.Dense(10)(decoder_output))
    _set_weights(model, seed=10)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    a, b = rng.integers(0, 50, (32, 7)), rng.integers(0, 40, (32, 5))
    out["functional_encoder_decoder"] = _floats(model.fit([a, b], rng.integers(0, 10, 32), epochs=2, batch_size=8,
                                                          shuffle=False, verbose=0).history["loss"])
    out["functional_other_lengths"] = np.round(model.predict([a[:3, :4], b[:3, :2]], verbose=0), 5).tolist()
    out["functional_weights"] = [list(np.shape(w)) for w in model.get_weights()]

    class MinimalRNNCell(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev_output = states[0]
            h = ops.matmul(inputs, self.kernel)
            output = h + ops.matmul(prev_output, self.recurrent_kernel)
            return output, [output]

    model = keras.Sequential([keras.Input((5, 3)), layers.RNN(MinimalRNNCell(4), return_sequences=True),
                              layers.GlobalAveragePooling1D(), layers.Dense(1)])
    _set_weights(model, seed=9)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    x = rng.standard_normal((16, 5, 3)).astype("float32")
    out["cell_loss"] = _floats(model.fit(x, x.sum(axis=(1, 2)), epochs=2, batch_size=8, shuffle=False,
                                         verbose=0).history["loss"])
    return out


def attention_and_time_distributed(keras, workdir):
    """Attention (dot, scaled, concat, causal) and AdditiveAttention on [query, value(, key)] in a
    functional model, trained; their masks given explicitly; TimeDistributed(Dense) in Sequential
    and functional models."""
    layers = keras.layers
    rng = np.random.default_rng(13)
    q, v = rng.standard_normal((16, 4, 6)).astype("float32"), rng.standard_normal((16, 5, 6)).astype("float32")
    out = {}
    for name, layer in (("dot", layers.Attention()), ("scaled", layers.Attention(use_scale=True)),
                        ("concat", layers.Attention(score_mode="concat")), ("additive", layers.AdditiveAttention())):
        qi, vi = keras.Input((4, 6)), keras.Input((5, 6))
        qe, ve = layers.Dense(6)(qi), layers.Dense(6)(vi)
        attended = layer([qe, ve])
        model = keras.Model([qi, vi], layers.Dense(1)(layers.GlobalAveragePooling1D()(attended)))
        _set_weights(model, seed=len(name))
        model.compile(keras.optimizers.SGD(0.05), "mse")
        out[name] = _floats(model.fit([q, v], q.sum(axis=(1, 2)) / 10, epochs=2, batch_size=8, shuffle=False,
                                      verbose=0).history["loss"])
    layer = layers.Attention()
    value_mask = np.arange(5)[None, :] < np.array([[5], [2]])
    query_mask = np.arange(4)[None, :] < np.array([[4], [3]])
    result, scores = layer([q[:2], v[:2], v[:2] * 0.5], mask=[query_mask, value_mask], return_attention_scores=True)
    out["masked"] = np.round(keras.ops.convert_to_numpy(result), 5).tolist()
    out["masked_scores"] = np.round(keras.ops.convert_to_numpy(scores), 5).tolist()
    causal = layers.Attention()([q[:2], q[:2]], use_causal_mask=True)
    out["causal"] = np.round(keras.ops.convert_to_numpy(causal), 5).tolist()
    model = keras.Sequential([keras.Input((4, 6)), layers.TimeDistributed(layers.Dense(3, activation="tanh")),
                              layers.LSTM(4), layers.Dense(1)])
    _set_weights(model, seed=7)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    out["time_distributed"] = _floats(model.fit(q, q.mean(axis=(1, 2)), epochs=2, batch_size=8, shuffle=False,
                                                verbose=0).history["loss"])
    out["time_distributed_weights"] = [list(np.shape(w)) for w in model.get_weights()]
    return out


def image_augmentation(keras, workdir):
    """keras-io's image classification from scratch, in small: augmentation and preprocessing
    layers in front of a convnet, trained (they are active in fit), then predict (they pass the
    images through, or resize and crop them), and the model through a .keras file."""
    layers = keras.layers
    rng = np.random.default_rng(14)
    images = (rng.random((12, 11, 10, 3)) * 255).astype("float32")
    inputs = keras.Input((11, 10, 3))
    augment = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1),
                                layers.RandomTranslation(0.1, 0.1), layers.RandomContrast(0.2),
                                layers.RandomBrightness(0.1)])
    x = layers.Resizing(9, 9)(augment(inputs))
    x = layers.Rescaling(1.0 / 255)(layers.CenterCrop(7, 8)(x))
    x = layers.Conv2D(3, 3, activation="relu")(x)
    model = keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(x)))
    _set_weights(model, seed=14)
    model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(images, rng.integers(0, 2, 12), epochs=2, batch_size=4, verbose=0)
    out = {"trained": bool(np.all(np.isfinite(history.history["loss"])))}
    _set_weights(model, seed=15)
    out["predict"] = np.round(model.predict(images, verbose=0), 5).tolist()
    path = os.path.join(workdir, "augment.keras")
    model.save(path)
    out["reloaded"] = np.round(keras.models.load_model(path).predict(images, verbose=0), 5).tolist()
    return out


PROGRAMS = {f.__name__: f for f in (sequential_guide, callbacks_guide, training_guide, pydataset_guide, saving_guide,
                                    metric_docstrings, loss_docstrings, schedule_docstrings, ops_examples, more_ops,
                                    loss_shapes, more_losses_metrics_optimizers, activation_functions,
                                    callback_docstrings, regression_tutorial, functional_guide,
                                    functional_multi_io, subclassing_guide, compute_loss_guide,
                                    constraints_program, unknown_lengths, custom_blocks_in_graphs, sequence_outputs,
                                    miniature_gpt, attention_layer, timeseries_transformer, bidirectional_lstm,
                                    masking_program, rnn_guide, attention_and_time_distributed,
                                    image_augmentation, seq2seq_transformer)}
EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_programs_expected.json")


def run_all(keras, workdir, names=None) -> dict:
    results = {}
    for name in names or PROGRAMS:
        sub = os.path.join(workdir, name)
        os.makedirs(sub, exist_ok=True)
        try:
            results[name] = PROGRAMS[name](keras, sub)
        except Exception as e:  # reported per program, so one failure does not hide the others
            results[name] = {"error": f"{type(e).__name__}: {e}"}
    return results


if __name__ == "__main__":  # run by Keras 3 itself (keras3.py), or --record to refresh the expectations
    import tempfile
    import keras
    with tempfile.TemporaryDirectory() as tmp:
        results = run_all(keras, tmp, sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "--only" else None)
    results["keras_version"] = keras.__version__
    if sys.argv[1:2] == ["--record"]:
        with open(EXPECTED, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    else:
        print(json.dumps(results))
