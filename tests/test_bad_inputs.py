"""Bad input raises a clear Python exception naming the argument and shapes; never a crash."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import _core, layers, kernels


def compiled(units=3):
    model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(units, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


X = np.random.default_rng(0).standard_normal((20, 5)).astype(np.float32)
Y = np.arange(20) % 3


# ---------------------------------------------------------------- kernels
def test_matmul_shape_errors():
    with pytest.raises(ValueError, match=r"inner dimensions differ.*\(2, 3\).*\(4, 5\)"):
        kernels.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="must be 2-D"):
        kernels.matmul(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"out: expected shape \(2, 2\)"):
        kernels.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), out=np.empty((3, 3), np.float32))
    with pytest.raises(TypeError, match="out: expected dtype float32"):
        kernels.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), out=np.empty((2, 2)))
    with pytest.raises(ValueError, match="bias has shape"):
        kernels.matmul(np.ones((2, 3)), np.ones((3, 2)), bias=np.ones(3))


@pytest.mark.parametrize("bad", [np.array([["a", "b"]]), np.array([[object(), 1]], dtype=object)])
def test_non_numeric_dtypes_raise_type_error(bad):
    with pytest.raises(TypeError, match="numeric"):
        kernels.matmul(bad, np.ones((2, 2)))
    with pytest.raises(TypeError, match="numeric"):
        kernels.activation(bad, "relu")


def test_core_rejects_what_ops_would_convert():
    """The binding itself never copies or guesses: wrong dtype, wrong size, read-only, aliasing."""
    a = np.ones((4, 4), np.float32)
    with pytest.raises(TypeError, match="b: expected dtype float32, got float64"):
        _core.gemm(np.empty((4, 4), np.float32), a, np.ones((4, 4)), False, False, 0.0)
    with pytest.raises(TypeError, match="expected dtype float32 or float64, got int64"):
        _core.gemm(np.empty((4, 4), np.int64), np.ones((4, 4), np.int64), np.ones((4, 4), np.int64), False, False, 0.0)
    ro = np.empty((4, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core.gemm(ro, a, a, False, False, 0.0)
    with pytest.raises(ValueError, match="out overlaps a"):
        _core.gemm(a, a, a.copy(), False, False, 0.0)
    p = np.ones(10, np.float32)
    with pytest.raises(ValueError, match="m: expected 10 elements"):
        _core.adam_step(p, np.zeros(9, np.float32), np.zeros(10, np.float32), None, np.zeros(10, np.float32),
                        0.1, 0.9, 0.999, 1e-7, 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.activation_forward(np.empty(5, np.float32), np.ones(10, np.float32)[::2], _core.Activation.relu, 0.0)


def test_optimizer_state_must_not_be_silently_copied():
    p = np.ones(4, np.float64)[::2]  # a non-contiguous param would be updated on a copy
    with pytest.raises(ValueError, match="param: expected a C-contiguous"):
        kernels.sgd_step(p, np.ones(2))


def test_labels_out_of_range_in_kernel():
    with pytest.raises(ValueError, match="label 3 at index 1 is out of range for 3 classes"):
        kernels.sparse_categorical_crossentropy([0, 3], np.full((2, 3), 1 / 3, np.float32))
    with pytest.raises(ValueError, match="label -1"):
        kernels.sparse_categorical_crossentropy([-1, 0], np.full((2, 3), 1 / 3, np.float32))
    with pytest.raises(ValueError, match="integers"):
        kernels.sparse_categorical_crossentropy([0.5, 1], np.full((2, 3), 1 / 3, np.float32))


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        kernels.activation(np.ones(3), "relux")
    with pytest.raises(ValueError, match="unknown activation"):
        layers.Dense(3, activation="relux")
    with pytest.raises(ValueError, match="unknown loss"):
        compiled().compile(optimizer="adam", loss="cross_entropy")
    with pytest.raises(ValueError, match="unknown optimizer"):
        compiled().compile(optimizer="adamx", loss="mse")
    with pytest.raises(ValueError, match="unknown metric"):
        compiled().compile(optimizer="adam", loss="mse", metrics=["acuracy"])


def test_set_num_threads_validation():
    with pytest.raises(ValueError, match=">= 1"):
        keras.set_num_threads(0)
    with pytest.raises(TypeError):
        keras.set_num_threads(2.5)


# ---------------------------------------------------------------- model API
def test_fit_before_compile():
    model = keras.Sequential([layers.Dense(3)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(X, Y)


def test_wrong_rank_and_feature_count():
    model = compiled()
    model.fit(X, Y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"samples of shape \(6,\), but the model expects \(5,\)"):
        model.predict(np.ones((4, 6), np.float32))
    with pytest.raises(ValueError, match="batch dimension"):
        model.predict(np.ones(5, np.float32))


def test_x_y_length_mismatch():
    with pytest.raises(ValueError, match="x has 20, y has shape \\(19,\\)"):
        compiled().fit(X, Y[:19], verbose=0)


def test_empty_x():
    with pytest.raises(ValueError, match="empty"):
        compiled().fit(np.empty((0, 5), np.float32), np.empty(0), verbose=0)
    with pytest.raises(ValueError, match="empty"):
        compiled().predict(np.empty((0, 5), np.float32))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_in_x(value):
    x = X.copy()
    x[3, 2] = value
    with pytest.raises(ValueError, match="NaN or Inf"):
        compiled().fit(x, Y, verbose=0)


def test_string_and_object_x():
    with pytest.raises(TypeError, match="numeric"):
        compiled().fit(np.array([["a"] * 5] * 20), Y, verbose=0)
    with pytest.raises(TypeError, match="numeric"):
        compiled().fit(X.astype(object), Y, verbose=0)


def test_labels_out_of_range_in_fit():
    with pytest.raises(ValueError, match="label 3 is out of range for a model with 3 outputs"):
        compiled().fit(X, np.arange(20) % 4, verbose=0)


def test_onehot_width_mismatch():
    model = keras.Sequential([layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"y has shape \(20, 4\) but the model outputs 3"):
        model.fit(X, np.eye(4)[np.arange(20) % 4], verbose=0)


@pytest.mark.parametrize("bs,exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError), ("32", TypeError)])
def test_bad_batch_size(bs, exc):
    with pytest.raises(exc, match="batch_size"):
        compiled().fit(X, Y, batch_size=bs, verbose=0)


def test_predict_before_build_without_input_shape():
    model = keras.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="no input shape"):
        model.build()
    with pytest.raises(ValueError, match="not built"):
        model.get_weights()


def test_bad_validation_split():
    with pytest.raises(ValueError, match="validation_split"):
        compiled().fit(X, Y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="leaves no samples"):
        compiled().fit(X[:1], Y[:1], validation_split=0.1, verbose=0)


def test_castable_inputs_are_cast_like_keras():
    """ints, bools and float16 are cast to float32 as Keras does; float labels that are integers pass."""
    model = compiled()
    model.fit((X * 10).astype(np.int32), Y.astype(np.float64), epochs=1, verbose=0)
    model.fit(X.astype(np.float16), Y, epochs=1, verbose=0)
    assert model.predict(np.ones((2, 5), bool), verbose=0).shape == (2, 3)


# ------------------------------------------------------------------ the rest of the reliability list
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_in_y(value):
    model = keras.Sequential([layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((20, 2), np.float32)
    y[3, 1] = value
    with pytest.raises(ValueError, match="y contains NaN or Inf"):
        model.fit(X, y, verbose=0)


def test_negative_labels():
    with pytest.raises(ValueError, match="label -1 is out of range"):
        compiled().fit(X, np.where(Y == 0, -1, Y), verbose=0)


@pytest.mark.parametrize("layout", ["strided", "negative-stride", "fortran", "read-only"])
def test_odd_memory_layouts_give_the_same_results(layout):
    model = compiled()
    model.fit(X, Y, epochs=1, verbose=0)
    big = np.random.default_rng(1).standard_normal((40, 10)).astype(np.float32)
    base = np.ascontiguousarray(big[::2, ::2])
    view = {"strided": big[::2, ::2], "negative-stride": np.ascontiguousarray(base[::-1])[::-1],
            "fortran": np.asfortranarray(base), "read-only": base.copy()}[layout]
    if layout == "read-only":
        view.setflags(write=False)
    assert not view.flags.c_contiguous or layout == "read-only"
    np.testing.assert_array_equal(model.predict(view, verbose=0), model.predict(base, verbose=0))
    model.fit(view, Y, epochs=1, verbose=0)  # trains without complaint


def test_set_weights_count_and_shapes():
    model = compiled()
    model.build((None, 5))
    weights = model.get_weights()
    with pytest.raises(ValueError, match="has 4 weight arrays, got 3"):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match=r"weight 0 has shape \(5, 8\), got \(8, 5\)"):
        model.set_weights([weights[0].T] + weights[1:])


def test_train_on_batch_mismatch():
    with pytest.raises(ValueError, match="different numbers of samples"):
        compiled().train_on_batch(X, Y[:5])


def test_wrong_out_buffers():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"out: expected shape \(3, 3\)"):
        kernels.matmul(a, a.T, out=np.empty((3, 4), np.float32))
    with pytest.raises(TypeError, match="out: expected dtype float32"):
        kernels.matmul(a, a.T, out=np.empty((3, 3), np.float64))
    with pytest.raises(TypeError, match="out: expected a numpy array"):
        kernels.matmul(a, a.T, out=[[0.0] * 3] * 3)
    with pytest.raises(ValueError, match="read-only"):
        out = np.empty((3, 3), np.float32)
        out.setflags(write=False)
        kernels.matmul(a, a.T, out=out)


@pytest.mark.slow
def test_more_than_2_31_elements_along_k():
    """Index arithmetic is 64-bit: a reduction over 2^31 + 512 ones (zero-stride views, no memory)
    gives what float32 gives summing them in this CPU's kc blocks (each block's sum is exact; the
    running total rounds once it passes 2^24), and would be far off if an index wrapped."""
    k = 2**31 + 512
    a = np.broadcast_to(np.ones(1, np.float32), (1, k))
    b = np.broadcast_to(np.ones((1, 1), np.float32), (k, 1))
    kc = keras.cpu_info()["gemm"]["kc"]
    blocks = np.full(k // kc + (k % kc > 0), kc, np.float32)
    blocks[-1] = k - kc * (len(blocks) - 1)
    want = np.cumsum(blocks, dtype=np.float32)[-1]  # sequential float32 sums, in order
    assert kernels.matmul(a, b)[0, 0] == want
    assert abs(float(want) / k - 1) < 0.25  # and near the exact sum
