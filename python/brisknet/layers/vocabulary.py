"""What TextVectorization, StringLookup and IntegerLookup share: a vocabulary after the special
tokens (padding, out-of-vocabulary, mask) and its TF-IDF weights."""
from __future__ import annotations

import numpy as np


class Vocabulary:
    """Mixin: _specials (the leading tokens) is the class's; _vocabulary the tokens after them."""

    _vocabulary = None
    _index: dict = {}

    def _set(self, tokens):
        self._vocabulary = list(tokens)
        base = len(self._specials)
        self._index = {t: base + i for i, t in enumerate(self._vocabulary)}

    def get_vocabulary(self, include_special_tokens=True) -> list:
        tokens = list(self._vocabulary or [])
        return self._specials + tokens if include_special_tokens else tokens

    def vocabulary_size(self) -> int:
        return len(self._specials) + len(self._vocabulary or [])


def checked_idf_weights(weights, n_tokens, n_unknown, where) -> np.ndarray:
    """The TF-IDF weights given with a vocabulary of n_tokens, with the out-of-vocabulary
    index's (n_unknown of them: the mean of the others, as Keras) in front when missing."""
    if weights is None:
        raise ValueError(f"{where}: output_mode='tf_idf' needs idf_weights with the vocabulary")
    w = np.asarray(weights, np.float32).reshape(-1)
    if w.size == n_tokens:
        w = np.concatenate([[w.mean() if w.size else 0.0] * n_unknown, w]).astype(np.float32)
    if w.size != n_tokens + n_unknown:
        raise ValueError(f"{where}: {w.size} idf_weights for a vocabulary of {n_tokens} tokens")
    return w
