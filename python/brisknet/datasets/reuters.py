"""Reuters newswires (11,228) labelled with one of 46 topics, as lists of word indices:
keras.datasets.reuters, read from Keras' reuters.npz (see _word_sequences.find)."""
from __future__ import annotations

import numpy as np

from . import _npz
from ._word_sequences import as_array, find, limited, marked, shuffled, without_long, word_index

DIGEST = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
INDEX_DIGEST = "4d44cc38712099c9e383dc6e5f11a921"
LABELS = ("cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
          "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
          "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi",
          "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver",
          "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113, start_char=1,
              oov_char=2, index_from=3, **kwargs):
    """((x_train, y_train), (x_test, y_test)) as Keras 3 returns them (the last test_split of the
    shuffled newswires are the test set)."""
    f = _npz.load(find("reuters", "reuters.npz", DIGEST, None if path == "reuters.npz" else path))
    xs, labels = shuffled(np.random.RandomState(seed), f["x"], f["y"])
    xs = marked(xs, start_char, index_from)
    if maxlen:
        xs, labels = without_long(maxlen, xs, labels)
    xs = limited(xs, num_words, skip_top, oov_char)
    n = int(len(xs) * (1 - test_split))
    return (as_array(xs[:n]), np.array(labels[:n])), (as_array(xs[n:]), np.array(labels[n:]))


def get_word_index(path="reuters_word_index.json"):
    return word_index("reuters", "reuters_word_index.json", INDEX_DIGEST,
                      None if path == "reuters_word_index.json" else path)


def get_label_names():
    """The 46 topics' names, at their label's index."""
    return LABELS
