"""keras.utils.pad_sequences: lists of sequences of different lengths as one array, padded or
truncated at the front ('pre', Keras' default) or the back ('post')."""
from __future__ import annotations

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """(len(sequences), maxlen) + the steps' own shape, of `dtype`, filled with `value` where a
    sequence is shorter; maxlen defaults to the longest sequence."""
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding must be "pre" or "post", got {padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating must be "pre" or "post", got {truncating!r}')
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError("pad_sequences: sequences must be a list of sequences")
    rows, lengths, step_shape = [], [], None
    for k, s in enumerate(sequences):
        if not hasattr(s, "__len__") or isinstance(s, (str, bytes)):
            raise ValueError(f"pad_sequences: sequence {k} is not a sequence: {str(s)[:60]!r}")
        rows.append(s)
        lengths.append(len(s))
        if step_shape is None and len(s):
            step_shape = np.asarray(s).shape[1:]
    step_shape = () if step_shape is None else step_shape
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative int, got {maxlen!r}")
    text = np.dtype(dtype).kind in "US" or dtype is object
    if isinstance(value, str) and not text:
        raise ValueError(f"pad_sequences: value {value!r} is a string but dtype {dtype!r} is not")
    out = np.full((len(rows), int(maxlen)) + step_shape, value, dtype=dtype)
    for k, s in enumerate(rows):
        n = min(len(s), int(maxlen))
        if n == 0:
            continue
        kept = np.asarray(s[len(s) - n:] if truncating == "pre" else s[:n])
        if kept.shape[1:] != step_shape:
            raise ValueError(f"pad_sequences: sequence {k} has steps of shape {kept.shape[1:]}, the others "
                             f"{step_shape}")
        if not text and kept.dtype.kind not in "biuf":
            raise ValueError(f"pad_sequences: sequence {k} holds {kept.dtype} values, not numbers")
        if padding == "post":
            out[k, :n] = kept
        else:
            out[k, int(maxlen) - n:] = kept
    return out
