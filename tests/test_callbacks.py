"""Keras' callbacks with Keras' semantics: the epoch EarlyStopping stops at, the files
ModelCheckpoint writes, the learning rate after each epoch, CSV rows, NaN termination, every hook
called, and epoch-only callbacks leaving the epoch loop in C++."""
import csv
import math
import os
import struct

import numpy as np
import pytest

import brisknet as keras
from brisknet import callbacks, layers


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)).astype(np.float32), rng.integers(0, 3, n)


def model(optimizer="adam"):
    m = keras.Sequential([keras.Input((5,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


class Scripted(callbacks.Callback):
    """Overwrites `key` in the epoch logs with scripted values, before the callbacks after it."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def run(cbs, epochs, values=None, key="val_loss", optimizer="adam", **fit_kw):
    keras.utils.set_random_seed(0)
    m = model(optimizer)
    x, y = data()
    scripted = [Scripted(values, key)] if values is not None else []
    h = m.fit(x, y, epochs=epochs, batch_size=16, verbose=0, callbacks=scripted + list(cbs), **fit_kw)
    return m, h


@pytest.mark.parametrize("values,kwargs,stopped", [
    ([1.0, 0.9, 0.95, 0.96, 0.97, 0.5], dict(patience=2), 3),
    ([1.0, 0.99, 0.98, 0.97], dict(patience=1, min_delta=0.05), 1),
    ([1.0, 1.1, 1.2, 1.3], dict(patience=2, baseline=0.5), 1),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dict(patience=1, start_from_epoch=2), 3),
    ([1.0, 0.9, 0.8, 0.7, 0.6], dict(patience=0), None),  # always improving: never stops
])
def test_early_stopping_epoch(values, kwargs, stopped):
    es = callbacks.EarlyStopping(monitor="val_loss", **kwargs)
    _, h = run([es], len(values), values)
    assert es.stopped_epoch == (stopped or 0)
    assert len(h.epoch) == (stopped + 1 if stopped is not None else len(values))


def test_early_stopping_max_mode_and_restore_best_weights():
    snapshots = []
    keep = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(m_ref[0].get_weights()))
    es = callbacks.EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True)
    assert es.mode == "max"
    m_ref = [None]
    keras.utils.set_random_seed(0)
    m = m_ref[0] = model()
    x, y = data()
    m.fit(x, y, epochs=6, batch_size=16, verbose=0,
          callbacks=[Scripted([0.5, 0.8, 0.7, 0.6, 0.9, 0.9], "val_accuracy"), keep, es])
    assert es.stopped_epoch == 3 and es.best_epoch == 1
    for a, b in zip(m.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_files(tmp_path):
    pattern = str(tmp_path / "ck-{epoch:02d}-{val_loss:.2f}.brisk")
    ck = callbacks.ModelCheckpoint(pattern, monitor="val_loss")
    m, _ = run([ck], 3, [0.5, 0.25, 0.75])
    assert sorted(os.listdir(tmp_path)) == ["ck-01-0.50.brisk", "ck-02-0.25.brisk", "ck-03-0.75.brisk"]
    last = keras.models.load_model(tmp_path / "ck-03-0.75.brisk")
    for a, b in zip(m.get_weights(), last.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_save_best_only_and_weights_only(tmp_path):
    ck = callbacks.ModelCheckpoint(str(tmp_path / "best-{epoch}.weights.safetensors"), save_best_only=True,
                                   save_weights_only=True, monitor="val_loss")
    run([ck], 5, [0.5, 0.6, 0.4, 0.4, 0.3])
    assert sorted(os.listdir(tmp_path)) == ["best-1.weights.safetensors", "best-3.weights.safetensors",
                                            "best-5.weights.safetensors"]
    fresh = model()
    fresh.load_weights(tmp_path / "best-5.weights.safetensors")
    threshold = callbacks.ModelCheckpoint(str(tmp_path / "t.brisk"), save_best_only=True,
                                          initial_value_threshold=0.1)
    run([threshold], 2, [0.5, 0.2])
    assert not (tmp_path / "t.brisk").exists()
    with pytest.raises(ValueError, match="brisk"):
        callbacks.ModelCheckpoint(str(tmp_path / "x.h5"))


def test_model_checkpoint_every_n_batches(tmp_path):
    ck = callbacks.ModelCheckpoint(str(tmp_path / "b-{epoch}-{batch}.brisk"), save_freq=3)
    run([ck], 2)  # 64 samples / 16 = 4 batches per epoch: batches 3, 6 -> (epoch 1, batch 3), (2, 2), 1-based as Keras
    assert sorted(os.listdir(tmp_path)) == ["b-1-3.brisk", "b-2-2.brisk"]


def test_reduce_lr_on_plateau_sequence():
    rl = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    m, h = run([rl], 9, [1.0] * 9, optimizer=keras.optimizers.SGD(0.1))
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02])
    assert m.optimizer.learning_rate == pytest.approx(0.02)


def test_learning_rate_scheduler_sets_the_rate_used_by_each_epoch(monkeypatch):
    used = []

    class Watch(callbacks.Callback):  # per-batch hook: the rate the optimizer has at each step
        def on_train_batch_begin(self, batch, logs=None):
            used.append(self.model.optimizer.learning_rate)

    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr * 0.5)
    m, h = run([sched, Watch()], 3, optimizer=keras.optimizers.SGD(0.2))
    assert h.history["learning_rate"] == pytest.approx([0.2, 0.1, 0.05])
    assert used == pytest.approx([0.2] * 4 + [0.1] * 4 + [0.05] * 4)
    one_arg = callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    _, h = run([one_arg], 2)
    assert h.history["learning_rate"] == pytest.approx([0.01, 0.02])


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    run([callbacks.CSVLogger(path)], 2, validation_split=0.25)
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"] and all(math.isfinite(float(v)) for v in rows[1][1:])
    run([callbacks.CSVLogger(path, append=True)], 1, validation_split=0.25)
    rows = list(csv.reader(open(path)))
    assert len(rows) == 4 and rows[3][0] == "0"  # appended, no second header


def test_terminate_on_nan_stops_at_the_bad_batch():
    batches = []
    nan = callbacks.TerminateOnNaN()
    count = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(logs["loss"]))
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((5,)), layers.Dense(4), layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(1e18), loss="mse")
    x, _ = data()
    h = m.fit(x, np.full(64, 1e3, np.float32), epochs=5, batch_size=4, verbose=0, callbacks=[count, nan])
    assert not math.isfinite(batches[-1]) and all(math.isfinite(v) for v in batches[:-1])
    assert len(batches) < 16 and len(h.epoch) == 1


def test_every_hook_is_called_in_keras_order():
    calls = []
    names = [n for n in dir(callbacks.Callback) if n.startswith("on_")]
    hooks = {n: (lambda n: lambda *a, **k: calls.append(n))(n) for n in names}
    cb = callbacks.LambdaCallback(**hooks)
    m, _ = run([cb], 1, validation_split=0.25)
    assert calls[:3] == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin"]
    assert calls.count("on_train_batch_end") == 3  # 48 training samples / 16
    i = calls.index("on_test_begin")
    assert calls[i:] == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
                         "on_epoch_end", "on_train_end"]
    calls.clear()
    x, y = data()
    m.evaluate(x, y, batch_size=32, verbose=0, callbacks=[cb])
    assert calls == ["on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 2 + ["on_test_end"]
    calls.clear()
    m.predict(x, batch_size=64, verbose=0, callbacks=[cb])
    assert calls == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end"]


def test_callbacks_see_the_model_and_can_stop_it():
    class StopAfterTwo(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            assert self.model.optimizer is not None and "loss" in logs
            if epoch == 1:
                self.model.stop_training = True

    _, h = run([StopAfterTwo()], 10)
    assert h.epoch == [0, 1]


def test_epoch_only_callbacks_keep_whole_epochs_in_cpp(tmp_path, monkeypatch):
    calls = []
    from brisknet.models.cpu_engine import CpuEngine
    orig = CpuEngine.train
    monkeypatch.setattr(CpuEngine, "train", lambda self, *a: calls.append(1) or orig(self, *a))
    cbs = [callbacks.EarlyStopping(monitor="loss", patience=5), callbacks.CSVLogger(tmp_path / "l.csv"),
           callbacks.ModelCheckpoint(str(tmp_path / "m.brisk")), callbacks.ReduceLROnPlateau(monitor="loss"),
           callbacks.LambdaCallback(on_epoch_end=lambda e, logs: None)]
    run(cbs, 3)
    assert len(calls) == 3  # one engine call per epoch (4 batches each), not one per batch
    calls.clear()
    run([callbacks.TerminateOnNaN()], 3)
    assert len(calls) == 12  # a per-batch hook: one call per batch


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(ValueError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_finish=print)


def read_scalars(directory):
    """(tag, step, value) of every scalar in the TensorBoard event files of a directory."""
    from tensorboardX.proto import event_pb2
    out = []
    for name in sorted(os.listdir(directory)):
        raw = open(os.path.join(directory, name), "rb").read()
        pos = 0
        while pos < len(raw):  # TFRecord: length, crc, data, crc
            (length,) = struct.unpack("<Q", raw[pos:pos + 8])
            event = event_pb2.Event.FromString(raw[pos + 12:pos + 12 + length])
            pos += 16 + length
            for v in event.summary.value:
                out.append((v.tag, event.step, v.simple_value))
    return out


def test_tensorboard_writes_epoch_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    _, h = run([callbacks.TensorBoard(log_dir=tmp_path)], 2, validation_split=0.25)
    train = read_scalars(tmp_path / "train")
    val = read_scalars(tmp_path / "validation")
    assert ("epoch_loss", 1, pytest.approx(h.history["loss"][1], rel=1e-6)) in train
    assert ("epoch_accuracy", 0, pytest.approx(h.history["accuracy"][0], rel=1e-6)) in train
    assert ("epoch_learning_rate", 0, pytest.approx(0.001)) in train
    assert ("epoch_loss", 0, pytest.approx(h.history["val_loss"][0], rel=1e-6)) in val


def test_history_plot():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    _, h = run([], 3, validation_split=0.25)
    fig = h.plot()
    assert [a.get_title() for a in fig.axes] == ["loss", "accuracy"]
    assert [line.get_label() for line in fig.axes[0].lines] == ["loss", "val_loss"]


def test_backup_and_restore_resumes_an_interrupted_fit_bit_identically(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = rng.integers(0, 3, 64)

    def make():
        keras.utils.set_random_seed(7)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dropout(0.3), keras.layers.Dense(3, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    whole = make()
    full = whole.fit(x, y, epochs=4, batch_size=16, verbose=0).history

    class Crash(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("the machine went down")

    backup = tmp_path / "backup"
    model = make()
    with pytest.raises(RuntimeError, match="went down"):
        model.fit(x, y, epochs=4, batch_size=16, verbose=0,
                  callbacks=[callbacks.BackupAndRestore(backup), Crash()])
    assert sorted(os.listdir(backup)) == ["latest.brisk", "training_metadata.json"]
    resumed = make()  # a new process would start from scratch like this
    history = resumed.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[callbacks.BackupAndRestore(backup)])
    assert history.epoch == [2, 3]
    assert history.history["loss"] == full["loss"][2:]
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert os.listdir(backup) == []  # deleted once the fit completed
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.BackupAndRestore(backup, save_freq=0)
