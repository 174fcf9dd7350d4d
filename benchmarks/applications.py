"""The keras.applications benchmark (issue 27), 2 threads unless BRISKNET_NUM_THREADS says otherwise:

1. MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=10) trained for one epoch of
   SAMPLES=512 random images (batch 32, Adam, sparse categorical cross-entropy) by brisknet,
   PyTorch eager (the same architecture in torch.nn, NCHW, as torchvision writes it) and Keras 3
   on TensorFlow and on PyTorch (each in a virtualenv of its own, see peers.py), epochs
   interleaved: training samples/s, medians of REPEATS=3.
2. ResNet50(weights=None) forward (inference) on a batch of BATCH=32 images of 224 x 224, the same
   sides, interleaved: images/s, medians of REPEATS=3.

    python benchmarks/applications.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the benchmarks' shared helpers, beside this file)

SAMPLES, TRAIN_BATCH, SIZE = int(os.environ.get("SAMPLES", "512")), 32, 96
BATCH, RESNET_SIZE = int(os.environ.get("BATCH", "32")), int(os.environ.get("RESNET_SIZE", "224"))

KERAS_MOBILENET = peers.keras_fit_worker(
    f"def make_model():\n    return keras.applications.MobileNetV2(weights=None, input_shape=({SIZE}, {SIZE}, 3), "
    "classes=10)")
KERAS_RESNET_FORWARD = r"""
import json, sys, time
import numpy as np
import keras
x = np.load(sys.argv[1])
model = keras.applications.ResNet50(weights=None, input_shape=x.shape[1:])
model.predict(x, batch_size=len(x), verbose=0)  # warm-up (and tracing)
print("ready", flush=True)
for line in sys.stdin:
    start = time.perf_counter()
    model.predict(x, batch_size=len(x), verbose=0)
    print(json.dumps(time.perf_counter() - start), flush=True)
"""


def torch_mobilenet_v2(torch, classes):
    """MobileNetV2 in torch.nn as torchvision writes it (NCHW; batch normalisation after each
    convolution with Keras' epsilon and momentum; ReLU6)."""
    nn = torch.nn

    def conv_bn(cin, cout, k, stride=1, groups=1, relu=True):
        out = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
               nn.BatchNorm2d(cout, eps=1e-3, momentum=0.001)]
        return out + [nn.ReLU6()] if relu else out

    class Block(nn.Module):
        def __init__(self, cin, cout, stride, expansion):
            super().__init__()
            hidden = cin * expansion
            body = conv_bn(cin, hidden, 1) if expansion != 1 else []
            body += conv_bn(hidden, hidden, 3, stride, groups=hidden) + conv_bn(hidden, cout, 1, relu=False)
            self.body, self.residual = nn.Sequential(*body), stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    blocks, cin = conv_bn(3, 32, 3, 2), 32
    for filters, stride, expansion, repeats in ((16, 1, 1, 1), (24, 2, 6, 2), (32, 2, 6, 3), (64, 2, 6, 4),
                                                (96, 1, 6, 3), (160, 2, 6, 3), (320, 1, 6, 1)):
        for i in range(repeats):
            blocks.append(Block(cin, filters, stride if i == 0 else 1, expansion))
            cin = filters
    blocks += conv_bn(cin, 1280, 1) + [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, classes)]
    return nn.Sequential(*blocks)


