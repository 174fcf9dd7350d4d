"""A user's training script, run by tests/test_distributed.py alone or under mpirun. With
`parallel` it sets a DataParallel distribution; rank 0 writes the weights and history to OUT.npz.

Usage: python data_parallel_fit.py OUT parallel|overlap|python|python-single|single|fail|die|long|dataset|
                                       dataset-single|diverge|backup-crash|backup
194 samples in batches of 32: the last batch has 2 rows, so with 4 processes two get none.
`fail`: rank 1 raises at the start of the second epoch, while the others train on; `die`: rank 1
is killed there (SIGKILL); `long`: 10,000 epochs, for a Ctrl-C; `dataset`: the data as a
keras.utils.PyDataset (batches of 32, shuffled per epoch); `diverge`: rank 1 changes a weight
after the first epoch, which the check of the next epoch must catch; `overlap`: as parallel,
the gradient summed in buckets during backward; `python`: on the Python reference path
(compile(run_eagerly=True)); `convnet`, `convnet-single`: the rows as 4 x 3 images through
Conv2D, SpatialDropout2D and MaxPooling2D; `backup-crash`: with a BackupAndRestore, rank 0 crashes after two
epochs; `backup`: the same, resumed; `subclassed`, `subclassed-single`, `subclassed-eager`: the model as a
keras.Model subclass of the same layers (in the engine; `-eager`: on the Python path); `subclassed-ops`,
`subclassed-ops-single`: with ops of its own in call() (the Python path)."""
import os
import signal
import sys
import zlib

import numpy as np

import brisknet as keras
from brisknet import layers

out, mode = sys.argv[1], sys.argv[2]
if mode == "overlap":  # small buckets: several per step
    keras.distribution.set_distribution(keras.distribution.DataParallel(overlap=True, bucket_bytes=512))
elif not mode.endswith("single"):
    keras.distribution.set_distribution(keras.distribution.DataParallel())


class FailOnRank1(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1 and keras.distribution.rank() == 1:
            if mode == "fail":
                raise RuntimeError("rank 1 fails on purpose")
            if mode == "die":
                os.kill(os.getpid(), signal.SIGKILL)
        if epoch == 2 and mode == "backup-crash" and keras.distribution.rank() == 0:
            raise RuntimeError("rank 0 crashes on purpose after two epochs' backups")

    def on_epoch_end(self, epoch, logs=None):
        if mode == "diverge" and epoch == 0 and keras.distribution.rank() == 1:
            self.model.layers[0].kernel.assign(self.model.layers[0].kernel.numpy() + 1e-3)
rng = np.random.default_rng(0)
x = rng.standard_normal((194, 12)).astype(np.float32)
y = rng.integers(0, 5, 194)
xv, yv = rng.standard_normal((70, 12)).astype(np.float32), rng.integers(0, 5, 70)  # validation
keras.utils.set_random_seed(42 + keras.distribution.rank())  # rank 0's draws must rule everywhere
model = keras.Sequential([layers.Dense(32, activation="relu", kernel_regularizer="l2"), layers.Dropout(0.2),
                          layers.Dense(5, activation="softmax")])
if mode.startswith("convnet"):
    x, xv = x.reshape(-1, 4, 3, 1), xv.reshape(-1, 4, 3, 1)
    model = keras.Sequential([keras.Input((4, 3, 1)), layers.Conv2D(6, 2, padding="same", activation="relu",
                                                                    kernel_regularizer="l2"),
                              layers.SpatialDropout2D(0.2), layers.MaxPooling2D(2), layers.Flatten(),
                              layers.Dense(5, activation="softmax")])
if mode.startswith("subclassed"):  # the same layers in a keras.Model subclass: its traced graph, lowered
    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = layers.Dense(32, activation="relu", kernel_regularizer="l2")
            self.dropout = layers.Dropout(0.2)
            self.out = layers.Dense(5, activation="softmax")

        def call(self, inputs, training=False):
            h = self.hidden(inputs)
            if mode.startswith("subclassed-ops"):  # an op the engine has no layer for: the Python path
                h = keras.ops.tanh(h) * 1.5
            return self.out(self.dropout(h, training=training))
    model = Net()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
              run_eagerly=mode.startswith("python") or mode.endswith("eager"))
# every process is given file-writing callbacks; rank 0 alone must write
logs = [keras.callbacks.CSVLogger(f"{out}.rank{keras.distribution.rank()}.csv"),
        keras.callbacks.ModelCheckpoint(f"{out}.rank{keras.distribution.rank()}.brisk", save_freq=3), FailOnRank1()]
if mode.startswith("backup"):  # rank 0 alone writes it; a rerun after a crash resumes from it
    logs.append(keras.callbacks.BackupAndRestore(os.path.join(os.path.dirname(out), "backup")))
if mode == "long" and keras.distribution.rank() == 0:
    print("training", flush=True)

class Batches(keras.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return -(-self.x.shape[0] // 32)

    def __getitem__(self, i):
        return self.x[i * 32:(i + 1) * 32], self.y[i * 32:(i + 1) * 32]


if mode.startswith("dataset"):
    history = model.fit(Batches(x, y), epochs=3, verbose=0, callbacks=logs, validation_data=Batches(xv, yv)).history
elif mode == "long":  # stopped by Ctrl-C: every rank must stop at the same step, with the same weights
    try:
        model.fit(x, y, batch_size=32, epochs=10_000, verbose=0, callbacks=logs)
    except KeyboardInterrupt:
        weights = np.concatenate([w.ravel() for w in model.get_weights()])
        with open(f"{out}.rank{keras.distribution.rank()}.stopped", "w") as f:  # mpirun may be gone
            f.write(f"stopped after {model.optimizer.iterations} steps, weights {zlib.crc32(weights.tobytes())}")
        sys.exit(130)
else:
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=logs, validation_data=(xv, yv)).history
predictions = model.predict(x, batch_size=50, verbose=0)  # each process predicts its part of the rows
evaluated = model.evaluate(xv, yv, batch_size=20, verbose=0)  # and evaluates its part
dist = keras.distribution.distribution()
if keras.distribution.rank() == 0:
    if mode.startswith("subclassed-ops"):  # (no engine for it: the traced program, all rows at once)
        unsharded = model._forward(x, training=False)
    else:
        unsharded = model._engine(training=False).predict(x, 50)  # all rows on this process
    keras.distribution.set_distribution(None)
    np.savez(out, *model.get_weights(), loss=history["loss"], accuracy=history["accuracy"],
             val_loss=history["val_loss"], val_accuracy=history["val_accuracy"],
             world=keras.distribution.world_size(), predictions=predictions, unsharded=unsharded,
             evaluated=evaluated, unsharded_evaluated=model.evaluate(xv, yv, batch_size=20, verbose=0),
             buckets=dist._buckets.buckets_sent if dist is not None and dist._buckets is not None else 0)
