"""keras.datasets.imdb and reuters on files written as Keras' are (ragged object arrays in .npz),
Keras 3's processing reproduced step by step, hostile files refused, a missing file explained."""
import json

import numpy as np
import pytest

import brisknet as keras


def _ragged(rng, n, vocab=50):
    out = np.empty(n, dtype=object)
    out[:] = [rng.integers(1, vocab, rng.integers(1, 12)).tolist() for _ in range(n)]
    return out


@pytest.fixture()
def files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "imdb.npz", x_train=_ragged(rng, 30), y_train=rng.integers(0, 2, 30),
             x_test=_ragged(rng, 20), y_test=rng.integers(0, 2, 20))
    np.savez(tmp_path / "reuters.npz", x=_ragged(rng, 40), y=rng.integers(0, 46, 40))
    (tmp_path / "imdb_word_index.json").write_text(json.dumps({"the": 1, "movie": 2}))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("BRISKNET_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def _keras_steps(xs, labels, seed, start_char=1, index_from=3, maxlen=None, num_words=None, skip_top=0, oov_char=2):
    order = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(order)
    xs, labels = [list(xs[i]) for i in order], labels[order]
    xs = [[start_char] + [w + index_from for w in x] for x in xs]
    if maxlen:
        keep = [len(x) < maxlen for x in xs]
        xs, labels = [x for x, k in zip(xs, keep) if k], labels[np.asarray(keep)]
    num_words = num_words or max(max(x) for x in xs)
    return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs], labels


def test_imdb_as_keras_returns_it(files):
    raw = np.load(files / "imdb.npz", allow_pickle=True)  # (the test's own file)
    (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(path=str(files / "imdb.npz"),
                                                                         num_words=30, skip_top=2, maxlen=10)
    rng = np.random.RandomState(113)
    for xs, ys, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        order = np.arange(len(raw["x_" + split]))
        rng.shuffle(order)
        want = [[1] + [w + 3 for w in raw["x_" + split][i]] for i in order]
        kept = [i for i, x in enumerate(want) if len(x) < 10]
        want = [[w if 2 <= w < 30 else 2 for w in want[i]] for i in kept]
        assert xs.dtype == object and [list(x) for x in xs] == want
        np.testing.assert_array_equal(ys, raw["y_" + split][order][kept])
    assert keras.datasets.imdb.get_word_index(path=str(files / "imdb_word_index.json")) == {"the": 1, "movie": 2}


def test_reuters_splits_after_the_shuffle(files):
    raw = np.load(files / "reuters.npz", allow_pickle=True)
    (x_train, y_train), (x_test, y_test) = keras.datasets.reuters.load_data(path=str(files / "reuters.npz"),
                                                                            test_split=0.25, seed=7)
    xs, labels = _keras_steps(raw["x"], raw["y"], 7)
    assert [list(x) for x in x_train] == xs[:30] and [list(x) for x in x_test] == xs[30:]
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), labels)
    assert len(keras.datasets.reuters.get_label_names()) == 46


def test_the_files_are_found_in_keras_cache(files):
    cache = files / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    (files / "reuters.npz").rename(cache / "reuters.npz")
    (x_train, _), _ = keras.datasets.reuters.load_data()
    assert len(x_train) == 32


def test_a_missing_file_says_where_to_put_it(files, monkeypatch):
    monkeypatch.setattr("brisknet.datasets._source._download",
                        lambda *a: (_ for _ in ()).throw(OSError("no network")))
    with pytest.raises(FileNotFoundError, match="Put Keras' imdb.npz in .*keras_home"):
        keras.datasets.imdb.load_data()


class _Hostile:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def test_a_tampered_file_is_refused_without_running_it(files):
    bad = np.empty(2, dtype=object)
    bad[:] = [[1, 2], _Hostile()]
    np.savez(files / "bad.npz", x=bad, y=np.zeros(2))
    with pytest.raises(ValueError, match="refusing to load posix.system"):
        keras.datasets.reuters.load_data(path=str(files / "bad.npz"))
    (files / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable dataset file"):
        keras.datasets.reuters.load_data(path=str(files / "junk.npz"))
