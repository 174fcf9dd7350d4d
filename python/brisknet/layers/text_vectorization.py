"""TextVectorization, as Keras 3's: strings to token indices (or multi-hot, count, TF-IDF
vectors), with a vocabulary learnt by adapt() or given. It works in the input pipeline: called on
a list or array of strings, it returns numpy arrays for fit; called on a string keras.Input, it is
the first layer of a model that takes strings (text_input.py).

Keras' choices kept: standardize lowercases ASCII letters only and strips ASCII punctuation
(TensorFlow's string ops); 'whitespace' splits on ASCII whitespace; the vocabulary is sorted by
count, ties by the token's UTF-8 bytes, both descending; index 0 is the padding token '' and 1
the out-of-vocabulary '[UNK]' in 'int' mode, and '[UNK]' is index 0 in the other modes; TF-IDF
weights are log(1 + documents / (1 + documents with the token))."""
from __future__ import annotations

import collections
import math
import re

import numpy as np

from .layer import Layer
from .text_input import text_input
from .vocabulary import Vocabulary, checked_idf_weights

_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']')
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
MODES = ("int", "multi_hot", "count", "tf_idf")
OOV = "[UNK]"


def _strings(data, where):
    """A batch of strings as a list of str (bytes decoded as UTF-8), and whether it was one string."""
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):  # (a TensorFlow or PyTorch tensor)
        data = data.numpy()
    if isinstance(data, (str, bytes)):
        return [_text(data, where)], True
    a = np.asarray(data, dtype=object)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{where}: expected a string or a 1-D batch of strings, got shape {a.shape}")
    return [_text(s, where) for s in a], False


def _text(s, where):
    if isinstance(s, bytes):
        try:
            return s.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{where}: bytes that are not UTF-8: {e}") from None
    if not isinstance(s, str):
        raise TypeError(f"{where}: expected strings, got {type(s).__name__} {str(s)[:40]!r}")
    return s


