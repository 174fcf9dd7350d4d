"""StringLookup and IntegerLookup, as Keras 3's: tokens (strings or integers, any shape) to indices
in a vocabulary learnt by adapt() or given, or to one-hot, multi-hot, count or TF-IDF vectors;
invert=True maps indices back to tokens. Like TextVectorization they run in the input pipeline.

Keras' layout of the indices: the mask token first (when there is one, in 'int' mode), then the
num_oov_indices out-of-vocabulary indices (0 refuses unknown tokens; of several, an unknown token
takes the one its hash picks: FarmHash's Fingerprint64 of a string, or of an integer's decimal
digits with oov_method='farmhash', SipHash-2-4 with a salt, an integer modulo num_oov_indices by
default; hashing.py, TensorFlow's bits), then the vocabulary sorted by count, ties by the token
descending (UTF-8 bytes for strings), as Keras on TensorFlow."""
from __future__ import annotations

import collections
import math

import numpy as np

from .. import hashing
from .category_encoding import encode
from .layer import Layer
from .text_input import text_input
from .vocabulary import Vocabulary, checked_idf_weights

MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class _Lookup(Vocabulary, Layer):
    KIND = "token"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False, name=None,
                 oov_method="floormod", salt=None, **kwargs):
        kwargs.pop("vocabulary_size", None)  # (Keras' configs: the size of the vocabulary they also hold)
        super().__init__(name=name, **kwargs)
        where = f"{type(self).__name__} {self.name!r}"
        if output_mode not in MODES:
            raise ValueError(f"{where}: output_mode must be one of {MODES}, got {output_mode!r}")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, np.integer)) or \
                num_oov_indices < 0:
            raise ValueError(f"{where}: num_oov_indices must be an int >= 0, got {num_oov_indices!r}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{where}: oov_method must be 'floormod' or 'farmhash', got {oov_method!r}")
        self.oov_method, self.salt = oov_method, self._salt(salt, oov_method, where)
        if invert and output_mode != "int":
            raise ValueError(f"{where}: invert=True needs output_mode='int'")
        if sparse:
            raise NotImplementedError(f"{where}: sparse outputs are not supported")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer))
                                       or max_tokens < 1):
            raise ValueError(f"{where}: max_tokens must be a positive int, got {max_tokens!r}")
        if pad_to_max_tokens and (max_tokens is None or output_mode == "int"):
            raise ValueError(f"{where}: pad_to_max_tokens needs max_tokens and an output_mode other than 'int'")
        self.max_tokens, self.num_oov_indices, self.invert = max_tokens, int(num_oov_indices), bool(invert)
        self.mask_token, self.oov_token = self._token(mask_token, where), self._token(oov_token, where)
        self.output_mode, self.pad_to_max_tokens = output_mode, bool(pad_to_max_tokens)
        self._vocabulary, self._index, self._idf = None, {}, None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    def _salt(self, salt, oov_method, where):
        return hashing.salt_key(salt, where)

    # ---------------------------------------------------------------- tokens of this kind
    def _token(self, value, where):
        raise NotImplementedError

    def _array(self, data, where):
        """The input as a numpy array of this layer's tokens."""
        raise NotImplementedError

    def _order_key(self, token):
        return token

    # ---------------------------------------------------------------- vocabulary
    @property
    def _specials(self) -> list:
        mask = [self.mask_token] if self.mask_token is not None and self.output_mode == "int" else []
        return mask + [self.oov_token] * self.num_oov_indices

    def adapt(self, data, batch_size=None, steps=None):
        """The vocabulary (and TF-IDF weights) of `data`: an array of tokens, or an iterable of
        such batches (steps: at most that many)."""
        where = f"{type(self).__name__} {self.name!r}: adapt"
        batches = [data] if isinstance(data, (np.ndarray, list, tuple, str, int)) or hasattr(data, "numpy") else data
        counts, documents, n_docs = collections.Counter(), collections.Counter(), 0
        for k, batch in enumerate(batches):
            if steps is not None and k >= steps:
                break
            a = self._array(batch[0] if isinstance(batch, tuple) else batch, where)
            rows = a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(-1, 1)
            for row in rows:
                tokens = [t for t in row.tolist() if t != self.mask_token]
                counts.update(tokens)
                documents.update(set(tokens))
                n_docs += 1
        if not counts:
            raise ValueError(f"{where}: no tokens to learn a vocabulary from")
        counts.pop(self.oov_token, None)
        ranked = sorted(counts, key=lambda t: (counts[t], self._order_key(t)), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[:max(0, self.max_tokens - len(self._specials))]
        self._set(ranked)
        if self.output_mode == "tf_idf":
            idf = [math.log(1 + n_docs / (1 + documents[t])) for t in ranked]
            self._idf = np.array([float(np.mean(idf)) if idf else 0.0] * self.num_oov_indices + idf, np.float32)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        where = f"{type(self).__name__} {self.name!r}: set_vocabulary"
        tokens = self._array(vocabulary, where).reshape(-1).tolist()
        specials = self._specials
        if tokens[:len(specials)] == specials:  # (a vocabulary from get_vocabulary() starts with them)
            tokens = tokens[len(specials):]
        if not tokens:
            raise ValueError(f"{where}: the vocabulary is empty")
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"{where}: the vocabulary has repeated tokens")
        if any(t in (self.mask_token, self.oov_token) for t in tokens):
            raise ValueError(f"{where}: the mask and OOV tokens may only come first")
        self._set(tokens)
        if self.output_mode == "tf_idf":
            self._idf = checked_idf_weights(idf_weights, len(tokens), self.num_oov_indices, where)

    # ---------------------------------------------------------------- call
    def __call__(self, inputs, training=None):
        from .symbolic import is_symbolic
        where = f"{type(self).__name__} {self.name!r}"
        if is_symbolic(inputs):
            return text_input(self, inputs)  # (the first layer of a model of strings)
        if self._vocabulary is None:
            raise ValueError(f"{where}: no vocabulary yet: call adapt(data) or give vocabulary=[...]")
        if self.invert:
            return self._tokens_of(inputs, where)
        ids = self._ids(self._array(inputs, where), where)
        return ids if self.output_mode == "int" else self._vectors(ids)

    def _oov_bucket(self, token) -> int:
        """Which of the num_oov_indices indices an unknown token takes, as Keras on TensorFlow."""
        if self.num_oov_indices == 1:
            return 0
        if self.KIND == "integer" and self.oov_method == "floormod":
            return token % self.num_oov_indices  # (Python's modulo is floormod)
        data = (str(token) if self.KIND == "integer" else token).encode("utf-8")
        digest = hashing.fingerprint64(data) if self.salt is None else hashing.siphash(self.salt, data)
        return digest % self.num_oov_indices

    def _ids(self, a, where):
        oov = len(self._specials) - self.num_oov_indices if self.num_oov_indices else None
        mask_id = 0 if self.mask_token is not None and self.output_mode == "int" else None
        flat = a.reshape(-1).tolist()
        out = np.empty(len(flat), np.int64)
        for k, t in enumerate(flat):
            i = self._index.get(t)
            if i is None:
                if t == self.mask_token and self.mask_token is not None:
                    i = mask_id if mask_id is not None else -1  # (other modes: dropped)
                elif oov is None:
                    raise ValueError(f"{where}: {self.KIND} {t!r} is not in the vocabulary (num_oov_indices=0)")
                else:
                    i = oov + self._oov_bucket(t)
            out[k] = i
        return out.reshape(a.shape)

    def _vectors(self, ids):
        width = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        out = encode(ids, self.output_mode if self.output_mode != "tf_idf" else "count", width)
        if self.output_mode == "tf_idf":
            out[..., :self._idf.size] *= self._idf
        return out

    def _tokens_of(self, inputs, where):
        ids = np.asarray(inputs)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{where} (invert=True): expected integer indices, got dtype {ids.dtype}")
        vocab = self.get_vocabulary()
        if ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
            raise ValueError(f"{where} (invert=True): indices must be in [0, {len(vocab)})")
        return np.asarray(vocab, dtype=object if self.KIND == "string" else np.int64)[ids]

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "mask_token": self.mask_token, "oov_token": self.oov_token, "invert": self.invert,
                "output_mode": self.output_mode, "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": False,
                "vocabulary": None if self._vocabulary is None else self.get_vocabulary(include_special_tokens=False),
                "idf_weights": None if self._idf is None else self._idf[self.num_oov_indices:].tolist(),
                "oov_method": self.oov_method, "salt": self.salt}


