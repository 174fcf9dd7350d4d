"""A model that takes strings, as Keras' end-to-end text models do:

    inputs = keras.Input(shape=(1,), dtype="string")
    x = vectorize_layer(inputs)            # TextVectorization, StringLookup or Hashing
    model = keras.Model(inputs, head(x))   # fit / evaluate / predict on raw strings

brisknet's graphs compute on numbers, so the text layer stays in front of the graph: called on a
string input it returns a numeric input of the shape it makes (`text_input`), the graph starts
from there, and the model vectorises the strings it is given before anything else (models/
functional.py). The text layer and its string input are the model's in its config and files,
vocabulary included, as Keras lists them."""
from __future__ import annotations

import numpy as np

from .input_layer import InputLayer


def _output_shape(layer, sample_shape) -> tuple:
    if hasattr(layer, "ngrams") or hasattr(layer, "num_bins"):  # TextVectorization, Hashing
        return tuple(layer.compute_output_shape((None,) + sample_shape))[1:]
    if layer.output_mode == "int":
        return sample_shape
    if layer._vocabulary is None:
        raise ValueError(f"{layer.name!r}: output_mode={layer.output_mode!r} in a model needs the vocabulary first "
                         "(adapt() or vocabulary=...)")
    return (layer.vocabulary_size(),)


def text_input(layer, source) -> InputLayer:
    """What `layer` (a text layer) called on the symbolic `source` gives: a numeric InputLayer
    named as the layer (the graph's references to the layer's output name it), remembering both."""
    if not isinstance(source, InputLayer) or source.dtype != "string":
        raise NotImplementedError(f"{type(layer).__name__} {layer.name!r}: in a model, a text layer is called on a "
                                  "string input (keras.Input(shape=(1,), dtype='string')) and comes first; elsewhere "
                                  "it runs in the input pipeline (x = layer(texts) before fit)")
    if tuple(source.sample_shape) != (1,):
        raise ValueError(f"{layer.name!r}: a string input holds one text per sample: keras.Input(shape=(1,), "
                         f"dtype='string'), got shape {source.shape}")
    if getattr(source, "text_uses", None):
        raise NotImplementedError(f"{layer.name!r}: the string input {source.name!r} already goes through "
                                  f"{source.text_uses[0].name!r}; one text layer per string input is supported")
    derived = InputLayer(shape=_output_shape(layer, tuple(source.sample_shape)),
                         dtype="int32" if layer.output_mode == "int" else "float32", name=layer.name)
    derived.text_source = (source, layer)
    source.text_uses = [derived]
    return derived


def is_strings(x) -> bool:
    """Texts given for a string input (a list of str or bytes, or an array of them)."""
    if isinstance(x, (list, tuple)):
        return bool(x) and isinstance(x[0], (str, bytes))
    return isinstance(x, np.ndarray) and x.dtype.kind in "USO"


def vectorized(layer, texts):
    """A batch of texts, (samples,) or (samples, 1), through the text layer (TextVectorization
    takes one text per sample, a lookup a (samples, 1) batch of tokens)."""
    a = np.asarray(texts)
    if a.ndim == 2 and a.shape[1] == 1 and hasattr(layer, "ngrams"):
        a = a[:, 0]
    elif a.ndim == 1 and not hasattr(layer, "ngrams"):
        a = a[:, None]
    return layer(a)
