"""IMDB movie reviews (25,000 training, 25,000 test), labelled positive or negative, as lists of
word indices: keras.datasets.imdb, read from Keras' imdb.npz (see _word_sequences.find)."""
from __future__ import annotations

import numpy as np

from . import _npz
from ._word_sequences import as_array, find, limited, marked, shuffled, without_long, word_index

DIGEST = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
INDEX_DIGEST = "bfafd718b763782e994055a2d397834f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    """((x_train, y_train), (x_test, y_test)) as Keras 3 returns them."""
    f = _npz.load(find("imdb", "imdb.npz", DIGEST, None if path == "imdb.npz" else path))
    rng = np.random.RandomState(seed)
    x_train, labels_train = shuffled(rng, f["x_train"], f["y_train"])
    x_test, labels_test = shuffled(rng, f["x_test"], f["y_test"])
    x_train, x_test = marked(x_train, start_char, index_from), marked(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = without_long(maxlen, x_train, labels_train)
        x_test, labels_test = without_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             "Increase maxlen.")
    xs = limited(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    n = len(x_train)
    return (as_array(xs[:n]), labels[:n]), (as_array(xs[n:]), labels[n:])


def get_word_index(path="imdb_word_index.json"):
    """{word: index} of the reviews' words (index 1 the most frequent; load_data adds index_from)."""
    return word_index("imdb", "imdb_word_index.json", INDEX_DIGEST,
                      None if path == "imdb_word_index.json" else path)
