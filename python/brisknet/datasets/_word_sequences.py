"""What keras.datasets.imdb and reuters do to their reviews and newswires (lists of word indices,
most frequent words first) before returning them: a seeded shuffle, a start mark, indices moved
up by index_from, sequences at least maxlen long dropped, rare words (num_words) and the most
frequent ones (skip_top) replaced by an out-of-vocabulary mark or removed. Keras 3's order of
operations, so that the same seed gives the same arrays."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ._source import locate

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def keras_cache() -> str:
    """Where Keras keeps its datasets: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def find(name, filename, digest, path):
    """A dataset file: `path` itself when it is a file, else `filename` (or path's name) looked up
    in $BRISKNET_DATA, brisknet's cache and Keras' cache, then downloaded (digest-checked)."""
    if path is not None and Path(path).is_file():
        return Path(path)
    fname = Path(path).name if path is not None else filename
    return locate(name, {fname: digest}, None, (keras_cache(),), BASE_URL,
                  hint=f"There is no network here? Put Keras' {fname} in {keras_cache()} (or in a directory named "
                       f"by $BRISKNET_DATA), or pass path= the file.")[fname]


def shuffled(rng, xs, labels):
    order = np.arange(len(xs))
    rng.shuffle(order)
    return xs[order], labels[order]


def marked(xs, start_char, index_from):
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [list(x) for x in xs]


def without_long(maxlen, xs, labels):
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limited(xs, num_words, skip_top, oov_char):
    if not num_words:
        num_words = max(max(x) for x in xs if x) if any(xs) else 0
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def as_array(xs):
    """Keras' array of the sequences: np.array(xs, dtype=object) (a list per sequence)."""
    return np.array(xs, dtype="object")


def word_index(name, filename, digest, path):
    with open(find(name, filename, digest, path), encoding="utf-8") as f:
        index = json.load(f)
    if not isinstance(index, dict) or not all(isinstance(k, str) and isinstance(v, int) for k, v in index.items()):
        raise ValueError(f"{filename}: expected a JSON object of words to indices")
    return index
