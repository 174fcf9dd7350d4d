"""The input-pipeline benchmark (issue 27), 2 threads unless BRISKNET_NUM_THREADS says otherwise.

A folder of IMAGES=600 generated 64 x 64 images (PNG and JPEG, three classes) trains a small
convnet (Rescaling, three Conv2D with max pooling, global average pooling, Dense) at batch 32 for
one epoch per side, epochs interleaved, medians of REPEATS=3, training samples/s:

- brisknet, in memory: the folder's images decoded once into arrays, fit(x, y);
- brisknet, pipeline: image_dataset_from_directory(...).map(augment).prefetch(...) as the keras-io
  example writes it (augment: RandomFlip and RandomRotation(0.1)): each epoch decodes, resizes and
  augments on the dataset's background thread while the engine trains;
- Keras 3 on TensorFlow (and on PyTorch where installed: both read the folder with tf.data), the
  same pipeline with tf.data's map(num_parallel_calls=AUTOTUNE) and prefetch(AUTOTUNE).

The target: the pipeline's rate within 10 % of the in-memory rate, and at least Keras'.

Where the training threads take every core (2 threads on 2 cores), decoding takes CPU time from
them; the pair of brisknet sides is then measured again with one training thread fewer, which
leaves a core to the decoding thread: the rate a machine with a core to spare would see.

    python benchmarks/pipeline.py
"""
import inspect
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the benchmarks' shared helpers, beside this file)

IMAGES, SIZE, BATCH = int(os.environ.get("IMAGES", "600")), 64, 32
CLASSES = ("across", "checks", "down")


def make_model(keras):
    layers = keras.layers
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), layers.Rescaling(1 / 255),
                              layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(64, 3, activation="relu"), layers.GlobalAveragePooling2D(),
                              layers.Dense(3)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def make_augment(keras):
    flip, rotate = keras.layers.RandomFlip("horizontal", seed=1), keras.layers.RandomRotation(0.1, seed=2)
    return lambda x, y: (rotate(flip(x)), y)


# the same definitions in Keras' worker
MODEL = f"SIZE = {SIZE}\n" + inspect.getsource(make_model) + "\n" + inspect.getsource(make_augment)

KERAS_PIPELINE = r"""
import json, sys, time
import numpy as np
import keras
import tensorflow as tf
%(model)s
folder = str(np.load(sys.argv[1]))
model, augment = make_model(keras), make_augment(keras)

def pipeline():
    ds = keras.utils.image_dataset_from_directory(folder, image_size=(%(size)d, %(size)d), batch_size=%(batch)d,
                                                  seed=1, verbose=False)
    return ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
model.fit(pipeline(), epochs=1, verbose=0)  # warm-up (and tracing)
print("ready", flush=True)
for line in sys.stdin:
    ds = pipeline()
    start = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0)
    print(json.dumps(time.perf_counter() - start), flush=True)
""" % {"model": MODEL, "size": SIZE, "batch": BATCH}


def make_folder(root, count):
    """count images of SIZE x SIZE in three class folders: stripes across, a checkerboard, stripes
    down, each with random phase, period and brightness and noise; PNG and JPEG alternately."""
    from PIL import Image
    rng = np.random.default_rng(0)
    i, j = np.mgrid[0:SIZE, 0:SIZE]
    for k in range(count):
        c = k % len(CLASSES)
        os.makedirs(os.path.join(root, CLASSES[c]), exist_ok=True)
        period, phase = rng.uniform(4, 12), rng.uniform(0, 2 * np.pi)
        across, down = np.sin(2 * np.pi * i / period + phase), np.sin(2 * np.pi * j / period + phase)
        pattern = (across, across * down, down)[c]
        pixels = rng.uniform(60, 160) + 50 * pattern[..., None] + rng.normal(0, 30, (SIZE, SIZE, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            os.path.join(root, CLASSES[c], f"{k}.{'png' if k % 2 else 'jpg'}"))
    return root


def rates(folder, threads, repeats):
    import brisknet as keras

    def at(n, run):  # run with n training threads
        def once():
            before = keras.get_num_threads()
            keras.set_num_threads(n)
            try:
                return run()
            finally:
                keras.set_num_threads(before)
        return once

    def pipeline():
        ds = keras.utils.image_dataset_from_directory(folder, image_size=(SIZE, SIZE), batch_size=BATCH, seed=1,
                                                      verbose=False)
        return ds.map(augment).prefetch(2)
    augment = make_augment(keras)
    whole = keras.utils.image_dataset_from_directory(folder, image_size=(SIZE, SIZE), batch_size=None, shuffle=False,
                                                     verbose=False)
    x = np.stack([image for image, _ in whole])
    y = np.array([label for _, label in whole])
    in_memory, piped = make_model(keras), make_model(keras)
    in_memory.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # warm-up
    piped.fit(pipeline(), epochs=1, verbose=0)
    sides = {"brisknet": peers.timed(lambda: piped.fit(pipeline(), epochs=1, verbose=0)),
             "brisknet in memory": peers.timed(lambda: in_memory.fit(x, y, batch_size=BATCH, epochs=1, verbose=0))}
    spare = (os.cpu_count() or 1) - 1  # training threads that leave a core to the decoding
    if 1 <= spare < threads:
        sides[f"brisknet, {spare} thread(s)"] = at(spare, sides["brisknet"])
        sides[f"brisknet in memory, {spare} thread(s)"] = at(spare, sides["brisknet in memory"])
    workers = []
    try:
        for label, (python, backend) in peers.keras_pythons().items():
            try:
                worker = peers.KerasWorker(python, backend, KERAS_PIPELINE, np.array(folder), np.zeros(1), threads,
                                           "pipeline_" + backend)
            except RuntimeError:  # (Keras without TensorFlow has no image_dataset_from_directory)
                continue
            workers.append(worker)
            sides[label] = lambda w=worker: w.epoch("")
        seconds = peers.interleaved(sides, repeats)
    finally:
        for w in workers:
            w.close()
    return {label: len(x) / s for label, s in seconds.items()}


def main():
    import brisknet
    repeats = int(os.environ.get("REPEATS", "3"))
    threads = brisknet.get_num_threads()
    print(f"# {peers.machine(threads)}, {IMAGES} images of {SIZE} x {SIZE}, batch {BATCH}")
    with tempfile.TemporaryDirectory() as root:
        result = rates(make_folder(root, IMAGES), threads, repeats)
    print("folder -> decode -> augment -> train: " + peers.ratio_line(
        {k: v for k, v in result.items() if not k.startswith("brisknet ") and not k.startswith("brisknet,")}))
    print(f"in memory: samples/s {result['brisknet in memory']:,.0f}; "
          f"pipeline / in memory {result['brisknet'] / result['brisknet in memory']:.2f}")
    for label in [k for k in result if k.startswith("brisknet, ")]:
        fewer = label.split(", ")[1]
        memory = result[f"brisknet in memory, {fewer}"]
        print(f"with {fewer} (a core left for decoding): pipeline samples/s {result[label]:,.0f}, in memory "
              f"{memory:,.0f}; pipeline / in memory {result[label] / memory:.2f}")
    return result


if __name__ == "__main__":
    main()