class StringLookup(_Lookup):
    """keras.layers.StringLookup(max_tokens=None, num_oov_indices=1, mask_token=None,
    oov_token='[UNK]', vocabulary=None, idf_weights=None, invert=False, output_mode='int', ...)."""
    KIND = "string"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        if str(encoding).lower().replace("-", "") != "utf8":
            raise NotImplementedError("StringLookup: only the utf-8 encoding is supported")
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                         output_mode, pad_to_max_tokens, sparse, name, salt=salt, **kwargs)

    def _token(self, value, where):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8")
        raise TypeError(f"{where}: expected a string token, got {type(value).__name__}")

    def _array(self, data, where):
        if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
            data = data.numpy()
        a = np.asarray(data, dtype=object)
        flat = a.reshape(-1)
        for k, s in enumerate(flat):
            if isinstance(s, bytes):
                try:
                    flat[k] = s.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValueError(f"{where}: bytes that are not UTF-8: {e}") from None
            elif not isinstance(s, str):
                raise TypeError(f"{where}: expected strings, got {type(s).__name__} {str(s)[:40]!r}")
        return flat.reshape(a.shape)

    def _order_key(self, token):
        return token.encode("utf-8")


class IntegerLookup(_Lookup):
    """keras.layers.IntegerLookup(max_tokens=None, num_oov_indices=1, mask_token=None,
    oov_token=-1, vocabulary=None, idf_weights=None, invert=False, output_mode='int', ...)."""
    KIND = "integer"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, output_mode="int",
                 sparse=False, vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 pad_to_max_tokens=False, name=None, oov_method="floormod", salt=None, **kwargs):
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, idf_weights, invert,
                         output_mode, pad_to_max_tokens, sparse, name, oov_method, salt, **kwargs)

    def _salt(self, salt, oov_method, where):
        if salt is not None and oov_method != "farmhash":
            raise ValueError(f"{where}: salt can only be used with oov_method='farmhash', got "
                             f"oov_method={oov_method!r}")
        return super()._salt(salt, oov_method, where)

    def _token(self, value, where):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{where}: expected an integer token, got {value!r}")
        return int(value)

    def _array(self, data, where):
        if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
            data = data.numpy()
        a = np.asarray(data)
        if a.dtype.kind == "f" and np.array_equal(a, np.round(a)):
            a = a.astype(np.int64)
        if a.dtype.kind not in "iu":
            raise TypeError(f"{where}: expected integers, got dtype {a.dtype}")
        return a.astype(np.int64)
