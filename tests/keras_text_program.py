"""TextVectorization and pad_sequences on a small corpus, every output mode, n-grams, characters,
a given vocabulary: run by Keras 3 on TensorFlow (its TextVectorization needs TensorFlow) to
record tests/keras_text_expected.json, and by test_text.py with brisknet as keras.

    KERAS_BACKEND=tensorflow python tests/keras_text_program.py --record   # in a venv with Keras 3 + TF
"""
import json
import os
import sys

import numpy as np

CORPUS = ["The cat sat on the mat.", "the DOG ate the cat!", "A cat, a dog; and THE bird?", "Ünïcode ÉTÉ été", "",
          "b a"]
QUERIES = ["the cat and the bird", "zebra unknown the", "été"]
EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_text_expected.json")
# an end-to-end text model Keras saved (--record): its vocabulary among the archive's assets
TEXT_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_text_model.keras")
TEXTS = np.array(["the cat sat on the mat", "a dog ate the cat", "the bird", "unknown words here", "cat cat dog"],
                 dtype=object)


def text_model(keras):
    """Keras' "text classification from scratch" form: a string input, TextVectorization, the
    numbers' layers after it, one model taking raw strings."""
    keras.utils.set_random_seed(0)
    vectorize = keras.layers.TextVectorization(max_tokens=30, output_sequence_length=6)
    vectorize.adapt(CORPUS)
    inputs = keras.Input(shape=(1,), dtype="string")
    x = keras.layers.Embedding(30, 4)(vectorize(inputs))
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def run(keras):
    out = {}
    for mode in ("int", "multi_hot", "count", "tf_idf"):
        for ngrams in (None, 2):
            layer = keras.layers.TextVectorization(output_mode=mode, ngrams=ngrams,
                                                   output_sequence_length=7 if mode == "int" else None)
            layer.adapt(CORPUS)
            out[f"{mode}_{ngrams}"] = {"vocab": layer.get_vocabulary(),
                                       "out": np.asarray(layer(QUERIES)).round(5).tolist()}
    layer = keras.layers.TextVectorization(max_tokens=6, split="character", standardize="lower")
    layer.adapt(CORPUS)
    out["characters"] = {"vocab": layer.get_vocabulary(), "out": np.asarray(layer(["abc", "été"])).tolist()}
    layer = keras.layers.TextVectorization(standardize=None, vocabulary=["x", "Y", "z"])
    out["given"] = {"vocab": layer.get_vocabulary(), "out": np.asarray(layer(["x Y y z q"])).tolist(),
                    "size": layer.vocabulary_size()}
    layer = keras.layers.TextVectorization(max_tokens=5, output_mode="multi_hot", pad_to_max_tokens=True)
    layer.adapt(CORPUS)
    out["padded_multi_hot"] = np.asarray(layer(QUERIES)).tolist()
    words = np.array([["a", "b", "c", "a"], ["d", "b", "a", "e"], ["é", "b", "b", "zz"]])
    queries = np.array([["a", "zz", "q", "b"], ["é", "", "e", "a"]])
    for mode in ("int", "one_hot", "multi_hot", "count", "tf_idf"):
        for mask in (None, ""):
            layer = keras.layers.StringLookup(output_mode=mode, mask_token=mask)
            layer.adapt(words)
            data = queries[:, :1] if mode == "one_hot" else queries
            out[f"string_{mode}_{mask}"] = {"vocab": layer.get_vocabulary(),
                                            "out": np.asarray(layer(data)).round(5).tolist()}
    layer = keras.layers.StringLookup(max_tokens=4, vocabulary=["x", "y"], num_oov_indices=1)
    out["string_given"] = {"vocab": layer.get_vocabulary(), "out": np.asarray(layer(["y", "x", "w"])).tolist(),
                           "size": layer.vocabulary_size()}
    inverse = keras.layers.StringLookup(vocabulary=["x", "y"], invert=True)
    out["string_invert"] = {"vocab": inverse.get_vocabulary(),
                            "out": [t.decode() if isinstance(t, bytes) else str(t)
                                    for t in np.asarray(inverse(np.array([2, 0, 1]))).tolist()]}
    # several out-of-vocabulary indices: unknown tokens hashed (FarmHash; SipHash with a salt) or,
    # integers by default, taken modulo their number
    unknown = np.array([["a", "zz", "q", "b", "x" * 20, "é" * 23, "long " * 30, "Ünïcode", ""]])
    for k, kwargs in enumerate([{"num_oov_indices": 3}, {"num_oov_indices": 4, "salt": (7, -3), "mask_token": ""},
                                {"num_oov_indices": 2, "output_mode": "multi_hot"}]):
        layer = keras.layers.StringLookup(**kwargs)
        layer.adapt(words)
        out[f"string_oov_{k}"] = {"vocab": layer.get_vocabulary(), "out": np.asarray(layer(unknown)).tolist()}
    unknown_ints = np.array([[12, 8, -7, 1000001, 7, 0, -12345678901, 44]])
    for k, kwargs in enumerate([{"num_oov_indices": 3}, {"num_oov_indices": 5, "oov_method": "farmhash"},
                                {"num_oov_indices": 5, "oov_method": "farmhash", "salt": 11}]):
        layer = keras.layers.IntegerLookup(vocabulary=[12, 7, 3], **kwargs)
        out[f"integer_oov_{k}"] = {"vocab": [int(t) for t in layer.get_vocabulary()],
                                   "out": np.asarray(layer(unknown_ints)).tolist()}
    texts = np.array([["a", "zz", "", "Ünïcode"], ["long " * 30, "b", "a", "q"]])
    for k, kwargs in enumerate([{"num_bins": 7}, {"num_bins": 5, "mask_value": ""}, {"num_bins": 6, "salt": [3, 8]},
                                {"num_bins": 5, "output_mode": "multi_hot"}, {"num_bins": 5, "output_mode": "count"}]):
        out[f"hashing_{k}"] = np.asarray(keras.layers.Hashing(**kwargs)(texts)).tolist()
    out["hashing_one_hot"] = np.asarray(keras.layers.Hashing(4, output_mode="one_hot")(texts[:, :1])).tolist()
    out["hashing_ints"] = np.asarray(keras.layers.Hashing(9)(np.array([[1, -5, 123456789012, 0]]))).tolist()
    out["hashing_floats"] = np.asarray(keras.layers.Hashing(9, mask_value=0)(np.array([[1.7, -2.2, 0.0]]))).tolist()
    out["category_one_hot"] = np.asarray(keras.layers.CategoryEncoding(4, output_mode="one_hot")([3, 2, 0, 1])).tolist()
    out["category_multi_hot"] = np.asarray(keras.layers.CategoryEncoding(4)([[0, 1], [0, 0], [1, 2], [3, 1]])).tolist()
    out["category_count"] = np.asarray(keras.layers.CategoryEncoding(4, output_mode="count")(
        [[0, 1], [0, 0], [1, 2], [3, 1]], count_weights=np.array([[0.1, 0.2], [0.1, 0.1], [0.2, 0.3], [0.4, 0.2]]))
    ).round(5).tolist()
    ints = np.array([[12, 7, 7, 3], [3, 3, 99, 12], [5, 7, 12, 7]])
    for mode in ("int", "multi_hot", "count"):
        layer = keras.layers.IntegerLookup(output_mode=mode, mask_token=0 if mode == "int" else None)
        layer.adapt(ints)
        out[f"integer_{mode}"] = {"vocab": [int(t) for t in layer.get_vocabulary()],
                                  "out": np.asarray(layer(np.array([[7, 12, 0, 42], [5, 3, 3, 1]]))).round(5).tolist()}
    seqs = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10]]
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            out[f"pad_{padding}_{truncating}"] = keras.utils.pad_sequences(
                seqs, maxlen=4, padding=padding, truncating=truncating, value=-1).tolist()
    out["pad_default"] = keras.utils.pad_sequences(seqs).tolist()
    out["pad_float"] = keras.utils.pad_sequences([[0.5, 1.5], [2.5]], dtype="float32", padding="post").tolist()
    return out


if __name__ == "__main__":
    import keras
    results = run(keras)
    model = text_model(keras)
    results["text_model"] = np.asarray(model.predict(TEXTS, verbose=0)).tolist()
    if sys.argv[1:2] == ["--record"]:
        model.save(TEXT_MODEL)
        with open(EXPECTED, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, sort_keys=True, ensure_ascii=False)
    else:
        print(json.dumps(results))