class TextVectorization(Vocabulary, Layer):
    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        where = f"TextVectorization {self.name!r}"
        if output_mode not in MODES:
            raise ValueError(f"{where}: output_mode must be one of {MODES}, got {output_mode!r}")
        if standardize not in (None, "lower_and_strip_punctuation", "lower", "strip_punctuation") and \
                not callable(standardize):
            raise ValueError(f"{where}: unknown standardize {standardize!r}")
        if split not in (None, "whitespace", "character") and not callable(split):
            raise ValueError(f"{where}: unknown split {split!r}")
        for what, v, least in (("max_tokens", max_tokens, 3 if output_mode == "int" else 2),
                               ("output_sequence_length", output_sequence_length, 1)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least):
                raise ValueError(f"{where}: {what} must be an int of at least {least}, got {v!r}")
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError(f"{where}: output_sequence_length applies to output_mode='int' only")
        if ngrams is not None:
            sizes = (ngrams,) if isinstance(ngrams, int) and not isinstance(ngrams, bool) else tuple(ngrams)
            if not sizes or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
                raise ValueError(f"{where}: ngrams must be a positive int or a tuple of them, got {ngrams!r}")
            ngrams = sizes[0] if isinstance(ngrams, int) else sizes
        if sparse or ragged:
            raise NotImplementedError(f"{where}: sparse and ragged outputs are not supported")
        if encoding.lower().replace("-", "") != "utf8":
            raise NotImplementedError(f"{where}: only the utf-8 encoding is supported")
        if pad_to_max_tokens and (max_tokens is None or output_mode == "int"):
            raise ValueError(f"{where}: pad_to_max_tokens needs max_tokens and an output_mode other than 'int'")
        self.max_tokens, self.standardize, self.split, self.ngrams = max_tokens, standardize, split, ngrams
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self._vocabulary = None  # the tokens after the special ones
        self._index = {}
        self._idf = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # ---------------------------------------------------------------- text to tokens
    def _tokens(self, text):
        s = self.standardize
        if s in ("lower_and_strip_punctuation", "lower"):
            text = text.translate(_ASCII_LOWER)
        if s in ("lower_and_strip_punctuation", "strip_punctuation"):
            text = _PUNCTUATION.sub("", text)
        if callable(s):
            text = s(text)
        if self.split == "whitespace":
            tokens = [t for t in _WHITESPACE.split(text) if t]
        elif self.split == "character":
            tokens = list(text)
        elif self.split is None:
            tokens = [text]
        else:
            tokens = list(self.split(text))
        if self.ngrams is None:
            return tokens
        sizes = range(1, self.ngrams + 1) if isinstance(self.ngrams, int) else self.ngrams
        return [" ".join(tokens[i:i + n]) for n in sizes for i in range(len(tokens) - n + 1)]

    @property
    def _specials(self) -> list:
        return ["", OOV] if self.output_mode == "int" else [OOV]

    # ---------------------------------------------------------------- vocabulary
    def adapt(self, data, batch_size=None, steps=None):
        """The vocabulary (and TF-IDF weights) of `data`: a list or array of strings, or an
        iterable of such batches (a dataset); steps: at most that many batches."""
        where = f"TextVectorization {self.name!r}: adapt"
        batches = [data] if isinstance(data, (str, bytes, np.ndarray, list, tuple)) or hasattr(data, "numpy") \
            else data
        counts, documents, n_docs = collections.Counter(), collections.Counter(), 0
        for k, batch in enumerate(batches):
            if steps is not None and k >= steps:
                break
            if isinstance(batch, tuple) and batch:  # ((x, y) batches of a dataset: the text)
                batch = batch[0]
            for text in _strings(batch, where)[0]:
                tokens = self._tokens(text)
                counts.update(tokens)
                documents.update(set(tokens))
                n_docs += 1
        if n_docs == 0:
            raise ValueError(f"{where}: no strings to learn a vocabulary from")
        for special in self._specials:
            counts.pop(special, None)
        ranked = sorted(counts, key=lambda t: (counts[t], t.encode("utf-8")), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[:self.max_tokens - len(self._specials)]
        self._set(ranked)
        if self.output_mode == "tf_idf":
            idf = [math.log(1 + n_docs / (1 + documents[t])) for t in ranked]
            self._idf = np.array([float(np.mean(idf)) if idf else 0.0] + idf, np.float32)  # [UNK]: their mean

    def set_vocabulary(self, vocabulary, idf_weights=None):
        where = f"TextVectorization {self.name!r}: set_vocabulary"
        tokens = [_text(t, where) for t in (vocabulary.numpy() if hasattr(vocabulary, "numpy") else vocabulary)]
        specials = self._specials
        while tokens and tokens[0] in specials:  # (a vocabulary from get_vocabulary() starts with them)
            tokens = tokens[1:]
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"{where}: the vocabulary has repeated tokens")
        if any(t in specials for t in tokens):
            raise ValueError(f"{where}: {specials} may only come first")
        if self.max_tokens is not None and len(tokens) + len(specials) > self.max_tokens:
            raise ValueError(f"{where}: {len(tokens) + len(specials)} tokens is more than max_tokens={self.max_tokens}")
        self._set(tokens)
        if self.output_mode == "tf_idf":
            self._idf = checked_idf_weights(idf_weights, len(tokens), 1, where)

    # ---------------------------------------------------------------- call
    def __call__(self, inputs, training=None):
        from .symbolic import is_symbolic
        if is_symbolic(inputs):
            return text_input(self, inputs)  # (the first layer of a model of strings)
        if self._vocabulary is None:
            raise ValueError(f"TextVectorization {self.name!r}: no vocabulary yet: call adapt(texts) or give "
                             "vocabulary=[...]")
        texts, single = _strings(inputs, f"TextVectorization {self.name!r}")
        out = self._int(texts) if self.output_mode == "int" else self._vectors(texts)
        return out[0] if single else out

    def _ids(self, text):
        unknown = 1 if self.output_mode == "int" else 0
        return [self._index.get(t, unknown) for t in self._tokens(text)]

    def _int(self, texts):
        rows = [self._ids(t) for t in texts]
        width = self.output_sequence_length if self.output_sequence_length is not None else \
            max((len(r) for r in rows), default=0)
        out = np.zeros((len(rows), width), np.int64)
        for k, r in enumerate(rows):
            r = r[:width]
            out[k, :len(r)] = r
        return out

    def _vectors(self, texts):
        width = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        out = np.zeros((len(texts), width), np.float32)
        for k, text in enumerate(texts):
            ids = self._ids(text)
            if not ids:
                continue
            if self.output_mode == "multi_hot":
                out[k, ids] = 1.0
            else:
                np.add.at(out[k], ids, 1.0)
        if self.output_mode == "tf_idf":
            out[:, :self._idf.size] *= self._idf
        return out

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return (input_shape[0], self.output_sequence_length)
        return (input_shape[0], self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size())

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "standardize": self.standardize if not callable(self.standardize) else None,
                "split": self.split if not callable(self.split) else None, "ngrams": self.ngrams,
                "output_mode": self.output_mode, "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary": None if self._vocabulary is None else self.get_vocabulary(),
                "idf_weights": None if self._idf is None else self._idf[1:].tolist()}