def torch_resnet50(torch, classes=1000):
    """ResNet50 v1 in torch.nn as Keras builds it (the stride on each stage's first 1 x 1 convolution)."""
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, filters, stride):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, filters, 1, stride), nn.BatchNorm2d(filters, eps=1.001e-5), nn.ReLU(),
                nn.Conv2d(filters, filters, 3, 1, 1), nn.BatchNorm2d(filters, eps=1.001e-5), nn.ReLU(),
                nn.Conv2d(filters, 4 * filters, 1), nn.BatchNorm2d(4 * filters, eps=1.001e-5))
            self.shortcut = nn.Sequential(nn.Conv2d(cin, 4 * filters, 1, stride),
                                          nn.BatchNorm2d(4 * filters, eps=1.001e-5)) if cin != 4 * filters \
                else nn.Identity()

        def forward(self, x):
            return torch.relu(self.shortcut(x) + self.body(x))

    stages = [nn.ZeroPad2d(3), nn.Conv2d(3, 64, 7, 2), nn.BatchNorm2d(64, eps=1.001e-5), nn.ReLU(), nn.ZeroPad2d(1),
              nn.MaxPool2d(3, 2)]
    cin = 64
    for filters, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(count):
            stages.append(Bottleneck(cin, filters, stride if i == 0 else 1))
            cin = 4 * filters
    stages += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, classes), nn.Softmax(dim=1)]
    return nn.Sequential(*stages)


def mobilenet_training(torch, threads, repeats):
    import brisknet as keras
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (SAMPLES, SIZE, SIZE, 3)).astype(np.float32)
    y = rng.integers(0, 10, SAMPLES)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(SIZE, SIZE, 3), classes=10)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:4 * TRAIN_BATCH], y[:4 * TRAIN_BATCH], batch_size=TRAIN_BATCH, verbose=0)  # warm-up
    sides = {"brisknet": peers.timed(lambda: model.fit(x, y, batch_size=TRAIN_BATCH, epochs=1, verbose=0))}
    if torch:
        epoch = peers.torch_epoch(torch, torch_mobilenet_v2(torch, 10), np.ascontiguousarray(x.transpose(0, 3, 1, 2)),
                                  y, TRAIN_BATCH)
        epoch()
        sides["torch eager"] = peers.timed(epoch)
    return _with_keras(sides, KERAS_MOBILENET, x, y, threads, repeats, "mobilenet", f"{TRAIN_BATCH}", SAMPLES)


def resnet_forward(torch, threads, repeats):
    import brisknet as keras
    x = np.random.default_rng(1).uniform(-100, 100, (BATCH, RESNET_SIZE, RESNET_SIZE, 3)).astype(np.float32)
    model = keras.applications.ResNet50(weights=None, input_shape=x.shape[1:])
    model.predict(x, batch_size=BATCH, verbose=0)  # warm-up
    sides = {"brisknet": peers.timed(lambda: model.predict(x, batch_size=BATCH, verbose=0))}
    if torch:
        net = torch_resnet50(torch).eval()
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

        def forward():
            with torch.no_grad():
                net(xt)
        forward()
        sides["torch eager"] = peers.timed(forward)
    return _with_keras(sides, KERAS_RESNET_FORWARD, x, np.zeros(1), threads, repeats, "resnet", "", BATCH)


def _with_keras(sides, script, x, y, threads, repeats, name, request, count):
    """{side: items/s} of `sides` and a Keras worker per installation, interleaved."""
    workers = [peers.KerasWorker(python, backend, script, x, y, threads, f"{name}_{backend}")
               for python, backend in peers.keras_pythons().values()]
    for label, worker in zip(peers.keras_pythons(), workers):
        sides[label] = lambda w=worker: w.epoch(request)
    try:
        seconds = peers.interleaved(sides, repeats)
    finally:
        for w in workers:
            w.close()
    return {label: count / s for label, s in seconds.items()}


def main():
    import brisknet
    repeats = int(os.environ.get("REPEATS", "3"))
    threads = brisknet.get_num_threads()
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    print(f"# {peers.machine(threads)}")
    training = mobilenet_training(torch, threads, repeats)
    print(f"MobileNetV2 {SIZE}x{SIZE}, 10 classes, training, batch {TRAIN_BATCH}, {SAMPLES} samples: "
          + peers.ratio_line(training, each=True))
    forward = resnet_forward(torch, threads, repeats)
    print(f"ResNet50 {RESNET_SIZE}x{RESNET_SIZE} forward, batch {BATCH}: " + peers.ratio_line(forward, "images/s",
                                                                                          each=True))
    return training, forward


if __name__ == "__main__":
    main()
